//! A child process for the multi-process and crash tests: opens an embedded database, creates
//! messages in one chat with a few concurrent tasks, and prints `NUMBER BODY` on stdout for each
//! message as soon as its creation is acknowledged.
//!
//! Usage: `chat-writer DATABASE_URL TOKEN CHAT COUNT PREFIX` (`CHAT_WORKER=0`: leave the
//! search backlog to other processes)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::Arc;

use chat_core::{ChatApi, ChatNumber, ChatService, Config, Token};
use futures::stream::{self, StreamExt};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, token, chat, count, prefix] = &args[..] else {
        eprintln!("usage: chat-writer DATABASE_URL TOKEN CHAT COUNT PREFIX");
        std::process::exit(2);
    };
    // CHAT_WORKER=0: this process leaves the search backlog to others (a crash test kills it
    // with records still waiting).
    let config = Config {
        worker: std::env::var("CHAT_WORKER").map_or(true, |v| v != "0"),
        ..Config::with_database_url(url)
    };
    let service = Arc::new(ChatService::open(&config).await.unwrap());
    let token = Token::parse(token).unwrap();
    let chat = ChatNumber::parse(chat).unwrap();
    let count: usize = count.parse().unwrap();
    let stdout = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    stream::iter(0..count)
        .map(|i| {
            let (service, token, stdout) =
                (Arc::clone(&service), token.clone(), Arc::clone(&stdout));
            let body = format!("{prefix}-{i}");
            async move {
                let m = service.create_message(&token, chat, &body).await.unwrap();
                let mut out = stdout.lock().unwrap();
                writeln!(out, "{} {}", m.number, m.body).unwrap();
                out.flush().unwrap();
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    service.close().await;
}
