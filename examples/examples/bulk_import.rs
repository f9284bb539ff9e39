//! Bulk creation with bounded concurrency and an indicatif progress bar: keep a fixed number of
//! creations in flight, so the embedded writer fills its group commits (or a server its queue)
//! without holding every message in memory at once.
//!
//! `cargo run -p chat-examples --example bulk_import -- [COUNT] [DATABASE_URL]`
//! (defaults: 20000 messages into `sqlite://chat-data/bulk-import.db`).

use std::sync::Arc;
use std::time::Instant;

use chat_core::{ChatApi, ChatService, Config};
use futures::stream::{self, StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};

/// Creations in flight at once.
const IN_FLIGHT: usize = 64;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().map_or(Ok(20_000), |s| s.parse())?;
    let url = args
        .next()
        .unwrap_or_else(|| "sqlite://chat-data/bulk-import.db".to_owned());
    let service = ChatService::open(&Config::with_database_url(url)).await?;
    let api: Arc<dyn ChatApi> = Arc::new(service.clone());

    let app = api.create_application("bulk import").await?;
    let chat = api.create_chat(&app.token).await?.number;
    let bar = ProgressBar::new(count).with_style(ProgressStyle::with_template(
        "[{bar:40}] {human_pos}/{human_len} {per_sec} eta {eta}",
    )?);
    let started = Instant::now();
    stream::iter(0..count)
        .map(|i| {
            let (api, token, bar) = (Arc::clone(&api), app.token.clone(), bar.clone());
            async move {
                api.create_message(&token, chat, &format!("message {i}"))
                    .await?;
                bar.inc(1);
                Ok::<_, chat_core::Error>(())
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<()>()
        .await?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{count} messages in {secs:.2} s ({:.0}/s)",
        count as f64 / secs
    );

    let stored = api.get_chat(&app.token, chat).await?.messages_count;
    println!("chat {chat} of {} now has {stored} messages", app.token);
    service.close().await;
    Ok(())
}
