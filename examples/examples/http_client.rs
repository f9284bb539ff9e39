//! The same `ChatApi` over HTTP: talk to a running chat-server with `HttpClient`. Failures come
//! back as the server's typed errors, so `Error::NotFound` here is the same value a direct call
//! would return.
//!
//! `cargo run -p chat-examples --example http_client [URL]` (default: `$CHAT_SERVER`, else
//! `http://127.0.0.1:3000`). Start a server first: `cargo run -p chat-server`.

use chat_core::{ChatApi, Error, HttpClient, PageRequest, SearchRequest, Token};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("CHAT_SERVER").ok())
        .unwrap_or_else(|| "http://127.0.0.1:3000".to_owned());
    let api = HttpClient::new(&url)?;

    let app = match api.create_application("over http").await {
        Ok(app) => app,
        Err(e @ Error::Unavailable { .. }) => {
            eprintln!("{e}\nis chat-server running at {url}? try `cargo run -p chat-server`");
            std::process::exit(5);
        }
        Err(e) => return Err(e),
    };
    let chat = api.create_chat(&app.token).await?;
    api.create_message(&app.token, chat.number, "sent over HTTP")
        .await?;
    api.create_message(&app.token, chat.number, "and found by search")
        .await?;

    let page = api
        .list_messages(&app.token, chat.number, PageRequest::default())
        .await?;
    for m in &page.items {
        println!("{} #{}: {}", chat.number, m.number, m.body);
    }
    let hits = api
        .search_messages(&app.token, chat.number, &SearchRequest::new("found"))
        .await?
        .items;
    println!("search \"found\": {} hit(s)", hits.len());

    // An unknown token is a typed 404, not a string to parse.
    match api.get_application(&Token::generate()).await {
        Err(Error::NotFound(missing)) => println!("as expected: {missing}"),
        other => println!("unexpected: {other:?}"),
    }
    Ok(())
}
