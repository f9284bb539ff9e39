//! An online backup taken while 16 writers create messages is consistent and holds every
//! message acknowledged before it started; chatctl refuses to overwrite a file.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chat_core::{ChatApi, ChatNumber, NoProgress};
use chat_tests::{Embedded, Harness};
use sqlx::{Connection, Row, SqliteConnection};

use crate::harness::Ctl;

const WRITERS: usize = 16;
const PER_WRITER: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_sixteen_writers_is_consistent_and_complete() {
    let source = Embedded::start().await;
    let token = source
        .service
        .create_application("busy")
        .await
        .unwrap()
        .token;
    let mut chats = Vec::new();
    for _ in 0..WRITERS {
        chats.push(source.service.create_chat(&token).await.unwrap().number);
    }
    let acked: Arc<Mutex<BTreeSet<(u32, u32)>>> = Arc::default();
    let mut writers = Vec::new();
    for (i, chat) in chats.iter().copied().enumerate() {
        let api = source.service.clone();
        let token = token.clone();
        let acked = Arc::clone(&acked);
        writers.push(tokio::spawn(async move {
            for k in 0..PER_WRITER {
                let m = api
                    .create_message(&token, chat, &format!("writer {i} message {k}"))
                    .await
                    .unwrap();
                acked.lock().unwrap().insert((chat.get(), m.number.get()));
            }
        }));
    }
    // Start the backup once the writers are well under way.
    while acked.lock().unwrap().len() < WRITERS * PER_WRITER / 4 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before: BTreeSet<(u32, u32)> = acked.lock().unwrap().clone();
    let copy = source.dir.path().join("backup.db");
    let done = source
        .service
        .backup(&copy, NoProgress::arc())
        .await
        .unwrap();
    assert!(done.bytes > 0);
    let during = acked.lock().unwrap().len();
    for w in writers {
        w.await.unwrap();
    }
    assert!(
        during < WRITERS * PER_WRITER,
        "the writers were still writing when the backup ended"
    );

    let mut db = SqliteConnection::connect(&format!("sqlite://{}?mode=ro", copy.display()))
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let wrong_chats: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM chats c WHERE messages_count != \
         (SELECT count(*) FROM messages m WHERE m.chat_id = c.id)",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(
        wrong_chats, 0,
        "messages_count equals the rows in every chat"
    );
    let wrong_apps: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM applications a WHERE chats_count != \
         (SELECT count(*) FROM chats c WHERE c.application_id = a.id)",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(wrong_apps, 0);
    let rows = sqlx::query(
        "SELECT c.number AS chat, m.number AS number FROM messages m JOIN chats c ON c.id = m.chat_id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let present: BTreeSet<(u32, u32)> = rows
        .iter()
        .map(|r| (r.get::<u32, _>("chat"), r.get::<u32, _>("number")))
        .collect();
    let missing: Vec<_> = before.difference(&present).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup but missing: {missing:?}"
    );
    assert!(present.len() >= before.len());
    db.close().await.unwrap();

    // Restoring the backup is opening it: a service on the copy reads and writes.
    let restored = chat_core::ChatService::open(&chat_core::Config::with_database_url(format!(
        "sqlite://{}",
        copy.display()
    )))
    .await
    .unwrap();
    let chat = restored
        .get_chat(&token, ChatNumber::new(1).unwrap())
        .await
        .unwrap();
    let next = restored
        .create_message(&token, chat.number, "after restore")
        .await
        .unwrap();
    assert_eq!(u64::from(next.number.get()), chat.messages_count + 1);
    restored.close().await;
    source.stop().await;
}

#[test]
fn chatctl_backup_writes_a_copy_and_never_overwrites() {
    let ctl = Ctl::direct();
    let token = ctl.new_app("kept");
    ctl.ok(&["chat", "create", &token]);
    let out = ctl.ok(&["backup", "copy.db"]);
    assert!(out.contains("copy.db"), "{out}");
    let (code, err) = ctl.fails(&["backup", "copy.db"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already exists"), "{err}");
    let copy = format!("sqlite://{}", ctl.dir.path().join("copy.db").display());
    let listed = ctl
        .bare()
        .args(["--database-url", &copy, "app", "list", "-o", "name"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(listed.stdout).unwrap().trim(), token);
}
