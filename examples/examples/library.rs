//! The README's "Using chat-core" program, kept here so the build checks it (a test
//! compares the two).

use chat_core::{ChatApi, ChatService, Config, HttpClient, SearchRequest};

/// One story, written once against the trait, run on both implementations below.
async fn story(chat: &impl ChatApi) -> Result<(), chat_core::Error> {
    let app = chat.create_application("support").await?;
    let room = chat.create_chat(&app.token).await?;
    chat.create_message(&app.token, room.number, "Wonderful weather")
        .await?;
    let hits = chat
        .search_messages(&app.token, room.number, &SearchRequest::new("onderf"))
        .await?
        .items;
    println!("{} found", hits.len());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), chat_core::Error> {
    // Directly on an SQLite file (created when missing).
    let chat = ChatService::open(&Config::with_database_url("sqlite://chat-data/chat.db")).await?;
    story(&chat).await?;
    chat.close().await; // commits everything accepted, then closes

    // The same story over HTTP, against a running chat-server (CHAT_SERVER, else port 3000),
    // whatever folder it runs in: the story makes its own application there.
    let url = std::env::var("CHAT_SERVER").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    match story(&HttpClient::new(&url)?).await {
        Ok(()) => println!("the same over HTTP at {url}"),
        Err(e) => eprintln!("{url}: {e}"), // the server's JSON error, as the same typed Error
    }
    Ok(())
}
