//! Export and restore benchmark: 1,000,000 generated messages exported from the embedded
//! profile and restored into the embedded profile and into MariaDB + Redis + OpenSearch, each
//! beside a raw ceiling measured in the same run.
//!
//! ```text
//! eval "$(tests/services/services.sh env)"   # MariaDB, Redis and OpenSearch running
//! cargo run --release -p chat-tests --features distributed --bin transferbench -- [--messages 1000000] [--embedded-only]
//! ```
//!
//! The data: `--messages` (1,000 to 10,000,000) generated messages of ~70 characters over 10
//! applications of 100 chats each, every chat with a few deleted numbers above its last
//! message. The run, in order:
//!
//! 1. the stream is generated in memory (NDJSON, with its end line and checksum);
//! 2. **restore into the embedded profile** (a fresh file, fsync on), timed until the call
//!    returns: every row committed, every message in the FTS5 index;
//! 3. **export from the embedded profile** into memory, checked identical to the stream after
//!    the header;
//! 4. **restore into the distributed profile** (a fresh database, key prefix and index),
//!    timed until the call returns: rows committed, counters set, every document indexed and
//!    the index refreshed (checked with `_count`);
//! 5. the ceilings, on the same rows: a bare SQLite insert loop (the product's schema, one
//!    transaction, prepared 500-row inserts, no search index), then FTS5 filled from those rows
//!    in one statement (with the 64 MiB buffer a restore uses); a bare read of every row (the export's ceiling); a MariaDB multi-row
//!    insert (1,000 rows per statement, one transaction); OpenSearch `_bulk` of the documents.
//!
//! Prints a table of the figures and their ratios to the ceilings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat_core::testing::DistributedOptions;
use chat_core::testing::Doc;
use chat_core::transfer::{
    read_records, write_records, ApplicationRecord, ChatRecord, ExportOptions, Header,
    MessageRecord, Record, RecordStream, RestoreOptions, Validator, FORMAT, VERSION,
};
use chat_core::{ChatNumber, ChatService, Config, MessageNumber, Progress, Token};
use chat_tests::bench::{arg, Gen};
use chat_tests::{Harness, Searching};
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use sqlx::{Connection, MySql, QueryBuilder, Sqlite, SqliteConnection};

const WORDS: [&str; 24] = [
    "the",
    "meeting",
    "was",
    "moved",
    "to",
    "tomorrow",
    "morning",
    "please",
    "bring",
    "your",
    "laptop",
    "silver",
    "ocean",
    "breeze",
    "coffee",
    "order",
    "shipped",
    "customer",
    "refund",
    "wonderful",
    "weather",
    "release",
    "station",
    "information",
];

const APPS: u32 = 10;
const CHATS_PER_APP: u32 = 100;
/// Numbers handed out and deleted above each chat's last message.
const DELETED_ABOVE: u32 = 3;

fn at(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros).single().expect("a timestamp")
}

/// The generated data as records (without the end line).
fn generate(messages: u64) -> Vec<Record> {
    let chats = u64::from(APPS * CHATS_PER_APP);
    let base = 1_764_000_000_000_000i64;
    let mut gen = Gen(0x2545_F491_4F6C_DD1D);
    let mut out = Vec::with_capacity(messages as usize + 1 + chats as usize + APPS as usize);
    out.push(Record::Header(Header {
        format: FORMAT.to_owned(),
        version: VERSION,
        profile: "embedded".to_owned(),
        exported_at: at(base),
        scope: None,
        applications: u64::from(APPS),
        chats,
        messages,
    }));
    let mut clock = base;
    let mut tick = || {
        clock += 1_000;
        at(clock)
    };
    let mut left = messages;
    for a in 0..APPS {
        let token = Token::parse(&format!("{:032x}", 0xbe_0000 + u64::from(a))).unwrap();
        out.push(Record::Application(ApplicationRecord {
            token: token.clone(),
            name: format!("bench application {a}"),
            chats_count: u64::from(CHATS_PER_APP),
            last_chat_number: CHATS_PER_APP + 1,
            created_at: tick(),
            updated_at: tick(),
        }));
        for c in 1..=CHATS_PER_APP {
            let chats_left = u64::from((APPS - a - 1) * CHATS_PER_APP + (CHATS_PER_APP - c + 1));
            let n = (left / chats_left) as u32;
            left -= u64::from(n);
            let number = ChatNumber::new(c).unwrap();
            out.push(Record::Chat(ChatRecord {
                application: token.clone(),
                number,
                messages_count: u64::from(n),
                last_message_number: n + DELETED_ABOVE,
                created_at: tick(),
                updated_at: tick(),
            }));
            for m in 1..=n {
                let created = tick();
                out.push(Record::Message(MessageRecord {
                    application: token.clone(),
                    chat: number,
                    number: MessageNumber::new(m).unwrap(),
                    body: gen.sentence(&WORDS),
                    created_at: created,
                    updated_at: created,
                }));
            }
        }
    }
    out
}

