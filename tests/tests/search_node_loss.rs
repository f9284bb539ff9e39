//! A node of a three-node OpenSearch cluster killed (`SIGKILL`) while messages are created and
//! searched. The test starts a cluster of its own (`tests/services/services.sh start
//! opensearch-cluster` on other ports and in a private state dir): killing a node of the shared
//! one would fail the tests running beside it. The index has 3 shards and 1 replica of each.
//!
//! What must hold: creates answer 201 throughout (the queue does not need the engine); searches
//! keep answering from the surviving copies, with at most a short window of 503s (counted and
//! bounded); the workers index what they can and catch up the rest once the cluster is green
//! again; then every acknowledged message is found exactly once, in the engine and through
//! search.
#![cfg(feature = "distributed")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat_core::testing::DistributedOptions;
use chat_core::testing::WorkerOptions;
use chat_core::{Error, SearchRequest};
use chat_tests::conformance::all_pages;
use chat_tests::{Harness, Searching};
use serde_json::{json, Value};

/// The private cluster's ports: node i listens on HTTP `base + i` and transport `base + 100 + i`,
/// apart from the shared services' (39200-39212, 39300-39312). A few bases are tried in turn:
/// the ports lie in the kernel's ephemeral range, so an outgoing connection of another test may
/// hold one of them (services.sh reserves them from then on, but not from before it starts).
const BASES: [u16; 3] = [39220, 39230, 39240];
const NODES: u16 = 3;
const CHATS: u32 = 6;

/// The test's own cluster, stopped (and its folder removed) when dropped.
struct Cluster {
    dir: PathBuf,
    http_port: u16,
}

