//! The README's "Using chat-core" program, kept here so the build checks it (a test
//! compares the two).

use chat_core::{ChatApi, ChatService, Config, HttpClient, SearchRequest};

#[tokio::main]
async fn main() -> Result<(), chat_core::Error> {
    // Directly on an SQLite file (created when missing).
    let chat = ChatService::open(&Config::with_database_url("sqlite://chat-data/chat.db")).await?;
    let app = chat.create_application("support").await?;
    let room = chat.create_chat(&app.token).await?;
    chat.create_message(&app.token, room.number, "Wonderful weather")
        .await?;
    let hits = chat
        .search_messages(&app.token, room.number, &SearchRequest::new("onderf"))
        .await?
        .items;
    println!("{} found", hits.len());
    chat.close().await; // commits everything accepted, then closes

    // The same trait over HTTP, against a running chat-server.
    let remote = HttpClient::new("http://127.0.0.1:3000")?;
    match remote.get_application(&app.token).await {
        Ok(a) => println!("{} over HTTP", a.name),
        Err(e) => eprintln!("{e}"), // the server's JSON error, as the same typed Error
    }
    Ok(())
}