/// The records as NDJSON bytes, with their end line.
async fn to_bytes(records: Vec<Record>) -> Vec<u8> {
    let mut validator = Validator::new();
    for r in &records {
        validator.check(r).unwrap();
    }
    let end = validator.end_record();
    let stream: RecordStream = Box::pin(futures::stream::iter(
        records.into_iter().chain([end]).map(Ok),
    ));
    let mut out = Vec::with_capacity(256 << 20);
    write_records(stream, &mut out).await.unwrap();
    out
}

fn stream_of(bytes: &[u8]) -> RecordStream {
    read_records(std::io::Cursor::new(bytes.to_vec()))
}

/// Remembers when each phase of a job started.
#[derive(Default)]
struct Phases(Mutex<Vec<(String, Instant)>>);

impl Progress for Phases {
    fn start(&self, phase: &str, _total: Option<u64>) {
        self.0
            .lock()
            .unwrap()
            .push((phase.to_owned(), Instant::now()));
    }
    fn advance(&self, _n: u64) {}
}

impl Phases {
    fn started(&self, phase: &str) -> Option<Instant> {
        let phases = self.0.lock().unwrap();
        phases.iter().find(|(p, _)| p == phase).map(|(_, t)| *t)
    }
}

/// One line of the report.
struct Line {
    what: String,
    seconds: f64,
    rate: f64,
    ceiling: Option<(String, f64)>,
}

fn line(what: &str, n: u64, d: Duration, ceiling: Option<(&str, f64)>) -> Line {
    let seconds = d.as_secs_f64();
    let l = Line {
        what: what.to_owned(),
        seconds,
        rate: n as f64 / seconds.max(1e-9),
        ceiling: ceiling.map(|(w, r)| (w.to_owned(), r)),
    };
    println!("   {}: {:.2} s, {:.0} msg/s", l.what, l.seconds, l.rate);
    l
}

fn thousands(v: f64) -> String {
    let s = format!("{:.0}", v);
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The message rows of the records: (chat index from 1, number, body, micros).
fn rows(records: &[Record]) -> Vec<(i64, u32, &str, i64)> {
    let mut chat = 0i64;
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        match r {
            Record::Chat(_) => chat += 1,
            Record::Message(m) => out.push((
                chat,
                m.number.get(),
                m.body.as_str(),
                m.created_at.timestamp_micros(),
            )),
            _ => {}
        }
    }
    out
}

/// The bare SQLite insert loop: the product's schema, one transaction, 500-row inserts; then
/// FTS5 filled from the rows in one statement. (rows/s, FTS5 docs/s, bare read rows/s)
async fn sqlite_ceiling(rows: &[(i64, u32, &str, i64)]) -> (Duration, Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ceiling.db");
    let url = format!("sqlite://{}", path.display());
    ChatService::open(&Config::with_database_url(&url))
        .await
        .unwrap()
        .close()
        .await;
    let mut conn = SqliteConnection::connect(&format!("{url}?mode=rw"))
        .await
        .unwrap();
    for pragma in [
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        "PRAGMA cache_size=-32000",
    ] {
        sqlx::query(pragma).execute(&mut conn).await.unwrap();
    }
    let started = Instant::now();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO applications (id, token, name, created_at, updated_at) \
         VALUES (1, '0123456789abcdef0123456789abcdef', 'ceiling', 0, 0)",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let chats = rows.last().map_or(0, |r| r.0);
    for c in 1..=chats {
        sqlx::query(
            "INSERT INTO chats (id, application_id, number, created_at, updated_at) \
             VALUES (?, 1, ?, 0, 0)",
        )
        .bind(c)
        .bind(c)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    for chunk in rows.chunks(500) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO messages (id, chat_id, number, body, created_at, updated_at) ",
        );
        q.push_values(chunk, |mut b, (chat, number, body, micros)| {
            b.push_bind((chat << 32) | i64::from(*number))
                .push_bind(*chat)
                .push_bind(*number)
                .push_bind(*body)
                .push_bind(*micros)
                .push_bind(*micros);
        });
        q.build().persistent(true).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    let inserted = started.elapsed();
    let started = Instant::now();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("INSERT INTO messages_fts (messages_fts, rank) VALUES ('hashsize', 67108864)")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("INSERT INTO messages_fts (rowid, body) SELECT id, body FROM messages")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let indexed = started.elapsed();
    let started = Instant::now();
    let mut n = 0u64;
    let mut bytes = 0usize;
    {
        let mut all = sqlx::query_as::<_, (i64, String, i64, i64)>(
            "SELECT number, body, created_at, updated_at FROM messages ORDER BY id",
        )
        .fetch(&mut conn);
        while let Some(row) = all.next().await {
            let row = row.unwrap();
            n += 1;
            bytes += row.1.len();
        }
    }
    assert_eq!(n as usize, rows.len(), "{bytes}");
    let read = started.elapsed();
    conn.close().await.unwrap();
    (inserted, indexed, read)
}

