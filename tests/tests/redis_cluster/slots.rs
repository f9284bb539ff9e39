//! What only a cluster shows: where the keys land, and what happens to one slot.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chat_core::testing::{DistributedBackend, DistributedOptions};
use chat_core::{ChatNumber, Config, Error};
use chat_tests::{cluster_urls, ClusterDistributed, Distributed, Harness};
use futures::stream::{self, StreamExt};

/// The cluster's masters now: (URL, connection).
async fn masters() -> Vec<(String, redis::aio::MultiplexedConnection)> {
    let mut out = Vec::new();
    for url in cluster_urls().split(',') {
        let Ok(client) = redis::Client::open(url) else {
            continue;
        };
        let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
            continue;
        };
        let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut conn).await.unwrap();
        if matches!(role.first(), Some(redis::Value::BulkString(b)) if b == b"master") {
            out.push((url.to_owned(), conn));
        }
    }
    out
}

/// The test's keys on one node.
async fn keys_on(conn: &mut redis::aio::MultiplexedConnection, pattern: &str) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_queue_entries_spread_over_every_master_within_twice_each_other() {
    let h = ClusterDistributed::start().await;
    assert!(h.0.backend.on_cluster());
    let api = h.api();
    let app = api.create_application("spread").await.unwrap();
    let chats: Vec<ChatNumber> = stream::iter(0..200)
        .map(|_| {
            let api = Arc::clone(&api);
            let t = app.token.clone();
            async move { api.create_chat(&t).await.unwrap().number }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let created: Vec<(ChatNumber, u32)> = stream::iter(0..1000)
        .map(|i| {
            let api = Arc::clone(&api);
            let t = app.token.clone();
            let c = chats[i % chats.len()];
            async move {
                let m = api.create_message(&t, c, &format!("m{i}")).await.unwrap();
                (c, m.number.get())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert_eq!(created.len(), 1000);

    // Before any worker ran: every master holds keys and queue entries, in shares within 2x.
    let prefix = h.0.prefix.clone();
    let mut keys_per_master = Vec::new();
    let mut entries_per_master = Vec::new();
    let ms = masters().await;
    assert_eq!(
        ms.len(),
        3,
        "three masters: {:?}",
        ms.iter().map(|m| &m.0).collect::<Vec<_>>()
    );
    for (url, mut conn) in ms {
        let keys = keys_on(&mut conn, &format!("{prefix}*")).await;
        let mut entries = 0u64;
        for stream in keys_on(&mut conn, &format!("{prefix}q:*")).await {
            let n: u64 = redis::cmd("XLEN")
                .arg(&stream)
                .query_async(&mut conn)
                .await
                .unwrap();
            entries += n;
        }
        eprintln!("{url}: {} keys, {entries} queue entries", keys.len());
        keys_per_master.push(keys.len() as f64);
        entries_per_master.push(entries as f64);
    }
    for (what, shares) in [("keys", &keys_per_master), ("entries", &entries_per_master)] {
        let (min, max) = shares
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), &n| (lo.min(n), hi.max(n)));
        assert!(min > 0.0, "a master holds no {what}: {shares:?}");
        assert!(
            max <= 2.0 * min,
            "{what} are not spread within 2x: {shares:?}"
        );
    }
    let total: f64 = entries_per_master.iter().sum();
    assert_eq!(total as u64, 1200, "200 chat jobs and 1000 message jobs");

    // The queue status adds up its shards, and the worker drains all of them.
    let status = h.0.backend.queue_status().await.unwrap();
    assert_eq!(status.shards.len(), 16);
    assert_eq!(status.depth, 1200);
    assert_eq!(status.shards.iter().map(|s| s.depth).sum::<u64>(), 1200);
    assert!(
        status.shards.iter().filter(|s| s.depth > 0).count() >= 12,
        "{status:?}"
    );
    h.settle().await;
    let status = h.0.backend.queue_status().await.unwrap();
    assert_eq!((status.depth, status.pending, status.dead), (0, 0, 0));
    let mut per_chat: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (c, n) in created {
        per_chat.entry(c.get()).or_default().push(n);
    }
    for (c, mut numbers) in per_chat {
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=5).collect::<Vec<_>>(), "chat {c}");
        let chat = api
            .get_chat(&app.token, ChatNumber::new(c).unwrap())
            .await
            .unwrap();
        assert_eq!(chat.messages_count, 5);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_that_lost_its_keys_is_reseeded_and_numbers_never_repeat() {
    let h = ClusterDistributed::start().await;
    let api = h.api();
    let app = api.create_application("lost slot").await.unwrap();
    let c = api.create_chat(&app.token).await.unwrap().number;
    for i in 0..5 {
        api.create_message(&app.token, c, &format!("persisted {i}"))
            .await
            .unwrap();
    }
    h.settle().await;
    for i in 0..3 {
        api.create_message(&app.token, c, &format!("queued {i}"))
            .await
            .unwrap();
    }
    // The chat's counter is lost (as when its master and replica are lost together and the
    // slot comes back empty); its queued jobs and pending records survive in this test.
    let key = h.0.backend.message_counter_key(app_id(&h.0).await, c.get());
    let mut cluster = h.0.cluster().await;
    let removed: u64 = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut cluster)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let next = api
        .create_message(&app.token, c, "after the loss")
        .await
        .unwrap();
    assert_eq!(next.number.get(), 9, "seeded past the queued numbers");
    // Now everything of the test on every master is lost: the database's maximum wins.
    h.settle().await;
    h.0.flush_redis().await;
    let after = api
        .create_message(&app.token, c, "after everything")
        .await
        .unwrap();
    assert_eq!(after.number.get(), 10);
    assert_eq!(api.create_chat(&app.token).await.unwrap().number.get(), 2);
    h.settle().await;
    let chat = api.get_chat(&app.token, c).await.unwrap();
    assert_eq!(chat.messages_count, 10);
    h.stop().await;
}

async fn app_id(h: &Distributed) -> i64 {
    let mut db = h.mysql().await;
    sqlx::query_scalar("SELECT id FROM applications")
        .fetch_one(&mut db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_its_replicas_do_not_acknowledge_fails_with_503_and_is_undone() {
    // Each master has one replica: waiting for two never succeeds.
    let h = Distributed::start_on_cluster(
        DistributedOptions {
            background_worker: false,
            ack_replicas: 2,
            ack_timeout: Duration::from_millis(200),
            ..DistributedOptions::default()
        },
        None,
    )
    .await;
    let api = h.api();
    let app = api.create_application("unacknowledged").await.unwrap();
    let chat = api.create_chat(&app.token).await.unwrap_err();
    assert!(matches!(chat, Error::Unavailable { .. }), "{chat:?}");
    assert!(
        chat.to_string()
            .contains("not acknowledged by 2 Redis replica"),
        "{chat}"
    );
    assert!(chat.to_string().contains("not applied"), "{chat}");
    // Undone: no chat is visible, none will be persisted, and the count stays 0.
    assert_eq!(
        api.get_application(&app.token).await.unwrap().chats_count,
        0
    );
    assert!(api
        .get_chat(&app.token, ChatNumber::new(1).unwrap())
        .await
        .is_err());
    h.settle().await;
    assert_eq!(
        api.get_application(&app.token).await.unwrap().chats_count,
        0
    );
    let mut db = h.mysql().await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM chats")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    h.service.close().await;
    // The same deployment acknowledging after one replica: it works, and numbers go on past
    // the undone one (never handed out twice).
    let one = Distributed::start_on_cluster(
        DistributedOptions {
            background_worker: false,
            ack_replicas: 1,
            ..DistributedOptions::default()
        },
        None,
    )
    .await;
    let api1 = one.api();
    let app1 = api1.create_application("acknowledged").await.unwrap();
    let c = api1.create_chat(&app1.token).await.unwrap().number;
    let m = api1
        .create_message(&app1.token, c, "replicated")
        .await
        .unwrap();
    assert_eq!(m.number.get(), 1);
    one.stop().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_its_replicas_do_not_acknowledge_is_undone_and_its_number_not_reused() {
    let h = ClusterDistributed::start().await;
    let api = h.api();
    let app = api.create_application("undo").await.unwrap();
    let c = api.create_chat(&app.token).await.unwrap().number;
    api.create_message(&app.token, c, "first").await.unwrap();
    // A second process of the same deployment, asking for more replicas than there are.
    let config = Config {
        redis_url: Some(h.0.redis_url.clone()),
        ..Config::with_database_url(h.0.database_url.clone())
    };
    let strict = DistributedBackend::open(
        &config,
        DistributedOptions {
            key_prefix: h.0.prefix.clone(),
            background_worker: false,
            ack_replicas: 2,
            ack_timeout: Duration::from_millis(200),
            ..DistributedOptions::default()
        },
    )
    .await
    .unwrap();
    let strict = chat_core::ChatService::from_backend(Arc::new(strict));
    let err = chat_core::ChatApi::create_message(&strict, &app.token, c, "unacknowledged")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("not applied"), "{err}");
    strict.close().await;
    // Number 2 was handed out and undone: not readable, not counted, never reused.
    assert!(api
        .get_message(&app.token, c, chat_core::MessageNumber::new(2).unwrap())
        .await
        .is_err());
    assert_eq!(api.get_chat(&app.token, c).await.unwrap().messages_count, 1);
    let next = api.create_message(&app.token, c, "third").await.unwrap();
    assert_eq!(next.number.get(), 3);
    h.settle().await;
    let page = api
        .list_messages(&app.token, c, chat_core::PageRequest::default())
        .await
        .unwrap();
    let numbers: Vec<u32> = page.items.iter().map(|m| m.number.get()).collect();
    assert_eq!(numbers, vec![1, 3]);
    assert_eq!(api.get_chat(&app.token, c).await.unwrap().messages_count, 2);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_entry_is_retried_into_its_own_shard_on_a_cluster() {
    let h = ClusterDistributed::start().await;
    let api = h.api();
    let app = api.create_application("poison").await.unwrap();
    let c = api.create_chat(&app.token).await.unwrap().number;
    api.create_message(&app.token, c, "fine").await.unwrap();
    let mut cluster = h.0.cluster().await;
    redis::cmd("XADD")
        .arg(h.0.backend.queue_key(999_999, 7))
        .arg("*")
        .arg("j")
        .arg(r#"{"k":"m","a":"999999","c":7,"n":1,"b":"orphan","t":"1","u":"1"}"#)
        .query_async::<String>(&mut cluster)
        .await
        .unwrap();
    let round = h.0.backend.worker().drain().await.unwrap();
    assert_eq!((round.persisted, round.dead), (2, 1), "{round:?}");
    let status = h.0.backend.queue_status().await.unwrap();
    assert_eq!((status.depth, status.dead), (0, 1));
    assert_eq!(status.shards.iter().filter(|s| s.dead == 1).count(), 1);
    let retried = h.0.backend.retry_dead().await.unwrap();
    assert_eq!(retried.retried, 1);
    let status = h.0.backend.queue_status().await.unwrap();
    assert_eq!((status.depth, status.dead), (1, 0));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_configured_with_another_shard_count_is_refused() {
    let h = ClusterDistributed::start().await;
    let config = Config {
        redis_url: Some(h.0.redis_url.clone()),
        ..Config::with_database_url(h.0.database_url.clone())
    };
    let other = DistributedBackend::open(
        &config,
        DistributedOptions {
            key_prefix: h.0.prefix.clone(),
            background_worker: false,
            shards: 8,
            ..DistributedOptions::default()
        },
    )
    .await;
    let Err(err) = other else {
        panic!("a process with 8 shards was accepted by a deployment of 16")
    };
    assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("has 16 shards") && text.contains("configured with 8"),
        "{text}"
    );
    h.stop().await;
}
