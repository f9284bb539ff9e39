//! The distributed profile on a Redis Cluster when Redis nodes die: chat-server processes in
//! their roles over MariaDB and the test cluster (`tests/services/services.sh start
//! redis-cluster`, `CHAT_TEST_REDIS_CLUSTER_URLS`), a master `SIGKILL`ed under load with
//! `--redis-ack-replicas 1` (no acknowledged write lost) and with 0 (the losses reported), a
//! master lost together with its replica (numbers never repeat once the slot is reseeded),
//! workers killed while the shards drain, and a slot moved to another master under load.
//!
//! The tests take turns (one lock) and put the cluster back together after each
//! (`services.sh start redis-cluster` restarts the killed nodes, which rejoin as replicas).
#![cfg(feature = "distributed")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::{ChatApi, ChatNumber, Error, HttpClient, MessageNumber, Token};
use chat_tests::cluster::{
    assert_all_persisted, assert_gapless, create_database, create_until, drop_database, stored,
    stored_counts, Ack, Server,
};
use chat_tests::cluster_urls;

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
    format!("failover:{}:", &Token::generate().as_str()[..12])
}

async fn node(url: &str) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).ok()?;
    tokio::time::timeout(
        Duration::from_secs(2),
        client.get_multiplexed_async_connection(),
    )
    .await
    .ok()?
    .ok()
}