/// The bare MariaDB multi-row insert of the same rows into a fresh database of the product's
/// schema, one transaction; then `_bulk` of the documents into OpenSearch. (insert, bulk)
async fn distributed_ceiling(rows: &[(i64, u32, &str, i64)]) -> (Duration, Duration) {
    let target = Searching::start_with(DistributedOptions {
        background_worker: false,
        ..DistributedOptions::default()
    })
    .await;
    let mut db = target.0.mysql().await;
    let started = Instant::now();
    let mut tx = db.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO applications (id, token, name, created_at, updated_at) \
         VALUES (1, '0123456789abcdef0123456789abcdef', 'ceiling', NOW(6), NOW(6))",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let chats = rows.last().map_or(0, |r| r.0);
    let mut q = QueryBuilder::<MySql>::new(
        "INSERT INTO chats (id, application_id, number, created_at, updated_at) ",
    );
    q.push_values(1..=chats, |mut b, c| {
        b.push_bind(c).push_bind(1).push_bind(c);
        b.push("NOW(6)").push("NOW(6)");
    });
    q.build().execute(&mut *tx).await.unwrap();
    for chunk in rows.chunks(1000) {
        let mut q = QueryBuilder::<MySql>::new(
            "INSERT INTO messages (chat_id, number, body, created_at, updated_at) ",
        );
        q.push_values(chunk, |mut b, (chat, number, body, micros)| {
            b.push_bind(*chat)
                .push_bind(*number)
                .push_bind(*body)
                .push_bind(at(*micros))
                .push_bind(at(*micros));
        });
        q.build().execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    let inserted = started.elapsed();
    let _ = db.close().await;

    // `_bulk` as raw NDJSON over HTTP, 2,000 documents per request, 3 in flight, into the
    // target's index (created by indexing one document through the product first).
    let engine = target.engine().clone();
    let first = rows.first().expect("rows");
    engine
        .index(
            &[Doc {
                app: 1,
                chat: first.0 as u32,
                number: first.1,
                body: first.2.to_owned(),
                created_at: first.3,
                updated_at: first.3,
            }],
            None,
        )
        .await
        .unwrap();
    let url = format!("{}/{}/_bulk", chat_tests::engine_url(), engine.alias());
    let http = reqwest::Client::new();
    let started = Instant::now();
    let requests = futures::stream::iter(rows.chunks(2000).map(|chunk| {
        let mut body = Vec::with_capacity(chunk.len() * 256);
        for (chat, number, text, micros) in chunk {
            let action = serde_json::json!({"index": {"_id": format!("1-{chat}-{number}"),
                "routing": format!("1-{chat}")}});
            body.extend_from_slice(action.to_string().as_bytes());
            body.push(b'\n');
            let doc = serde_json::json!({"app": 1, "chat": chat, "number": number,
                "body": text, "created_at": micros, "updated_at": micros});
            body.extend_from_slice(doc.to_string().as_bytes());
            body.push(b'\n');
        }
        let request = http
            .post(&url)
            .header("content-type", "application/x-ndjson")
            .body(body);
        async move {
            let answer: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            assert_eq!(answer["errors"], false, "{answer}");
        }
    }));
    requests.buffer_unordered(3).collect::<Vec<()>>().await;
    engine.refresh(None).await.unwrap();
    let bulk = started.elapsed();
    assert_eq!(target.indexed().await, rows.len() as u64);
    target.stop().await;
    (inserted, bulk)
}

/// Restores the NDJSON `stream` (of `messages` messages) into `service`: when it started, how
/// long it took, and its phases.
async fn restore_timed(
    service: &ChatService,
    stream: &[u8],
    messages: u64,
) -> (Instant, Duration, Arc<Phases>) {
    let phases = Arc::new(Phases::default());
    let started = Instant::now();
    let summary = service
        .restore(
            stream_of(stream),
            &RestoreOptions::default(),
            phases.clone(),
        )
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(summary.messages, messages);
    (started, took, phases)
}

fn main() {
    let messages = arg("--messages", 1_000_000).clamp(1_000, 10_000_000);
    let embedded_only = std::env::args().any(|a| a == "--embedded-only");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(messages, embedded_only));
}

