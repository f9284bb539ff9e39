//! The embedded profile's write ceiling: a raw SQLite insert loop on the product's own schema
//! (its migrations, applied by opening a `ChatService` once) and durability (WAL,
//! `synchronous=FULL`), with no service, queue or HTTP in the way. Each transaction does what
//! the writer's group commit does for a batch of messages of one chat: take the numbers
//! (`UPDATE chats … RETURNING`), insert the rows, insert their search-index entries, commit.
//!
//! ```text
//! cargo run --release -p chat-tests --bin sqlite-ceiling -- [--seconds 10] [--batch 64] [--body-size 70]
//! ```
//!
//! Prints one JSON line: `{"batch":64,"messages":…,"seconds":…,"per_second":…}`. Used by
//! `scripts/bench` as the ceiling of `chatctl bench --scenario create-message`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;
use std::time::{Duration, Instant};

use chat_core::{ChatApi, ChatService, Config};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, QueryBuilder, SqliteConnection};

const WORDS: [&str; 16] = [
    "the",
    "meeting",
    "moved",
    "tomorrow",
    "morning",
    "please",
    "bring",
    "laptop",
    "silver",
    "ocean",
    "breeze",
    "coffee",
    "wonderful",
    "weather",
    "release",
    "station",
];

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a whole number"))
        })
}

fn body(i: u64, size: usize) -> String {
    let mut s = String::with_capacity(size + 16);
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while s.len() < size {
        if !s.is_empty() {
            s.push(' ');
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push_str(WORDS[(x % WORDS.len() as u64) as usize]);
    }
    s.truncate(size);
    s
}

fn main() {
    let seconds = arg("--seconds", 10).clamp(1, 600);
    let batch = arg("--batch", 64).clamp(1, 1000);
    let size = arg("--body-size", 70).clamp(1, 16_000) as usize;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ceiling.db").display());
        // The schema comes from the product's migrations; one application with one chat.
        let service = ChatService::open(&Config::with_database_url(&url))
            .await
            .unwrap();
        let app = service.create_application("ceiling").await.unwrap();
        service.create_chat(&app.token).await.unwrap();
        service.close().await;

        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true);
        let mut db = SqliteConnection::connect_with(&options).await.unwrap();
        let chat_id: i64 = sqlx::query_scalar("SELECT id FROM chats")
            .fetch_one(&mut db)
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let mut written = 0u64;
        while Instant::now() < deadline {
            let now = chrono::Utc::now().timestamp_micros();
            let bodies: Vec<String> = (0..batch).map(|k| body(written + k, size)).collect();
            let mut tx = db.begin().await.unwrap();
            let last: i64 = sqlx::query_scalar(
                "UPDATE chats SET last_message_number = last_message_number + ?1, \
                 messages_count = messages_count + ?1, updated_at = ?2 WHERE id = ?3 \
                 RETURNING last_message_number",
            )
            .bind(batch as i64)
            .bind(now)
            .bind(chat_id)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            let first = last - batch as i64 + 1;
            let mut rows = QueryBuilder::new(
                "INSERT INTO messages (id, chat_id, number, body, created_at, updated_at) ",
            );
            rows.push_values(bodies.iter().enumerate(), |mut b, (k, text)| {
                let number = first + k as i64;
                b.push_bind((chat_id << 32) | number)
                    .push_bind(chat_id)
                    .push_bind(number)
                    .push_bind(text.as_str())
                    .push_bind(now)
                    .push_bind(now);
            });
            rows.build().execute(&mut *tx).await.unwrap();
            let mut index = QueryBuilder::new("INSERT INTO messages_fts (rowid, body) ");
            index.push_values(bodies.iter().enumerate(), |mut b, (k, text)| {
                b.push_bind((chat_id << 32) | (first + k as i64))
                    .push_bind(text.as_str());
            });
            index.build().execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
            written += batch;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let _ = db.close().await;
        println!(
            "{}",
            serde_json::json!({
                "batch": batch,
                "messages": written,
                "seconds": elapsed,
                "per_second": written as f64 / elapsed,
            })
        );
    });
}
