//! The search engine stopped for 30 s during creation (its own test binary: the engine is
//! shared, and freezing it would fail every other search test running beside it).
#![cfg(feature = "distributed")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::{Error, SearchRequest};
use chat_tests::conformance::hits;
use chat_tests::{Harness, Searching};

/// Sends SIGCONT to the engine when dropped, so a failing test never leaves it frozen.
struct Frozen(String);

impl Frozen {
    fn engine() -> Frozen {
        let dir =
            std::env::var("CHAT_SERVICES_DIR").unwrap_or_else(|_| "/tmp/chat-services".into());
        let pid = std::fs::read_to_string(format!("{dir}/opensearch/opensearch.pid"))
            .expect("the OpenSearch pid file of tests/services/services.sh");
        let pid = pid.trim().to_owned();
        assert!(std::process::Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success());
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &self.0])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_outage_of_thirty_seconds_blocks_nothing_and_is_caught_up_alone() {
    let h = Searching::with_worker().await;
    let api = h.api();
    let app = api.create_application("outage").await.unwrap();
    let t = app.token.clone();
    let c = api.create_chat(&t).await.unwrap().number;
    api.create_message(&t, c, "before the outage")
        .await
        .unwrap();
    h.settle().await;

    // The engine's process is stopped (SIGSTOP): it accepts connections and answers nothing.
    let frozen = Frozen::engine();
    let stop = Instant::now() + Duration::from_secs(30);
    let created = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (api, t, created) = (api.clone(), t.clone(), Arc::clone(&created));
            tokio::spawn(async move {
                let mut i = 0;
                while Instant::now() < stop {
                    let body = format!("during the outage w{w}x{i}q");
                    api.create_message(&t, c, &body)
                        .await
                        .expect("creates answer 201 while the engine is down");
                    created.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        })
        .collect();
    // Meanwhile search answers 503 naming the engine, and readiness says so.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let refused = api
        .search_messages(&t, c, &SearchRequest::new("outage"))
        .await
        .unwrap_err();
    match &refused {
        Error::Unavailable { backend, reason } => {
            assert_eq!(backend, "elasticsearch");
            assert!(reason.contains("search is unavailable"), "{reason}");
        }
        other => panic!("expected a 503, got {other:?}"),
    }
    assert_eq!(refused.status(), 503);
    let health = h.0.service.health().await;
    assert!(
        health.iter().any(|b| b.backend == "elasticsearch" && !b.ok),
        "{health:?}"
    );
    for w in writers {
        w.await.unwrap();
    }
    // Persistence went on: the queue drains into MySQL while the engine is still down.
    h.0.backend.worker().drain().await.unwrap();
    let during = created.load(Ordering::Relaxed) as u64;
    assert_eq!(h.stored().await, during + 1);
    assert!(h.0.backend.worker().unindexed_count().await.unwrap() > 0);
    drop(frozen);
    println!("{during} messages created during a 30 s engine outage");

    // No hand: the background worker catches up once the engine answers.
    let back = Instant::now();
    while h.0.backend.worker().unindexed_count().await.unwrap() > 0 {
        assert!(
            back.elapsed() < Duration::from_secs(60),
            "no catch-up within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(h.indexed().await, during + 1);
    assert_eq!(
        hits(&api, &t, c, "w0x0q").await,
        ["during the outage w0x0q"]
    );
    assert_eq!(hits(&api, &t, c, "before the").await, ["before the outage"]);
    h.stop().await;
}
