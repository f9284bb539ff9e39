//! The embedded profile in a dozen lines: open an SQLite file, create an application, a chat
//! and a few messages, search them, and close the service (which commits pending writes).
//!
//! `cargo run -p chat-examples --example quick_start [DATABASE_URL]`
//! (default `sqlite://chat-data/quick-start.db`).

use chat_core::{ChatApi, ChatService, Config, SearchRequest};

#[tokio::main]
async fn main() -> Result<(), chat_core::Error> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite://chat-data/quick-start.db".to_owned());
    let chat = ChatService::open(&Config::with_database_url(url)).await?;

    let app = chat.create_application("quick start").await?;
    let room = chat.create_chat(&app.token).await?;
    for body in ["Hello!", "What wonderful weather", "See you tomorrow"] {
        let m = chat.create_message(&app.token, room.number, body).await?;
        println!("chat {} message {}: {}", room.number, m.number, m.body);
    }

    // Search matches any part of a word, in this chat only.
    let hits = chat
        .search_messages(&app.token, room.number, &SearchRequest::new("onderf"))
        .await?
        .items;
    println!("search \"onderf\": {} hit(s)", hits.len());

    // Counts are exact on the embedded profile as soon as a creation returns.
    let room = chat.get_chat(&app.token, room.number).await?;
    println!(
        "application {} has chat {} with {} messages",
        app.token, room.number, room.messages_count
    );

    chat.close().await;
    Ok(())
}