impl Cluster {
    fn services(&self) -> Command {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("services/services.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(script)
            .env("CHAT_SERVICES_DIR", &self.dir)
            .env("CHAT_SERVICES_CLUSTER_PORT", self.http_port.to_string())
            .env(
                "CHAT_SERVICES_CLUSTER_TRANSPORT_PORT",
                (self.http_port + 100).to_string(),
            );
        cmd
    }

    /// Whether no socket holds any of the six ports from `base` (a listener or the local end
    /// of a connection: binding fails on either).
    fn free(base: u16) -> bool {
        (0..NODES)
            .flat_map(|i| [base + i, base + 100 + i])
            .all(|port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
    }

    fn start() -> Cluster {
        for base in BASES {
            if !Cluster::free(base) {
                eprintln!("ports from {base} are held; trying the next base");
                continue;
            }
            let dir =
                std::env::temp_dir().join(format!("chat-node-loss-{}-{base}", std::process::id()));
            let cluster = Cluster {
                dir,
                http_port: base,
            };
            let status = cluster
                .services()
                .args(["start", "opensearch-cluster"])
                .status()
                .expect("run services.sh");
            if status.success() {
                return cluster;
            }
            // Dropping it stops what did start; the next base is tried.
            eprintln!("the test's cluster did not start on ports from {base}");
        }
        panic!("the test's cluster did not start on any of the ports {BASES:?}");
    }

    fn urls(&self) -> String {
        (0..NODES)
            .map(|i| format!("http://127.0.0.1:{}", self.http_port + i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills node `i` with SIGKILL: no goodbye to the cluster, its shards just vanish.
    fn kill(&self, i: u16) {
        let pidfile = self.dir.join(format!("opensearch-cluster/node-{i}.pid"));
        let pid = std::fs::read_to_string(&pidfile).expect("the node's pid file");
        let status = Command::new("kill")
            .args(["-KILL", pid.trim()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -KILL {pid}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .services()
            .args(["stop", "opensearch-cluster"])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `GET url` (or `PUT` with a body) on one node, as JSON.
async fn call(http: &reqwest::Client, url: String, put: Option<Value>) -> Value {
    let request = match put {
        Some(body) => http.put(url).json(&body),
        None => http.get(url),
    };
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_under_load_loses_no_acknowledged_message_and_search_keeps_answering() {
    let cluster = Cluster::start();
    let h = Searching::start_on(
        &cluster.urls(),
        DistributedOptions {
            index_shards: 3,
            index_replicas: 1,
            worker: WorkerOptions {
                block: Duration::from_millis(100),
                ..Default::default()
            },
            ..DistributedOptions::default()
        },
    )
    .await;
    let http = reqwest::Client::new();
    let node = |i: u16| format!("http://127.0.0.1:{}", cluster.http_port + i);
    let alias = h.engine().alias().to_owned();
    // Replicas of a lost node's shards are rebuilt on the others after 1 s, not the default
    // minute, so the cluster is green again within the test's bounds.
    let set = call(
        &http,
        format!("{}/{alias}/_settings", node(0)),
        Some(json!({"index": {"unassigned": {"node_left": {"delayed_timeout": "1s"}}}})),
    )
    .await;
    assert_eq!(set["acknowledged"], true, "{set}");
    let health = |from: u16, wait: &'static str| {
        let http = http.clone();
        let url = format!(
            "{}/_cluster/health?wait_for_status={wait}&timeout=60s",
            node(from)
        );
        async move { call(&http, url, None).await }
    };
    let green = health(0, "green").await;
    assert_eq!(green["status"], "green", "{green}");

    let api = h.api();
    let t = api.create_application("node loss").await.unwrap().token;
    let mut chats = Vec::new();
    for _ in 0..CHATS {
        chats.push(api.create_chat(&t).await.unwrap().number);
    }

    // Writers and searchers run for 8 s before the kill and 12 s after it.
    let started = Instant::now();
    let stop_at = started + Duration::from_secs(20);
    let acknowledged = Arc::new(Mutex::new(Vec::<(u32, u32)>::new()));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (api, t, chats, acknowledged) = (
                api.clone(),
                t.clone(),
                chats.clone(),
                Arc::clone(&acknowledged),
            );
            tokio::spawn(async move {
                let mut i = 0usize;
                while Instant::now() < stop_at {
                    let c = chats[(i + w) % chats.len()];
                    let m = api
                        .create_message(&t, c, &format!("survivor w{w} n{i}"))
                        .await
                        .expect("creates answer 201 while a search node is lost");
                    acknowledged.lock().unwrap().push((c.get(), m.number.get()));
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect();
    let answered = Arc::new(AtomicU64::new(0));
    let answered_after_kill = Arc::new(AtomicU64::new(0));
    let unavailable = Arc::new(AtomicU64::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let outage = Arc::new(Mutex::new(None::<(Duration, Duration)>));
    let searchers: Vec<_> = (0..2)
        .map(|s| {
            let (api, t, chats) = (api.clone(), t.clone(), chats.clone());
            let (answered, answered_after_kill, unavailable, killed, outage) = (
                Arc::clone(&answered),
                Arc::clone(&answered_after_kill),
                Arc::clone(&unavailable),
                Arc::clone(&killed),
                Arc::clone(&outage),
            );
            tokio::spawn(async move {
                let mut i = s;
                while Instant::now() < stop_at {
                    let c = chats[i % chats.len()];
                    match api
                        .search_messages(&t, c, &SearchRequest::new("survivor"))
                        .await
                    {
                        Ok(_) => {
                            answered.fetch_add(1, Ordering::Relaxed);
                            if killed.load(Ordering::Relaxed) {
                                answered_after_kill.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(e @ Error::Unavailable { .. }) => {
                            assert_eq!(e.status(), 503);
                            unavailable.fetch_add(1, Ordering::Relaxed);
                            let at = started.elapsed();
                            let mut window = outage.lock().unwrap();
                            let (first, _) = window.unwrap_or((at, at));
                            *window = Some((first, at));
                        }
                        Err(other) => panic!("a search failed otherwise than 503: {other:?}"),
                    }
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(8)).await;
    // Node 2: not the one that bootstrapped the cluster, so the kill is of a data node with
    // shard copies on it (every node holds some: 6 copies on 3 nodes), not an election.
    cluster.kill(2);
    killed.store(true, Ordering::Relaxed);
    let killed_at = started.elapsed();
    for task in writers.into_iter().chain(searchers) {
        task.await.unwrap();
    }

    // Green again on the two survivors; the workers catch up on their own.
    let green = health(0, "green").await;
    assert_eq!(green["status"], "green", "{green}");
    assert_eq!(green["number_of_nodes"], 2, "{green}");
    let worker = h.0.backend.worker();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = h.0.backend.queue_status().await.unwrap();
        let unindexed = worker.unindexed_count().await.unwrap();
        if status.depth == 0 && status.pending == 0 && unindexed == 0 {
            assert_eq!(status.dead, 0, "nothing was given up on");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not caught up within 60 s of green: {status:?}, {unindexed} unindexed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every acknowledged message is in the engine exactly once…
    let mut acknowledged = acknowledged.lock().unwrap().clone();
    acknowledged.sort_unstable();
    assert!(
        acknowledged.len() > 100,
        "too little traffic: {}",
        acknowledged.len()
    );
    h.engine().refresh(None).await.unwrap();
    let docs: Value = http
        .post(format!("{}/{alias}/_search", node(0)))
        .json(&json!({
            "size": 10_000,
            "_source": ["chat", "number"],
            "sort": [{"chat": "asc"}, {"number": "asc"}]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(docs["_shards"]["failed"], 0, "{}", docs["_shards"]);
    let indexed: Vec<(u32, u32)> = docs["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| {
            let source = &hit["_source"];
            (
                source["chat"].as_u64().unwrap() as u32,
                source["number"].as_u64().unwrap() as u32,
            )
        })
        .collect();
    assert_eq!(
        indexed.len(),
        acknowledged.len(),
        "documents vs acknowledged messages"
    );
    assert_eq!(indexed, acknowledged);
    // …and found exactly once by search, chat by chat, through the routed search path.
    for c in &chats {
        let mut found: Vec<(u32, u32)> =
            all_pages(&api, &t, *c, SearchRequest::new("survivor").limited(1000))
                .await
                .into_iter()
                .map(|m| (c.get(), m.number.get()))
                .collect();
        found.sort_unstable();
        let expected: Vec<(u32, u32)> = acknowledged
            .iter()
            .copied()
            .filter(|(chat, _)| *chat == c.get())
            .collect();
        assert_eq!(found, expected, "chat {c}");
    }

    let answered = answered.load(Ordering::Relaxed);
    let after_kill = answered_after_kill.load(Ordering::Relaxed);
    let unavailable = unavailable.load(Ordering::Relaxed);
    let window = *outage.lock().unwrap();
    println!(
        "node killed at {:.1} s; {} messages acknowledged; searches: {answered} answered \
         ({after_kill} after the kill), {unavailable} answered 503 (window: {window:?})",
        killed_at.as_secs_f64(),
        acknowledged.len()
    );
    assert!(
        after_kill > 50,
        "searches kept answering after the kill: {after_kill}"
    );
    if let Some((first, last)) = window {
        assert!(
            last - first < Duration::from_secs(10),
            "503s for longer than 10 s: {first:?} to {last:?}"
        );
    }
    h.stop().await;
    drop(cluster);
}
