//! The queue's own guarantees, at the library level.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chat_core::{ChatNumber, MessageNumber, PageRequest};
use chat_tests::{Distributed, Harness};
use futures::stream::{self, StreamExt};
use sqlx::Row;

/// Every message row of the test's database: (chat number, message number) → count of rows.
async fn stored_messages(h: &Distributed) -> BTreeMap<(u32, u32), i64> {
    let mut db = h.mysql().await;
    let rows = sqlx::query(
        "SELECT c.number, m.number, COUNT(*) FROM messages m JOIN chats c ON c.id = m.chat_id \
         GROUP BY c.number, m.number",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    rows.iter()
        .map(|r| {
            let (c, m, n): (i32, i32, i64) = (r.get(0), r.get(1), r.get(2));
            ((c.unsigned_abs(), m.unsigned_abs()), n)
        })
        .collect()
}

async fn stored_count(h: &Distributed, chat: u32) -> i64 {
    let mut db = h.mysql().await;
    sqlx::query_scalar("SELECT messages_count FROM chats WHERE number = ?")
        .bind(chat)
        .fetch_one(&mut db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_chats_and_messages_never_touches_mysql() {
    let h = Distributed::start().await;
    let api = h.api();
    let app = api.create_application("hot path").await.unwrap();
    let before = h.backend.store().operations();
    let chats: Vec<ChatNumber> = stream::iter(0..50)
        .map(|_| {
            let api = Arc::clone(&api);
            let t = app.token.clone();
            async move { api.create_chat(&t).await.unwrap().number }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let created = stream::iter(0..2000)
        .map(|i| {
            let api = Arc::clone(&api);
            let t = app.token.clone();
            let c = chats[i % chats.len()];
            async move { api.create_message(&t, c, &format!("m{i}")).await.unwrap() }
        })
        .buffer_unordered(32)
        .count()
        .await;
    assert_eq!(created, 2000);
    assert_eq!(
        h.backend.store().operations(),
        before,
        "a create reached MySQL"
    );
    // Everything lands once the queue drains, with exact stored counts.
    h.settle().await;
    let stored = stored_messages(&h).await;
    assert_eq!(stored.len(), 2000);
    assert!(stored.values().all(|&n| n == 1));
    for c in &chats {
        assert_eq!(stored_count(&h, c.get()).await, 40);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_continue_after_the_database_when_redis_loses_everything() {
    let h = Distributed::start().await;
    let api = h.api();
    let app = api.create_application("flush").await.unwrap();
    for _ in 0..3 {
        api.create_chat(&app.token).await.unwrap();
    }
    let one = ChatNumber::new(1).unwrap();
    for i in 0..10 {
        api.create_message(&app.token, one, &format!("before {i}"))
            .await
            .unwrap();
    }
    h.settle().await;
    h.flush_redis().await;

    let chat = api.create_chat(&app.token).await.unwrap();
    assert_eq!(chat.number.get(), 4);
    let m = api.create_message(&app.token, one, "after").await.unwrap();
    assert_eq!(m.number.get(), 11);
    let m = api
        .create_message(&app.token, chat.number, "first of the new chat")
        .await
        .unwrap();
    assert_eq!(m.number.get(), 1);
    h.settle().await;
    let stored = stored_messages(&h).await;
    assert_eq!(stored.len(), 12);
    assert!(
        stored.values().all(|&n| n == 1),
        "a number was stored twice"
    );
    assert_eq!(stored_count(&h, 1).await, 11);
    assert_eq!(
        api.get_application(&app.token).await.unwrap().chats_count,
        4
    );
    h.stop().await;
}

/// Deleted numbers are never handed out again, even when Redis loses its counters and
/// tombstones after the worker applied the deletes: the database keeps each parent's highest
/// number, not only its rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_numbers_are_not_reused_when_redis_loses_everything() {
    let h = Distributed::start().await;
    let api = h.api();
    let app = api.create_application("deleted highest").await.unwrap();
    for _ in 0..3 {
        api.create_chat(&app.token).await.unwrap();
    }
    let one = ChatNumber::new(1).unwrap();
    for i in 0..10 {
        api.create_message(&app.token, one, &format!("before {i}"))
            .await
            .unwrap();
    }
    api.delete_message(&app.token, one, MessageNumber::new(10).unwrap())
        .await
        .unwrap();
    api.delete_chat(&app.token, ChatNumber::new(3).unwrap())
        .await
        .unwrap();
    h.settle().await;
    h.flush_redis().await;

    assert_eq!(api.create_chat(&app.token).await.unwrap().number.get(), 4);
    let m = api.create_message(&app.token, one, "after").await.unwrap();
    assert_eq!(m.number.get(), 11);
    let batch = api
        .create_messages(&app.token, one, &["a".to_owned(), "b".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        batch.iter().map(|m| m.number.get()).collect::<Vec<_>>(),
        [12, 13]
    );
    h.settle().await;
    assert_eq!(stored_count(&h, 1).await, 12);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_counter_is_seeded_past_the_numbers_still_queued() {
    let h = Distributed::start().await;
    let api = h.api();
    let app = api.create_application("seed").await.unwrap();
    let one = api.create_chat(&app.token).await.unwrap().number;
    for i in 0..5 {
        api.create_message(&app.token, one, &format!("persisted {i}"))
            .await
            .unwrap();
    }
    h.settle().await;
    for i in 0..5 {
        api.create_message(&app.token, one, &format!("queued {i}"))
            .await
            .unwrap();
    }
    // Only the counters are lost; the queue and the pending records survive.
    let mut conn = h.redis().await;
    let counters: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*c:*", h.prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!counters.is_empty());
    redis::cmd("DEL")
        .arg(&counters)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let m = api.create_message(&app.token, one, "next").await.unwrap();
    assert_eq!(m.number.get(), 11);
    assert_eq!(api.create_chat(&app.token).await.unwrap().number.get(), 2);
    h.settle().await;
    let stored = stored_messages(&h).await;
    assert_eq!(stored.len(), 11);
    assert!(stored.values().all(|&n| n == 1));
    h.stop().await;
}

/// A create delivered again after the delete that follows it (its first worker died, the
/// delete was applied meanwhile) is acknowledged without being persisted: the tombstone, not
/// the order of delivery, keeps it deleted. Same for a chat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_reclaimed_after_its_delete_stays_deleted() {
    use chat_core::{Error, MessageNumber, NoProgress};
    let h = Distributed::start().await;
    let api = h.api();
    let t = api.create_application("tombstones").await.unwrap().token;
    let one = api.create_chat(&t).await.unwrap().number;
    for i in 1..=3 {
        api.create_message(&t, one, &format!("m{i}")).await.unwrap();
    }
    h.settle().await;
    // A worker takes the create of message 4 and of chat 2, and dies.
    api.create_message(&t, one, "m4").await.unwrap();
    let two = api.create_chat(&t).await.unwrap().number;
    let doomed = h.backend.worker().with_consumer("doomed");
    assert_eq!(doomed.read_new(false).await.unwrap(), 2);
    drop(doomed);
    // Meanwhile they are deleted (and message 1, which is persisted), and the deletes applied.
    let n = |n: u32| MessageNumber::new(n).unwrap();
    api.delete_message(&t, one, n(4)).await.unwrap();
    api.delete_message(&t, one, n(1)).await.unwrap();
    api.delete_chat(&t, two).await.unwrap();
    let survivor = h.backend.worker().with_consumer("survivor");
    assert_eq!(survivor.run_once(false).await.unwrap().persisted, 3);
    // Then the creates are delivered again.
    assert_eq!(survivor.reclaim(Duration::ZERO).await.unwrap().persisted, 2);
    h.settle().await;
    let stored: Vec<(u32, u32)> = stored_messages(&h).await.into_keys().collect();
    assert_eq!(stored, [(1, 2), (1, 3)]);
    assert_eq!(stored_count(&h, 1).await, 2);
    let chats: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM chats")
        .fetch_one(&mut h.mysql().await)
        .await
        .unwrap();
    assert_eq!(chats, 1);
    assert!(matches!(
        api.get_message(&t, one, n(4)).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(api.get_chat(&t, one).await.unwrap().messages_count, 2);
    assert_eq!(api.get_application(&t).await.unwrap().chats_count, 1);
    let summary = api.recount(Some(&t), NoProgress::arc()).await.unwrap();
    assert_eq!(summary.corrected, 0, "{summary:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_of_a_dead_worker_are_reclaimed_and_persisted_once() {
    let h = Distributed::start().await;
    let api = h.api();
    let app = api.create_application("reclaim").await.unwrap();
    let c = api.create_chat(&app.token).await.unwrap().number;
    for i in 0..300 {
        api.create_message(&app.token, c, &format!("m{i}"))
            .await
            .unwrap();
    }
    // A worker reads a batch and dies before acknowledging it.
    let doomed = h.backend.worker().with_consumer("doomed");
    assert_eq!(doomed.read_new(false).await.unwrap(), 301);
    drop(doomed);
    // Another worker sees nothing new; the entries are pending with the dead consumer.
    let survivor = h.backend.worker().with_consumer("survivor");
    assert_eq!(survivor.run_once(false).await.unwrap().persisted, 0);
    let status = h.backend.queue_status().await.unwrap();
    assert_eq!((status.depth, status.pending, status.dead), (301, 301, 0));
    assert!(status.oldest_age_ms.is_some());
    // Not idle long enough yet: nothing is taken over.
    let early = survivor.reclaim(Duration::from_secs(3600)).await.unwrap();
    assert_eq!(early.persisted, 0);
    let round = survivor.reclaim(Duration::ZERO).await.unwrap();
    assert_eq!(round.persisted, 301);
    assert_eq!(survivor.pending_count().await.unwrap(), 0);

    // The dead worker had in fact committed part of it: the same jobs delivered again change
    // nothing.
    let app_id: i64 = {
        let mut db = h.mysql().await;
        sqlx::query_scalar("SELECT id FROM applications")
            .fetch_one(&mut db)
            .await
            .unwrap()
    };
    let mut conn = h.redis().await;
    for n in 1..=20 {
        let job = format!(r#"{{"k":"m","a":"{app_id}","c":1,"n":{n},"b":"dup","t":"1","u":"1"}}"#);
        redis::cmd("XADD")
            .arg(h.backend.queue_key(app_id, 1))
            .arg("*")
            .arg("j")
            .arg(job)
            .query_async::<String>(&mut conn)
            .await
            .unwrap();
    }
    h.settle().await;
    let stored = stored_messages(&h).await;
    assert_eq!(stored.len(), 300);
    assert!(
        stored.values().all(|&n| n == 1),
        "a message was stored twice"
    );
    assert_eq!(stored_count(&h, 1).await, 300);
    let page = api
        .list_messages(&app.token, c, PageRequest::first(5).unwrap())
        .await
        .unwrap();
    assert_eq!(
        page.items[0].body, "m0",
        "a redelivered create overwrote the row"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_worker_persists_without_being_asked() {
    let h = Distributed::start_with(chat_core::testing::DistributedOptions {
        worker: chat_core::testing::WorkerOptions {
            block: Duration::from_millis(100),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let api = h.api();
    let app = api.create_application("background").await.unwrap();
    let c = api.create_chat(&app.token).await.unwrap().number;
    for i in 0..100 {
        api.create_message(&app.token, c, &format!("m{i}"))
            .await
            .unwrap();
    }
    // A bounded wait on the stored rows themselves: the worker runs on its own schedule.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stored_messages(&h).await.len() < 100 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the background worker did not persist 100 messages within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored_count(&h, 1).await, 100);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_recount_heals_drifted_counts_on_its_own() {
    let h = Distributed::start_with(chat_core::testing::DistributedOptions {
        worker: chat_core::testing::WorkerOptions {
            block: Duration::from_millis(100),
            ..Default::default()
        },
        recount_interval: Some(Duration::from_millis(500)),
        ..Default::default()
    })
    .await;
    let api = h.api();
    let app = api.create_application("drift").await.unwrap();
    let c = api.create_chat(&app.token).await.unwrap().number;
    for i in 0..5 {
        api.create_message(&app.token, c, &format!("m{i}"))
            .await
            .unwrap();
    }
    h.backend.worker().drain().await.unwrap();
    // Drift, as a bug or a hand edit would leave it.
    let mut db = h.mysql().await;
    sqlx::query("UPDATE chats SET messages_count = 42")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("UPDATE applications SET chats_count = 9")
        .execute(&mut db)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let chats: i64 = sqlx::query_scalar("SELECT chats_count FROM applications")
            .fetch_one(&mut db)
            .await
            .unwrap();
        if stored_count(&h, 1).await == 5 && chats == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the periodic recount did not heal the counts within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.stop().await;
}

#[tokio::test]
async fn a_mysql_url_without_a_redis_url_is_a_clear_error() {
    let err = chat_core::ChatService::open(&chat_core::Config::with_database_url(
        "mysql://chat:chat@127.0.0.1:1/chat",
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(&err, chat_core::Error::BadRequest(m) if m.contains("CHAT_REDIS_URL")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_failing_goes_to_the_dead_letter_stream_with_its_error() {
    let h = Distributed::start().await;
    let api = h.api();
    let app = api.create_application("poison").await.unwrap();
    let c = api.create_chat(&app.token).await.unwrap().number;
    api.create_message(&app.token, c, "fine").await.unwrap();
    // A message for a chat that was never created: no row to attach it to, ever.
    let mut conn = h.redis().await;
    redis::cmd("XADD")
        .arg(h.backend.queue_key(999_999, 7))
        .arg("*")
        .arg("j")
        .arg(r#"{"k":"m","a":"999999","c":7,"n":1,"b":"orphan","t":"1","u":"1"}"#)
        .query_async::<String>(&mut conn)
        .await
        .unwrap();
    let round = h.backend.worker().drain().await.unwrap();
    assert_eq!((round.persisted, round.dead), (2, 1), "{round:?}");
    let dead = dead_entries(&h.backend, &mut conn).await;
    assert_eq!(dead.len(), 1);
    let fields = &dead[0].1;
    assert!(fields["j"].contains("orphan"), "{fields:?}");
    assert!(fields["error"].contains("has no row"), "{fields:?}");
    let status = h.backend.queue_status().await.unwrap();
    assert_eq!((status.depth, status.pending, status.dead), (0, 0, 1));
    assert_eq!(status.oldest_age_ms, None);
    assert_eq!(stored_messages(&h).await.len(), 1);

    // Retried while the cause remains, it fails again and goes back to the dead letters.
    assert_eq!(api.retry_dead().await.unwrap().retried, 1);
    let status = h.backend.queue_status().await.unwrap();
    assert_eq!((status.depth, status.dead), (1, 0));
    assert_eq!(h.backend.worker().drain().await.unwrap().dead, 1);
    // Once the operator fixes the cause (here: the missing chat), a retry persists it.
    let mut db = h.mysql().await;
    sqlx::query(
        "INSERT INTO applications (id, token, name, created_at, updated_at) \
         VALUES (999999, 'feedfeedfeedfeedfeedfeedfeedfeed', 'restored', NOW(6), NOW(6))",
    )
    .execute(&mut db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO chats (application_id, number, created_at, updated_at) \
         VALUES (999999, 7, NOW(6), NOW(6))",
    )
    .execute(&mut db)
    .await
    .unwrap();
    assert_eq!(api.retry_dead().await.unwrap().retried, 1);
    let round = h.backend.worker().drain().await.unwrap();
    assert_eq!((round.persisted, round.dead), (1, 0), "{round:?}");
    assert_eq!(h.backend.queue_status().await.unwrap().dead, 0);
    assert_eq!(api.retry_dead().await.unwrap().retried, 0);
    let orphan: String = sqlx::query_scalar(
        "SELECT m.body FROM messages m JOIN chats c ON c.id = m.chat_id \
         WHERE c.application_id = 999999",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(orphan, "orphan");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_and_redis_never_collide() {
    let h = Distributed::start().await;
    let config = chat_core::Config {
        redis_url: Some(h.redis_url.clone()),
        ..chat_core::Config::with_database_url(h.database_url.clone())
    };
    let other = chat_core::testing::DistributedBackend::open(
        &config,
        chat_core::testing::DistributedOptions {
            key_prefix: h.prefix.clone(),
            background_worker: false,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let other_service = chat_core::ChatService::from_backend(Arc::new(other));
    let other: Arc<dyn chat_core::ChatApi> = Arc::new(other_service.clone());
    let api = h.api();
    let app = api.create_application("two servers").await.unwrap();
    let c = api.create_chat(&app.token).await.unwrap().number;
    let servers = [api, other];
    let mut numbers: Vec<u32> = stream::iter(0..2000)
        .map(|i| {
            let api = Arc::clone(&servers[i % 2]);
            let t = app.token.clone();
            async move {
                api.create_message(&t, c, &format!("s{}", i % 2))
                    .await
                    .unwrap()
                    .number
                    .get()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=2000).collect::<Vec<_>>());
    // Each server reads what the other created, before and after the drain.
    let last = chat_core::MessageNumber::new(2000).unwrap();
    assert!(servers[1].get_message(&app.token, c, last).await.is_ok());
    h.settle().await;
    assert_eq!(stored_messages(&h).await.len(), 2000);
    assert_eq!(stored_count(&h, c.get()).await, 2000);
    assert_eq!(
        servers[1]
            .get_chat(&app.token, c)
            .await
            .unwrap()
            .messages_count,
        2000
    );
    other_service.close().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_not_buried_while_the_database_is_unavailable() {
    let h = Distributed::start().await;
    let api = h.api();
    let app = api.create_application("outage").await.unwrap();
    let c = api.create_chat(&app.token).await.unwrap().number;
    for i in 0..10 {
        api.create_message(&app.token, c, &format!("m{i}"))
            .await
            .unwrap();
    }
    // This process loses its database; creating and reading what is queued still work.
    h.backend.store().close().await;
    let m = api.create_message(&app.token, c, "during").await.unwrap();
    assert_eq!(m.number.get(), 11);
    assert_eq!(
        api.get_message(&app.token, c, m.number).await.unwrap().body,
        "during"
    );
    let worker = h.backend.worker();
    assert!(matches!(
        worker.drain().await,
        Err(chat_core::Error::Unavailable { .. })
    ));
    for _ in 0..10 {
        assert!(worker.reclaim(Duration::ZERO).await.is_err());
    }
    let status = h.backend.queue_status().await.unwrap();
    assert_eq!((status.depth, status.pending, status.dead), (12, 12, 0));
    h.stop().await;
}

/// Points the test's alias at `index` alone (an OpenSearch `_aliases` swap).
async fn move_alias(es: &str, alias: &str, from: &str, to: &str) {
    let r = reqwest::Client::new()
        .post(format!("{es}/_aliases"))
        .json(&serde_json::json!({"actions": [
            {"remove": {"index": from, "alias": alias}},
            {"add": {"index": to, "alias": alias}}
        ]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_the_search_engine_rejects_is_dead_lettered_with_its_reason_not_retried() {
    let h = chat_tests::Searching::start_with(chat_core::testing::DistributedOptions {
        background_worker: false,
        ..Default::default()
    })
    .await;
    let es = std::env::var("CHAT_TEST_ELASTICSEARCH_URL").unwrap();
    let alias = h.engine().alias().to_owned();
    let ours = h.engine().indices().await.unwrap();
    assert_eq!(ours.len(), 1, "{ours:?}");
    // An index whose strict mapping takes only numbers as bodies: the engine refuses every
    // other body with a 400 (a mapping error), whatever the number of attempts.
    let numbers_only = format!("{alias}-numbers-only");
    let http = reqwest::Client::new();
    let created = http
        .put(format!("{es}/{numbers_only}"))
        .json(&serde_json::json!({
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {"dynamic": "strict", "properties": {
                "app": {"type": "long"}, "chat": {"type": "integer"},
                "number": {"type": "integer"}, "created_at": {"type": "long"},
                "updated_at": {"type": "long"}, "body": {"type": "long"}
            }}
        }))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "{}",
        created.text().await.unwrap()
    );
    move_alias(&es, &alias, &ours[0], &numbers_only).await;

    let api = h.api();
    let app = api.create_application("rejected").await.unwrap();
    let c = api.create_chat(&app.token).await.unwrap().number;
    api.create_message(&app.token, c, "12345").await.unwrap();
    let refused = api
        .create_message(&app.token, c, "not a number")
        .await
        .unwrap();
    let worker = h.0.backend.worker();
    assert_eq!(worker.drain().await.unwrap().persisted, 3);
    // Both are stored; the number is indexed; the other is dead with the engine's reason, and
    // nothing waits for a catch-up that would send it again.
    assert_eq!(h.stored().await, 2);
    assert_eq!(h.indexed().await, 1);
    assert_eq!(worker.unindexed_count().await.unwrap(), 0);
    let status = h.0.backend.queue_status().await.unwrap();
    assert_eq!((status.depth, status.pending, status.dead), (0, 0, 1));
    let mut conn = h.0.redis().await;
    let dead = dead_entries(&h.0.backend, &mut conn).await;
    assert_eq!(dead.len(), 1);
    let fields = &dead[0].1;
    assert!(fields["j"].contains("not a number"), "{fields:?}");
    assert!(!fields["entry"].is_empty(), "{fields:?}");
    assert!(
        fields["error"].contains("rejected") && fields["error"].contains("HTTP 400"),
        "{fields:?}"
    );
    assert!(
        fields["error"].contains("mapper_parsing_exception"),
        "{fields:?}"
    );

    // Left alone, it stays dead: later rounds send nothing again.
    assert_eq!(
        worker.drain().await.unwrap(),
        chat_core::testing::Round::default()
    );
    assert_eq!(worker.unindexed_count().await.unwrap(), 0);
    assert_eq!(h.0.backend.queue_status().await.unwrap().dead, 1);

    // Retried while the cause remains, it is refused again and goes back to the dead letters.
    assert_eq!(api.retry_dead().await.unwrap().retried, 1);
    assert_eq!(worker.drain().await.unwrap().persisted, 1);
    let status = h.0.backend.queue_status().await.unwrap();
    assert_eq!((status.depth, status.pending, status.dead), (0, 0, 1));
    assert_eq!(worker.unindexed_count().await.unwrap(), 0);

    // Once the operator fixes the cause (the alias back on an index with the real mapping), a
    // retry indexes it: found by search, with its body and number unchanged.
    move_alias(&es, &alias, &numbers_only, &ours[0]).await;
    assert_eq!(api.retry_dead().await.unwrap().retried, 1);
    h.settle().await;
    assert_eq!(h.0.backend.queue_status().await.unwrap().dead, 0);
    let found = api
        .search_messages(&app.token, c, &chat_core::SearchRequest::new("a numb"))
        .await
        .unwrap()
        .items;
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].number, found[0].body.as_str()),
        (refused.number, "not a number")
    );
    assert_eq!(h.stored().await, 2);
    let _ = http.delete(format!("{es}/{numbers_only}")).send().await;
    h.stop().await;
}

/// The entries of every shard's dead-letter stream.
async fn dead_entries(
    backend: &chat_core::testing::DistributedBackend,
    conn: &mut redis::aio::MultiplexedConnection,
) -> Vec<(String, std::collections::HashMap<String, String>)> {
    let mut all = Vec::new();
    for key in backend.dead_keys() {
        let dead: Vec<(String, std::collections::HashMap<String, String>)> = redis::cmd("XRANGE")
            .arg(key)
            .arg("-")
            .arg("+")
            .query_async(conn)
            .await
            .unwrap();
        all.extend(dead);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_started_together_on_a_fresh_database_all_open_it() {
    // An API tier and its workers start at once on a database nothing has migrated yet: each
    // applies the migrations, and the ones that lose the race wait for the winner.
    let admin = std::env::var("CHAT_TEST_MYSQL_URL").expect("CHAT_TEST_MYSQL_URL");
    let redis = std::env::var("CHAT_TEST_REDIS_URL").expect("CHAT_TEST_REDIS_URL");
    let (database, url) = chat_tests::cluster::create_database(&admin).await;
    let config = chat_core::Config {
        redis_url: Some(redis),
        ..chat_core::Config::with_database_url(url.clone())
    };
    let opened = futures::future::join_all((0..4).map(|i| {
        let (config, database) = (config.clone(), database.clone());
        async move {
            let options = chat_core::testing::DistributedOptions {
                key_prefix: format!("test:{database}:"),
                background_worker: false,
                ..Default::default()
            };
            let opened = chat_core::testing::DistributedBackend::open(&config, options).await;
            (i, opened.map(|_| ()))
        }
    }))
    .await;
    for (i, result) in opened {
        assert!(result.is_ok(), "process {i}: {:?}", result.err());
    }
    let mut db = <sqlx::MySqlConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let (applied, failed): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COUNT(*) AS SIGNED), CAST(COALESCE(SUM(NOT success), 0) AS SIGNED) FROM _sqlx_migrations",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/mysql"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
    assert_eq!(
        applied,
        i64::try_from(files).unwrap(),
        "every migration recorded once"
    );
    assert_eq!(failed, 0);
    chat_tests::cluster::drop_database(&admin, &database).await;
}
