//! The distributed profile as it is deployed: real chat-server processes in their roles over
//! real MariaDB and Redis, and the faults an operator meets — a worker killed mid-batch, Redis
//! killed and restarted from its append-only file, Redis emptied, MariaDB stopped during
//! creation. Every test checks each acknowledged write against the database at the end.
//!
//! The tests take turns (one lock): they start several processes each and stop services.
//! Needs `CHAT_TEST_MYSQL_URL` / `CHAT_TEST_REDIS_URL` (`tests/services/services.sh`), and
//! `redis-server` / `mariadbd` installed by that script.
#![cfg(feature = "distributed")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::{ChatApi, ChatNumber, Error, HttpClient, Token};
use chat_tests::cluster::{
    assert_all_persisted, assert_gapless, create_database, create_until, drop_database, stored,
    stored_counts, Ack, PrivateMariadb, PrivateRedis, Server,
};
use futures::stream::{self, StreamExt};

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_server-process"))
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: eval \"$(tests/services/services.sh env)\" after starting them")
    })
}

fn prefix() -> String {
    format!("cluster:{}:", &Token::generate().as_str()[..12])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_creations_over_three_api_processes_and_two_workers() {
    let _turn = TURN.lock().await;
    let admin = env("CHAT_TEST_MYSQL_URL");
    let redis = env("CHAT_TEST_REDIS_URL");
    let (database, url) = create_database(&admin).await;
    let prefix = prefix();
    let apis: Vec<Server> = (0..3)
        .map(|_| Server::spawn(binary(), &url, &redis, &prefix, "api", &[]))
        .collect();
    let workers: Vec<Server> = (0..2)
        .map(|_| Server::spawn(binary(), &url, &redis, &prefix, "worker", &[]))
        .collect();
    // A worker process serves only the operations routes.
    let r = reqwest::get(format!("{}/api/v1/applications", workers[0].url))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        reqwest::get(format!("{}/ready", workers[1].url))
            .await
            .unwrap()
            .status(),
        200
    );

    let clients: Vec<HttpClient> = apis.iter().map(|s| s.client.clone()).collect();
    let app = clients[0].create_application("cluster").await.unwrap();
    const CHATS: u32 = 50;
    const TOTAL: u32 = 10_000;
    // 50 chats and 9,950 messages, 48 at a time, round-robin over the three API processes.
    let chat_numbers: Vec<u32> = stream::iter(0..CHATS)
        .map(|i| {
            let (client, token) = (clients[i as usize % 3].clone(), app.token.clone());
            async move { client.create_chat(&token).await.unwrap().number.get() }
        })
        .buffer_unordered(48)
        .collect()
        .await;
    let mut sorted = chat_numbers.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=CHATS).collect::<Vec<_>>());
    let started = Instant::now();
    let results: Vec<Result<Ack, Error>> = stream::iter(0..TOTAL - CHATS)
        .map(|i| {
            let (client, token) = (clients[i as usize % 3].clone(), app.token.clone());
            async move {
                let chat = ChatNumber::new(i % CHATS + 1).unwrap();
                let body = format!("message {i}");
                let m = client.create_message(&token, chat, &body).await?;
                Ok((chat.get(), m.number.get(), body))
            }
        })
        .buffer_unordered(48)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let acks: Vec<Ack> = results
        .into_iter()
        .map(|r| r.expect("every creation is answered 201"))
        .collect();
    println!(
        "{} messages over 3 API processes in {elapsed:?}",
        acks.len()
    );
    assert_gapless(&acks);

    let drained = apis[0].wait_for_drain(Duration::from_secs(120)).await;
    println!("two workers drained the rest {drained:?} later");
    let rows = stored(&url).await;
    assert_eq!(rows.len(), acks.len());
    assert_all_persisted(&acks, &rows);
    let (chats_count, per_chat) = stored_counts(&url).await;
    assert_eq!(chats_count, i64::from(CHATS));
    assert_eq!(per_chat.len(), CHATS as usize);
    for (chat, count) in per_chat {
        let expected = acks.iter().filter(|a| a.0 == chat).count();
        assert_eq!(count, expected as i64, "messages_count of chat {chat}");
    }
    // And the API reports the same.
    let shown = clients[2].get_application(&app.token).await.unwrap();
    assert_eq!(shown.chats_count, u64::from(CHATS));
    drop(apis);
    drop(workers);
    drop_database(&admin, &database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing() {
    let _turn = TURN.lock().await;
    let admin = env("CHAT_TEST_MYSQL_URL");
    let redis = env("CHAT_TEST_REDIS_URL");
    let (database, url) = create_database(&admin).await;
    let prefix = prefix();
    let api = Server::spawn(binary(), &url, &redis, &prefix, "api", &[]);
    let app = api.client.create_application("kill").await.unwrap();
    for _ in 0..4 {
        api.client.create_chat(&app.token).await.unwrap();
    }
    // Queue 6,000 messages while no worker runs.
    let (acks, errors) = create_until(std::slice::from_ref(&api.client), &app.token, 4, 32, |n| {
        n >= 6000
    })
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    // Four chats and the messages wait in the queue.
    assert_eq!(api.queue().await.depth, acks.len() as u64 + 4);

    // A worker takes a batch; it is killed while it holds entries it has not acknowledged.
    let mut doomed = Server::spawn(binary(), &url, &redis, &prefix, "worker", &[]);
    let started = Instant::now();
    let held = loop {
        let q = api.queue().await;
        if q.pending > 0 {
            doomed.kill();
            break q;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the worker took nothing"
        );
    };
    let after = api.queue().await;
    println!(
        "killed the worker holding {} entries; queue then: {after:?}",
        held.pending
    );
    assert!(
        after.pending > 0,
        "the killed worker's entries stay pending: {after:?}"
    );

    // Another worker takes them over once they have been idle for a second.
    let _rescuer = Server::spawn(
        binary(),
        &url,
        &redis,
        &prefix,
        "worker",
        &["--claim-idle", "1"],
    );
    api.wait_for_drain(Duration::from_secs(120)).await;
    let rows = stored(&url).await;
    let acked: BTreeSet<(u32, u32)> = acks.iter().map(|a| (a.0, a.1)).collect();
    let extra: Vec<_> = rows
        .iter()
        .filter(|(k, _)| !acked.contains(k))
        .take(10)
        .collect();
    assert_eq!(
        rows.len(),
        acks.len(),
        "no message lost, none stored twice; extra: {extra:?}"
    );
    assert_all_persisted(&acks, &rows);
    let (_, per_chat) = stored_counts(&url).await;
    for (chat, count) in per_chat {
        let expected = acks.iter().filter(|a| a.0 == chat).count();
        assert_eq!(count, expected as i64, "messages_count of chat {chat}");
    }
    drop(api);
    drop_database(&admin, &database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_from_its_aof_keeps_every_acknowledged_write() {
    let _turn = TURN.lock().await;
    let admin = env("CHAT_TEST_MYSQL_URL");
    let mut redis = PrivateRedis::start().await;
    let (database, url) = create_database(&admin).await;
    let prefix = prefix();
    // An API process, and a worker kept apart so the queue is still full when Redis dies.
    let api = Server::spawn(binary(), &url, &redis.url(), &prefix, "api", &[]);
    let app = api.client.create_application("aof").await.unwrap();
    for _ in 0..4 {
        api.client.create_chat(&app.token).await.unwrap();
    }
    let client = api.client.clone();
    let token = app.token.clone();
    // The load goes on until Redis is back and 4,000 creates are acknowledged, so it always
    // spans the outage however fast the first 4,000 go.
    let restarted = Arc::new(AtomicBool::new(false));
    let back = restarted.clone();
    let load = tokio::spawn(async move {
        create_until(&[client], &token, 4, 16, move |n| {
            n >= 4000 && back.load(Ordering::SeqCst)
        })
        .await
    });
    // Kill Redis with SIGKILL once 1,500 creates are acknowledged, restart it 1 s later.
    let started = Instant::now();
    while queued(&api).await < 1500 {
        assert!(started.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    redis.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.restart().await;
    restarted.store(true, Ordering::SeqCst);
    let (acks, errors) = load.await.unwrap();
    println!(
        "{} acknowledged, {} refused while Redis was down",
        acks.len(),
        errors.len()
    );
    // Requests in flight when Redis dies fail with 503; those sent while it is down wait for
    // the connection to come back (within the response timeout), so a kill between two
    // pipelines may be seen by no client at all. The load spans the outage either way: it
    // stops only after the restart.
    assert!(
        errors
            .iter()
            .all(|e| matches!(e, Error::Unavailable { .. })),
        "refusals are 503s: {errors:?}"
    );
    assert_gapless(&acks);

    let _worker = Server::spawn(binary(), &url, &redis.url(), &prefix, "worker", &[]);
    api.wait_for_drain(Duration::from_secs(120)).await;
    let rows = stored(&url).await;
    assert_all_persisted(&acks, &rows);
    // A create that Redis executed but whose answer the crash cut off may be stored without
    // an ack; never more than the refusals.
    assert!(rows.len() - acks.len() <= errors.len());
    drop(api);
    drop_database(&admin, &database).await;
}

/// The queue's depth: with no worker running, the number of acknowledged creations.
async fn queued(api: &Server) -> u64 {
    api.client
        .queue_status()
        .await
        .map(|q| q.depth)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_flushall_numbers_continue_past_the_database_without_duplicates() {
    let _turn = TURN.lock().await;
    let admin = env("CHAT_TEST_MYSQL_URL");
    let redis = PrivateRedis::start().await;
    let (database, url) = create_database(&admin).await;
    let prefix = prefix();
    let a = Server::spawn(binary(), &url, &redis.url(), &prefix, "all", &[]);
    let b = Server::spawn(binary(), &url, &redis.url(), &prefix, "api", &[]);
    let app = a.client.create_application("flush").await.unwrap();
    for _ in 0..3 {
        a.client.create_chat(&app.token).await.unwrap();
    }
    let (before, errors) = create_until(
        &[a.client.clone(), b.client.clone()],
        &app.token,
        3,
        8,
        |n| n >= 300,
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    a.wait_for_drain(Duration::from_secs(60)).await;

    let mut conn = redis.connection().await;
    redis::cmd("FLUSHALL")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();

    // A batch into a chat whose counters are gone: both are seeded from the database, and
    // the batch is numbered after the chat's stored messages, in its order.
    let bodies: Vec<String> = (0..50).map(|i| format!("batch after flush {i}")).collect();
    let three = ChatNumber::new(3).unwrap();
    let batch = a
        .client
        .create_messages(&app.token, three, &bodies)
        .await
        .unwrap();
    assert!(batch.windows(2).all(|w| w[0].number < w[1].number));
    assert!(batch.iter().zip(&bodies).all(|(m, b)| &m.body == b));
    let batch: Vec<Ack> = batch
        .into_iter()
        .map(|m| (3, m.number.get(), m.body))
        .collect();

    // Both servers race to re-seed the counters; the numbers go on after the database's.
    let chat = b.client.create_chat(&app.token).await.unwrap();
    assert_eq!(chat.number.get(), 4);
    let (after, errors) = create_until(
        &[a.client.clone(), b.client.clone()],
        &app.token,
        4,
        16,
        |n| n >= 400,
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    let mut all = before.clone();
    all.extend(after.iter().cloned());
    all.extend(batch);
    assert_gapless(&all);
    a.wait_for_drain(Duration::from_secs(60)).await;
    let rows = stored(&url).await;
    assert_eq!(rows.len(), all.len());
    assert_all_persisted(&all, &rows);
    drop((a, b));
    drop_database(&admin, &database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_stopped_for_ten_seconds_during_creation() {
    let _turn = TURN.lock().await;
    let mariadb = PrivateMariadb::start();
    let redis = env("CHAT_TEST_REDIS_URL");
    let url = mariadb.url();
    let prefix = prefix();
    let server = Server::spawn(
        binary(),
        &url,
        &redis,
        &prefix,
        "all",
        &["--claim-idle", "1"],
    );
    let app = server.client.create_application("outage").await.unwrap();
    for chat in 1..=4 {
        server.client.create_chat(&app.token).await.unwrap();
        let chat = ChatNumber::new(chat).unwrap();
        server
            .client
            .create_message(&app.token, chat, "before")
            .await
            .unwrap();
    }
    server.wait_for_drain(Duration::from_secs(30)).await;

    let started = Instant::now();
    let client = server.client.clone();
    let token = app.token.clone();
    let deadline = started + Duration::from_secs(14);
    let load = tokio::spawn(async move {
        create_until(&[client], &token, 4, 8, move |_| Instant::now() >= deadline).await
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let down = Instant::now();
    tokio::task::block_in_place(|| mariadb.stop_process());
    // Meanwhile /ready names the backend that is down.
    let ready = reqwest::get(format!("{}/ready", server.url)).await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    let mysql = body["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["backend"] == "mysql")
        .unwrap();
    assert_eq!(mysql["ok"], false, "{body}");
    let rest = Duration::from_secs(10).saturating_sub(down.elapsed());
    tokio::time::sleep(rest).await;
    tokio::task::block_in_place(|| mariadb.start_again());
    println!("MariaDB was down for {:?}", down.elapsed());
    let (mut acks, errors) = load.await.unwrap();
    assert!(
        errors.is_empty(),
        "every create is answered 201: {errors:?}"
    );
    println!("{} creates acknowledged across the outage", acks.len());

    server.wait_for_drain(Duration::from_secs(120)).await;
    for chat in 1..=4 {
        acks.push((chat, 1, "before".to_owned()));
    }
    assert_gapless(&acks);
    let rows = stored(&url).await;
    assert_eq!(rows.len(), acks.len());
    assert_all_persisted(&acks, &rows);
    let (_, per_chat) = stored_counts(&url).await;
    for (chat, count) in per_chat {
        let expected = acks.iter().filter(|a| a.0 == chat).count();
        assert_eq!(count, expected as i64, "messages_count of chat {chat}");
    }
    let ready = reqwest::get(format!("{}/ready", server.url)).await.unwrap();
    assert_eq!(ready.status(), 200);
    drop(server);
}

/// Runs chatctl with `args`; returns its JSON output, or panics with its stderr.
fn chatctl(args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(chat_tests::cluster::chatctl())
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chatctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatctl_drives_the_distributed_profile_directly_and_over_http() {
    let _turn = TURN.lock().await;
    let admin = env("CHAT_TEST_MYSQL_URL");
    let redis = env("CHAT_TEST_REDIS_URL");
    let (database, url) = create_database(&admin).await;
    let prefix = prefix();
    let api = Server::spawn(binary(), &url, &redis, &prefix, "api", &[]);
    let direct = |args: &[&str]| {
        let mut all = vec![
            "--database-url",
            url.as_str(),
            "--redis-url",
            redis.as_str(),
        ];
        all.extend_from_slice(args);
        tokio::task::block_in_place(|| {
            std::process::Command::new(chat_tests::cluster::chatctl())
                .env("CHAT_REDIS_PREFIX", &prefix)
                .args(&all)
                .arg("--json")
                .output()
                .unwrap()
        })
    };
    let json = |out: std::process::Output| -> serde_json::Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // Direct mode: the same numbering and queue as the servers.
    let app = json(direct(&["app", "create", "ops"]));
    let token = app["token"].as_str().unwrap().to_owned();
    assert_eq!(json(direct(&["chat", "create", &token]))["number"], 1);
    assert_eq!(
        json(direct(&[
            "message",
            "send",
            &token,
            "1",
            "queued by chatctl"
        ]))["number"],
        1
    );
    let from_server = api
        .client
        .create_message(
            &Token::parse(&token).unwrap(),
            ChatNumber::new(1).unwrap(),
            "queued by the server",
        )
        .await
        .unwrap();
    assert_eq!(from_server.number.get(), 2);
    let status = json(direct(&["queue", "status"]));
    assert_eq!((&status["depth"], &status["dead"]), (&3.into(), &0.into()));
    // Over HTTP, the same queue; and the server reads what chatctl queued before any worker.
    let server_args = [
        "--server",
        api.url.as_str(),
        "--admin-token",
        chat_tests::cluster::ADMIN_TOKEN,
    ];
    let over_http =
        tokio::task::block_in_place(|| chatctl(&[&server_args[..], &["queue", "status"]].concat()));
    assert_eq!(over_http["depth"], 3);
    let shown = tokio::task::block_in_place(|| {
        chatctl(&[&server_args[..], &["message", "show", &token, "1", "1"]].concat())
    });
    assert_eq!(shown["body"], "queued by chatctl");

    // A worker drains it; the queue says so both ways; retry-dead finds nothing to do.
    let _worker = Server::spawn(binary(), &url, &redis, &prefix, "worker", &[]);
    api.wait_for_drain(Duration::from_secs(60)).await;
    let status = json(direct(&["queue", "status"]));
    assert_eq!(
        (&status["depth"], &status["pending"]),
        (&0.into(), &0.into())
    );
    assert_eq!(json(direct(&["queue", "retry-dead"]))["retried"], 0);
    let retried = tokio::task::block_in_place(|| {
        chatctl(&[&server_args[..], &["queue", "retry-dead"]].concat())
    });
    assert_eq!(retried["retried"], 0);
    let rows = stored(&url).await;
    assert_eq!(rows.len(), 2);
    let recount = json(direct(&["recount"]));
    assert_eq!(recount["corrected"], 0, "{recount}");
    // The metrics export the queue.
    let metrics = reqwest::get(format!("{}/metrics", api.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("chat_queue_depth 0"), "{metrics}");
    assert!(metrics.contains("chat_queue_dead 0"), "{metrics}");
    drop(api);
    drop_database(&admin, &database).await;
}