async fn run(messages: u64, embedded_only: bool) {
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("== generating {messages} messages");
    let records = generate(messages);
    let rows_of = rows(&records);
    let source = to_bytes(records.clone()).await;
    println!("   {} MB of NDJSON", source.len() >> 20);
    let mut report = Vec::new();

    println!("== raw SQLite: insert loop, FTS5 fill, read");
    let (sqlite_insert, fts_fill, sqlite_read) = sqlite_ceiling(&rows_of).await;
    let ceiling_insert = messages as f64 / sqlite_insert.as_secs_f64();
    let ceiling_indexed = messages as f64 / (sqlite_insert + fts_fill).as_secs_f64();
    let ceiling_read = messages as f64 / sqlite_read.as_secs_f64();
    report.push(line(
        "raw SQLite insert loop (rows only)",
        messages,
        sqlite_insert,
        None,
    ));
    report.push(line(
        "raw SQLite FTS5 fill (index only)",
        messages,
        fts_fill,
        None,
    ));
    report.push(line(
        "raw SQLite read of every row",
        messages,
        sqlite_read,
        None,
    ));

    println!("== restore into the embedded profile");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let embedded = ChatService::open(&Config::with_database_url(&url))
        .await
        .unwrap();
    let (started, restored, phases) = restore_timed(&embedded, &source, messages).await;
    if let Some(committed) = phases.started("indexing") {
        report.push(line(
            "restore into embedded, rows committed",
            messages,
            committed - started,
            Some(("raw SQLite insert loop", ceiling_insert)),
        ));
    }
    report.push(line(
        "restore into embedded, every message indexed",
        messages,
        restored,
        Some(("raw SQLite insert loop + FTS5 fill", ceiling_indexed)),
    ));

    println!("== export from the embedded profile");
    let started = Instant::now();
    let mut exported = Vec::with_capacity(source.len() + 4096);
    let n = write_records(
        embedded.export(&ExportOptions::default()).await.unwrap(),
        &mut exported,
    )
    .await
    .unwrap();
    let export_time = started.elapsed();
    assert_eq!(n, records.len() as u64 + 1);
    let after_header = |b: &[u8]| b.iter().position(|&c| c == b'\n').map(|i| b[i..].to_vec());
    assert!(
        after_header(&exported) == after_header(&source),
        "the export differs from the restored stream"
    );
    report.push(line(
        "export from embedded",
        messages,
        export_time,
        Some(("raw SQLite read of every row", ceiling_read)),
    ));
    embedded.close().await;
    drop(dir);

    if !embedded_only {
        println!("== raw MariaDB multi-row insert, OpenSearch _bulk");
        let (mysql_insert, bulk) = distributed_ceiling(&rows_of).await;
        let ceiling_mysql = messages as f64 / mysql_insert.as_secs_f64();
        report.push(line(
            "raw MariaDB multi-row insert",
            messages,
            mysql_insert,
            None,
        ));
        report.push(line("raw OpenSearch _bulk", messages, bulk, None));

        println!("== restore into the distributed profile");
        let target = Searching::start_with(DistributedOptions {
            background_worker: false,
            ..DistributedOptions::default()
        })
        .await;
        let (_, restored, _) = restore_timed(&target.0.service, &exported, messages).await;
        assert_eq!(target.indexed().await, messages, "every message indexed");
        assert_eq!(target.stored().await, messages, "every message stored");
        report.push(line(
            "restore into distributed, every message stored and indexed",
            messages,
            restored,
            Some(("raw MariaDB multi-row insert", ceiling_mysql)),
        ));
        target.stop().await;
    }

    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\ntransfer benchmark: {messages} messages (~70 characters) in {} applications × {} chats; release build; load average before {} and after {}",
        APPS, CHATS_PER_APP,
        load_before.split(' ').take(3).collect::<Vec<_>>().join(" "),
        load_after.split(' ').take(3).collect::<Vec<_>>().join(" "));
    println!("\n| run | seconds | messages/s | ceiling in the same run | ratio |");
    println!("|---|---|---|---|---|");
    for l in &report {
        let (ceiling, ratio) = match &l.ceiling {
            Some((what, rate)) => (
                format!("{what}: {} msg/s", thousands(*rate)),
                format!("{:.1}%", 100.0 * l.rate / rate),
            ),
            None => (String::new(), String::new()),
        };
        println!(
            "| {} | {:.2} | {} | {} | {} |",
            l.what,
            l.seconds,
            thousands(l.rate),
            ceiling,
            ratio
        );
    }
}