/// The cluster's masters now, each with its replicas' URLs.
async fn masters() -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for url in cluster_urls().split(',') {
        let Some(mut conn) = node(url).await else {
            continue;
        };
        let Ok(role) = redis::cmd("ROLE")
            .query_async::<redis::Value>(&mut conn)
            .await
        else {
            continue;
        };
        let redis::Value::Array(parts) = role else {
            continue;
        };
        if !matches!(parts.first(), Some(redis::Value::BulkString(b)) if b == b"master") {
            continue;
        }
        let replicas = match parts.get(2) {
            Some(redis::Value::Array(rs)) => rs
                .iter()
                .filter_map(|r| match r {
                    redis::Value::Array(f) => match (f.first(), f.get(1)) {
                        (Some(redis::Value::BulkString(h)), Some(redis::Value::BulkString(p))) => {
                            Some(format!(
                                "redis://{}:{}",
                                String::from_utf8_lossy(h),
                                String::from_utf8_lossy(p)
                            ))
                        }
                        _ => None,
                    },
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        out.push((url.to_owned(), replicas));
    }
    out
}

/// SIGKILLs the Redis node at `url` (its pid from `INFO server`).
async fn kill_node(url: &str) {
    let mut conn = node(url).await.expect("the node answers");
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut conn)
        .await
        .unwrap();
    let pid = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .expect("process_id")
        .trim()
        .to_owned();
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Kills the master at `url`, waits until one of its `replicas` has taken over, and restarts
/// the dead node, which rejoins as the new master's replica (with `--redis-ack-replicas 1`
/// the new master accepts writes again only once it has a replica).
async fn fail_over(url: String, replicas: Vec<String>) {
    kill_node(&url).await;
    let killed = Instant::now();
    'wait: while killed.elapsed() < Duration::from_secs(30) {
        for r in &replicas {
            if let Some(mut conn) = node(r).await {
                let role: redis::Value = redis::cmd("ROLE")
                    .query_async(&mut conn)
                    .await
                    .unwrap_or(redis::Value::Nil);
                if matches!(&role, redis::Value::Array(p) if matches!(p.first(), Some(redis::Value::BulkString(b)) if b == b"master"))
                {
                    println!("a replica took over {:?} after the kill", killed.elapsed());
                    break 'wait;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::task::spawn_blocking(restore_cluster).await.unwrap();
    println!(
        "the dead node is back as a replica {:?} after the kill",
        killed.elapsed()
    );
}

/// Restarts the nodes that are down (they rejoin the cluster) and waits until it is whole.
fn restore_cluster() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("services/services.sh");
    let out = std::process::Command::new(script)
        .args(["start", "redis-cluster"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "services.sh start redis-cluster: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until every master has a replica online (after the earlier tests' failovers a
/// restarted node may still be syncing, and `WAIT 1` would time out meanwhile).
async fn wait_for_replicas() {
    let started = Instant::now();
    loop {
        let mut ready = 0;
        let all = masters().await;
        for (url, _) in &all {
            if let Some(mut conn) = node(url).await {
                let info: String = redis::cmd("INFO")
                    .arg("replication")
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                if info
                    .lines()
                    .any(|l| l.starts_with("slave0:") && l.contains("state=online"))
                {
                    ready += 1;
                }
            }
        }
        if all.len() == 3 && ready == 3 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "every master has a replica online within 60 s ({ready} of {})",
            all.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The cluster whole again and every master's replica in sync: what each test starts from.
async fn ready_cluster() {
    tokio::task::spawn_blocking(restore_cluster).await.unwrap();
    wait_for_replicas().await;
}

/// What a failover run saw.
struct Outcome {
    acks: usize,
    lost: usize,
    errors: usize,
}

/// Three API processes and two workers acknowledging after `ack` replicas; 32 creators over
/// 100 chats; one master SIGKILLed once `KILL_AT` messages are acknowledged; the load goes
/// on to `TOTAL`. Then every acknowledged message is checked against the database, the API
/// and the search engine.
async fn failover_under_load(ack: u32) -> Outcome {
    const CHATS: u32 = 100;
    const KILL_AT: usize = 1000;
    const TOTAL: usize = 3000;
    let admin = env("CHAT_TEST_MYSQL_URL");
    let es = env("CHAT_TEST_ELASTICSEARCH_URL");
    let redis = cluster_urls();
    let (database, url) = create_database(&admin).await;
    let prefix = prefix();
    let index = format!("test-{}", &database[5..]);
    let ack_arg = ack.to_string();
    let extra = [
        "--redis-ack-replicas",
        ack_arg.as_str(),
        "--elasticsearch-url",
        es.as_str(),
        "--index-prefix",
        index.as_str(),
        "--index-replicas",
        "0",
    ];
    let apis: Vec<Server> = (0..3)
        .map(|_| Server::spawn(binary(), &url, &redis, &prefix, "api", &extra))
        .collect();
    let workers: Vec<Server> = (0..2)
        .map(|_| Server::spawn(binary(), &url, &redis, &prefix, "worker", &extra))
        .collect();
    let clients: Vec<HttpClient> = apis.iter().map(|s| s.client.clone()).collect();
    let app = clients[0].create_application("failover").await.unwrap();
    for i in 0..CHATS {
        clients[i as usize % 3]
            .create_chat(&app.token)
            .await
            .unwrap();
    }
    let (victim, replicas) = masters().await.into_iter().next().expect("a master");
    let killed = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let (kill_flag, victim_url) = (Arc::clone(&killed), victim.clone());
    let runtime = tokio::runtime::Handle::current();
    let (acks, errors) = create_until(&clients, &app.token, CHATS, 32, move |n| {
        if n >= KILL_AT && !kill_flag.swap(true, Ordering::SeqCst) {
            runtime.spawn(fail_over(victim_url.clone(), replicas.clone()));
        }
        n >= TOTAL || started.elapsed() > Duration::from_secs(90)
    })
    .await;
    let elapsed = started.elapsed();
    assert!(
        killed.load(Ordering::SeqCst),
        "the master was killed mid-load"
    );
    let unavailable = errors
        .iter()
        .filter(|e| matches!(e, Error::Unavailable { .. }))
        .count();
    println!(
        "ack-replicas {ack}: {} acknowledged in {elapsed:?}, {} failed ({unavailable} with 503) \
         while master {victim} was killed and its replica took over",
        acks.len(),
        errors.len()
    );
    assert!(acks.len() >= TOTAL, "creates resumed after the failover");
    // No failure other than "unavailable" (never a wrong answer).
    assert_eq!(
        unavailable,
        errors.len(),
        "{:?}",
        &errors[..errors.len().min(5)]
    );

    apis[0].wait_for_drain(Duration::from_secs(120)).await;
    let rows = stored(&url).await;
    let mut lost = 0;
    let mut seen = BTreeSet::new();
    for (chat, number, body) in &acks {
        let fine = seen.insert((*chat, *number))
            && rows.get(&(*chat, *number)) == Some(&vec![body.clone()]);
        if !fine {
            lost += 1;
        }
    }
    println!(
        "ack-replicas {ack}: {lost} of {} acknowledged writes lost or overwritten",
        acks.len()
    );
    if ack > 0 {
        assert_eq!(lost, 0, "an acknowledged write was lost");
        // Numbers unique (one row per number) and gapless: every number up to a chat's
        // highest is stored, or was undone (deleted) after its replicas did not acknowledge.
        let counts = stored_counts(&url).await.1;
        let mut per_chat: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for ((c, n), bodies) in &rows {
            assert_eq!(bodies.len(), 1, "message {c}/{n} stored once");
            per_chat.entry(*c).or_default().push(*n);
        }
        let mut undone = 0;
        for (chat, numbers) in &per_chat {
            let highest = *numbers.iter().max().unwrap();
            let shown = clients[1]
                .get_chat(&app.token, ChatNumber::new(*chat).unwrap())
                .await
                .unwrap();
            // Counts exact: the stored count, the API's count and the rows agree.
            assert_eq!(
                counts[chat],
                numbers.len() as i64,
                "messages_count of chat {chat}"
            );
            assert_eq!(shown.messages_count, numbers.len() as u64, "chat {chat}");
            for n in 1..=highest {
                if !numbers.contains(&n) {
                    let gone = clients[1]
                        .get_message(
                            &app.token,
                            ChatNumber::new(*chat).unwrap(),
                            MessageNumber::new(n).unwrap(),
                        )
                        .await;
                    assert!(gone.is_err(), "a gap at {chat}/{n} that is readable");
                    undone += 1;
                }
            }
        }
        println!("ack-replicas {ack}: {undone} numbers undone after a 503");
        // Readable and searchable: a sample of the acknowledged messages.
        let search = reqwest::Client::new();
        let _ = search
            .post(format!("{es}/{index}-messages/_refresh"))
            .send()
            .await;
        for (chat, number, body) in acks.iter().step_by(acks.len() / 40 + 1) {
            let chat = ChatNumber::new(*chat).unwrap();
            let m = clients[2]
                .get_message(&app.token, chat, MessageNumber::new(*number).unwrap())
                .await
                .unwrap();
            assert_eq!(&m.body, body);
            let request = chat_core::SearchRequest::new(body.clone());
            let found = clients[2]
                .search_messages(&app.token, chat, &request)
                .await
                .unwrap();
            assert!(
                found.items.iter().any(|m| m.number.get() == *number),
                "message {chat}/{number} is not searchable"
            );
        }
    }
    drop(apis);
    drop(workers);
    restore_cluster();
    drop_database(&admin, &database).await;
    Outcome {
        acks: acks.len(),
        lost,
        errors: errors.len(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_under_load_with_ack_replicas_1_loses_no_acknowledged_write() {
    let _turn = TURN.lock().await;
    ready_cluster().await;
    let outcome = failover_under_load(1).await;
    assert_eq!(outcome.lost, 0);
    assert!(outcome.acks > 0 && outcome.errors < outcome.acks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_under_load_with_ack_replicas_0_reports_its_losses() {
    let _turn = TURN.lock().await;
    ready_cluster().await;
    let outcome = failover_under_load(0).await;
    // Not a guarantee without replicas acknowledging: measured and reported, not hidden.
    println!(
        "MEASURED ack-replicas 0: {} acknowledged, {} lost",
        outcome.acks, outcome.lost
    );
    assert!(outcome.acks > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_killed_while_the_shards_drain_lose_and_duplicate_nothing() {
    let _turn = TURN.lock().await;
    ready_cluster().await;
    let admin = env("CHAT_TEST_MYSQL_URL");
    let redis = cluster_urls();
    let (database, url) = create_database(&admin).await;
    let prefix = prefix();
    let api = Server::spawn(binary(), &url, &redis, &prefix, "api", &[]);
    let app = api.client.create_application("drain").await.unwrap();
    for _ in 0..20 {
        api.client.create_chat(&app.token).await.unwrap();
    }
    // Queue 3,000 messages over the 16 shards while no worker runs.
    let (acks, errors) = create_until(std::slice::from_ref(&api.client), &app.token, 20, 32, |n| {
        n >= 3000
    })
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    let queued = api.queue().await;
    assert_eq!(queued.depth, acks.len() as u64 + 20);
    assert!(
        queued.shards.iter().filter(|s| s.depth > 0).count() >= 10,
        "{queued:?}"
    );

    // Two workers take batches from every shard; both are killed while they hold entries.
    let mut doomed: Vec<Server> = (0..2)
        .map(|_| Server::spawn(binary(), &url, &redis, &prefix, "worker", &[]))
        .collect();
    let started = Instant::now();
    let held = loop {
        let q = api.queue().await;
        if q.pending > 0 {
            for w in &mut doomed {
                w.kill();
            }
            break q;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the workers took nothing"
        );
    };
    let after = api.queue().await;
    println!(
        "killed two workers holding {} entries in {} shards; queue then: depth {} pending {}",
        held.pending,
        held.shards.iter().filter(|s| s.pending > 0).count(),
        after.depth,
        after.pending
    );
    assert!(
        after.pending > 0,
        "the killed workers' entries stay pending"
    );
    // Two others take them over, shard by shard, once idle for a second.
    let rescuers: Vec<Server> = (0..2)
        .map(|_| {
            Server::spawn(
                binary(),
                &url,
                &redis,
                &prefix,
                "worker",
                &["--claim-idle", "1"],
            )
        })
        .collect();
    api.wait_for_drain(Duration::from_secs(120)).await;
    let q = api.queue().await;
    assert!(
        q.shards
            .iter()
            .all(|s| s.depth == 0 && s.pending == 0 && s.dead == 0),
        "{q:?}"
    );
    let rows = stored(&url).await;
    assert_eq!(rows.len(), acks.len(), "no message lost, none stored twice");
    for (chat, number, body) in &acks {
        assert_eq!(
            rows.get(&(*chat, *number)),
            Some(&vec![body.clone()]),
            "{chat}/{number}"
        );
    }
    for (chat, count) in stored_counts(&url).await.1 {
        let expected = acks.iter().filter(|a| a.0 == chat).count();
        assert_eq!(count, expected as i64, "messages_count of chat {chat}");
    }
    drop(rescuers);
    drop(api);
    drop_database(&admin, &database).await;
}

/// The data folder `services.sh` gives the cluster node at `url`.
fn node_dir(url: &str) -> std::path::PathBuf {
    let port = url.rsplit(':').next().unwrap().trim_end_matches('/');
    let state = std::env::var("CHAT_SERVICES_DIR").unwrap_or_else(|_| "/tmp/chat-services".into());
    Path::new(&state).join("redis-cluster").join(port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_lost_with_its_replica_is_reseeded_and_numbers_never_repeat() {
    let _turn = TURN.lock().await;
    ready_cluster().await;
    let admin = env("CHAT_TEST_MYSQL_URL");
    let redis = cluster_urls();
    let (database, url) = create_database(&admin).await;
    let prefix = prefix();
    let api = Server::spawn(binary(), &url, &redis, &prefix, "api", &[]);
    let worker = Server::spawn(binary(), &url, &redis, &prefix, "worker", &[]);
    let app = api.client.create_application("lost pair").await.unwrap();
    const CHATS: u32 = 30;
    for _ in 0..CHATS {
        api.client.create_chat(&app.token).await.unwrap();
    }
    let (first, errors) = create_until(
        std::slice::from_ref(&api.client),
        &app.token,
        CHATS,
        8,
        |n| n >= 150,
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    api.wait_for_drain(Duration::from_secs(60)).await;

    // A master and its replica die together, and come back without their data.
    let (master, replicas) = masters().await.into_iter().next().expect("a master");
    let replica = replicas.first().expect("a replica").clone();
    kill_node(&master).await;
    kill_node(&replica).await;
    for dead in [&master, &replica] {
        let dir = node_dir(dead);
        let _ = std::fs::remove_dir_all(dir.join("appendonlydir"));
        let _ = std::fs::remove_file(dir.join("dump.rdb"));
    }
    tokio::task::spawn_blocking(restore_cluster).await.unwrap();
    println!("{master} and {replica} lost their data and came back");
    for back in [&master, &replica] {
        let mut conn = node(back).await.expect("the node is back");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        // The running worker makes its queue shards' streams again as soon as the node
        // answers (an empty stream and its consumer group): those may be there, empty. Any
        // other key, or an entry in a stream, is data that survived.
        let mut kept = Vec::new();
        for key in keys {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap();
            let len: i64 = if kind == "stream" {
                redis::cmd("XLEN")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .unwrap()
            } else {
                -1
            };
            if len != 0 {
                kept.push(format!("{key} ({kind}, {len})"));
            }
        }
        assert!(kept.is_empty(), "{back} came back with its data: {kept:?}");
    }

    // Creates go on in every chat: the lost counters are seeded from the database, so no
    // number is handed out twice.
    let (second, errors) = create_until(
        std::slice::from_ref(&api.client),
        &app.token,
        CHATS,
        8,
        |n| n >= 150,
    )
    .await;
    println!("{} creates failed while the slots came back", errors.len());
    assert!(
        errors
            .iter()
            .all(|e| matches!(e, Error::Unavailable { .. })),
        "{errors:?}"
    );
    api.wait_for_drain(Duration::from_secs(60)).await;
    let rows = stored(&url).await;
    let all: Vec<&Ack> = first.iter().chain(&second).collect();
    let mut seen = BTreeSet::new();
    for (chat, number, body) in &all {
        assert!(
            seen.insert((*chat, *number)),
            "number {number} of chat {chat} handed out twice"
        );
        assert_eq!(
            rows.get(&(*chat, *number)),
            Some(&vec![body.clone()]),
            "{chat}/{number}"
        );
    }
    assert_eq!(rows.len(), all.len());
    let mut per_chat: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (c, n) in rows.keys() {
        per_chat.entry(*c).or_default().push(*n);
    }
    for (chat, numbers) in per_chat {
        let expected: Vec<u32> = (1..=numbers.len() as u32).collect();
        assert_eq!(numbers, expected, "numbers of chat {chat} gapless");
    }
    // The chats' counter (in one application's slot) went on too.
    let next = api.client.create_chat(&app.token).await.unwrap();
    assert_eq!(next.number.get(), CHATS + 1);
    drop(worker);
    drop(api);
    drop_database(&admin, &database).await;
}

#[path = "redis_failover/migration.rs"]
mod migration;
