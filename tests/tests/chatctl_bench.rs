//! `chatctl bench` run as a process: bounded runs (`-n`, short `-d`) on the embedded profile
//! directly, against a live chat-server over HTTP, and on the distributed profile; its JSON
//! parsed and checked (counts, ordered percentiles, the verification of created numbers), the
//! `--plot` SVG parsed as XML, the open loop's schedule, and `--max-errors` deciding the exit
//! code when a server is stopped mid-run or rate-limits the load.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "chatctl/harness.rs"]
mod harness;

use std::process::Stdio;
use std::time::Duration;

use harness::{finished, Ctl, Run, Server};
use serde_json::Value;

/// Runs `chatctl … bench ARGS --json`; returns the run and its parsed report.
fn bench(ctl: &Ctl, args: &[&str]) -> (Run, Value) {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.push("--json");
    let r = ctl.run(&all);
    let report = serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "bench {args:?}: {e}\nstdout: {}\nstderr: {}",
            r.stdout, r.stderr
        )
    });
    harness::assert_no_ids(&report);
    (r, report)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// p50 ≤ p90 ≤ p99 ≤ p99.9 ≤ max, all above 0.
fn assert_percentiles_ordered(latency: &Value) {
    let p: Vec<f64> = ["p50", "p90", "p99", "p99_9", "max"]
        .iter()
        .map(|k| f(&latency[k]))
        .collect();
    assert!(p[0] > 0.0, "{latency}");
    assert!(p.windows(2).all(|w| w[0] <= w[1]), "not ordered: {latency}");
}

fn assert_clean_create_run(report: &Value, n: u64) {
    assert_eq!(report["requests"], n, "{report}");
    assert_eq!(report["ok"], n, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert!(f(&report["per_second"]) > 0.0);
    assert_percentiles_ordered(&report["latency_ms"]);
    let v = &report["verification"];
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["acknowledged_messages"], n, "{v}");
    assert_eq!(v["chats_checked"], 10, "{v}");
}

#[test]
fn bench_on_the_embedded_profile_directly_creates_verifies_and_plots() {
    let ctl = Ctl::direct();
    let svg = ctl.dir.path().join("run.svg");
    let (r, report) = bench(
        &ctl,
        &["-n", "600", "-c", "8", "--plot", svg.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(report["scenario"], "create-message");
    assert_eq!(report["mode"], "closed");
    assert!(report["target"]
        .as_str()
        .unwrap()
        .starts_with("direct sqlite://"));
    assert_clean_create_run(&report, 600);
    let ops = report["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["requests"], 600);

    // The stored messages are the acknowledged ones: 600 over 10 chats, 60 each.
    let token = report["application"].as_str().unwrap();
    let chats = ctl.json(&["chat", "list", token]);
    let counts: Vec<u64> = chats
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["messages_count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, vec![60; 10]);

    // The chart: well-formed SVG with the three charts' titles and drawn series.
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("the chart is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some("960"));
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for title in [
        "latency over time",
        "throughput over time",
        "latency histogram",
    ] {
        assert!(
            texts.iter().any(|t| t.starts_with(title)),
            "no {title:?} in {texts:?}"
        );
    }
    assert!(
        doc.descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .count()
            >= 3
    );
    assert!(doc.descendants().filter(|n| n.has_tag_name("rect")).count() > 10);
}

#[test]
fn read_search_and_create_chat_run_directly_without_errors() {
    let ctl = Ctl::direct();
    for scenario in ["read", "search"] {
        let (r, report) = bench(
            &ctl,
            &[
                "--scenario",
                scenario,
                "-n",
                "300",
                "-c",
                "4",
                "--seed",
                "20",
            ],
        );
        assert_eq!(r.code, 0, "{scenario}: {}", r.stderr);
        assert_eq!(
            (&report["requests"], &report["errors"]),
            (&300.into(), &0.into())
        );
        assert_percentiles_ordered(&report["latency_ms"]);
        assert!(report["verification"].is_null(), "nothing was created");
    }
    // Searches in each order, for the texts asked.
    for sort in ["oldest", "relevance"] {
        let (r, report) = bench(
            &ctl,
            &[
                "--scenario",
                "search",
                "--sort",
                sort,
                "--query",
                "ocean",
                "--query",
                "qqxj",
                "-n",
                "100",
                "-c",
                "2",
                "--seed",
                "20",
            ],
        );
        assert_eq!(r.code, 0, "{sort}: {}", r.stderr);
        assert_eq!(
            (&report["requests"], &report["errors"]),
            (&100.into(), &0.into()),
            "{sort}"
        );
    }
    let (r, report) = bench(&ctl, &["--scenario", "create-chat", "-n", "150", "-c", "6"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = &report["verification"];
    assert_eq!(
        (&v["ok"], &v["acknowledged_chats"]),
        (&true.into(), &150.into()),
        "{v}"
    );
    let chats = ctl.json(&[
        "chat",
        "list",
        report["application"].as_str().unwrap(),
        "--all",
    ]);
    assert_eq!(chats.as_array().unwrap().len(), 150);
}

#[test]
fn bench_against_a_live_server_mixes_operations_in_their_proportions() {
    let ctl = Ctl::http();
    let server = format!("server={}", ctl.server.as_ref().unwrap().pid());
    let (r, report) = bench(
        &ctl,
        &[
            "--scenario",
            "mixed",
            "--mix",
            "create-message=60,read=30,search=10",
            "-n",
            "1000",
            "-c",
            "8",
            "--cpu",
            &server,
            "--cpu",
            "bench=self",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The CPU the server and the load generator spent on the measured requests, from /proc.
    let cpu = report["cpu"].as_array().unwrap();
    assert_eq!(cpu.len(), 2, "{cpu:?}");
    for (c, name) in cpu.iter().zip(["server", "bench"]) {
        assert_eq!(c["name"], name);
        let spent = f(&c["cpu_s"]);
        assert!(spent > 0.0, "600 creates cost {name} no CPU: {c}");
        let per_request = spent * 1e6 / 1000.0;
        assert!(
            (f(&c["per_request_us"]) - per_request).abs() < 1e-6 * per_request.max(1.0),
            "{c}"
        );
        assert!(f(&c["cores"]) > 0.0, "{c}");
    }
    assert_eq!(cpu[0]["pid"], ctl.server.as_ref().unwrap().pid());
    assert!(report["target"]
        .as_str()
        .unwrap()
        .starts_with("server http://127.0.0.1:"));
    assert_eq!(
        (&report["requests"], &report["errors"]),
        (&1000.into(), &0.into())
    );
    let ops: Vec<(String, u64)> = report["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_percentiles_ordered(&o["latency_ms"]);
            (
                o["operation"].as_str().unwrap().to_owned(),
                o["requests"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(ops.iter().map(|o| o.1).sum::<u64>(), 1000);
    let share = |name: &str| ops.iter().find(|o| o.0 == name).map_or(0, |o| o.1);
    assert!((500..700).contains(&share("create-message")), "{ops:?}");
    assert!((200..400).contains(&share("read")), "{ops:?}");
    assert!((40..170).contains(&share("search")), "{ops:?}");
    let v = &report["verification"];
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["acknowledged_messages"], share("create-message"));

    // The trivial route, as a ceiling: only against a server.
    let (r, report) = bench(&ctl, &["--scenario", "health", "-n", "500", "-c", "8"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!((&report["ok"], &report["errors"]), (&500.into(), &0.into()));
    // It touched no data: the mixed run's application is still the only one.
    assert!(report["application"].is_null(), "{report}");
    assert_eq!(ctl.json(&["app", "list"]).as_array().unwrap().len(), 1);
    let (code, stderr) = Ctl::direct().fails(&["bench", "--scenario", "health", "-n", "5"]);
    assert_eq!(code, 4);
    assert!(stderr.contains("--server"), "{stderr}");
}

#[test]
fn the_open_loop_sends_exactly_the_scheduled_requests_and_counts_from_their_time() {
    let ctl = Ctl::http();
    let (r, report) = bench(&ctl, &["--rate", "200", "-d", "1500ms", "-c", "4"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(report["mode"], "open");
    assert_eq!(report["rate"], 200.0);
    // 200/s for 1.5 s: requests scheduled at 0, 5 ms, … 1,495 ms.
    assert_eq!(report["requests"], 300, "{report}");
    assert_eq!(report["ok"], 300);
    // The last one is sent no earlier than its time, so the run lasts the whole window.
    assert!(f(&report["duration_s"]) >= 1.49, "{report}");
    assert!(f(&report["per_second"]) < 220.0, "{report}");
    assert_eq!(report["verification"]["ok"], true);

    // With -n the schedule stops at the count.
    let (_, report) = bench(&ctl, &["--rate", "500", "-n", "250", "-c", "2"]);
    assert_eq!(report["requests"], 250);
    assert!(f(&report["duration_s"]) >= 0.49, "{report}");
}

#[test]
fn a_server_stopped_mid_run_makes_the_errors_count_and_the_exit_code_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Some(Server::start(dir.path()));
    let url = server.as_ref().unwrap().url.clone();
    let ctl = Ctl::direct();
    let child = ctl
        .bare()
        .args(["--server", &url, "bench", "-d", "3s", "-c", "4", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The fault: the server goes away a second into the three-second run.
    std::thread::sleep(Duration::from_secs(1));
    drop(server.take());
    let r = finished(child.wait_with_output().unwrap());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("more than --max-errors 0"),
        "{}",
        r.stderr
    );
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        report["ok"].as_u64().unwrap() > 0,
        "it ran before the stop: {report}"
    );
    assert!(report["errors"].as_u64().unwrap() > 0, "{report}");
    assert!(
        report["errors_by_kind"]["unavailable (server)"]
            .as_u64()
            .unwrap()
            > 0,
        "{report}"
    );
    assert_eq!(
        report["requests"],
        report["ok"].as_u64().unwrap() + report["errors"].as_u64().unwrap()
    );
    // Nothing can be read back from a stopped server: the check says so.
    assert_eq!(report["verification"]["ok"], false, "{report}");
}

#[test]
fn max_errors_decides_the_exit_code_when_a_server_refuses_part_of_the_load() {
    let dir = tempfile::tempdir().unwrap();
    // 30 requests per second per application: most of a quick run of 400 is refused (429).
    let server = Server::start_with(dir.path(), &["--rate-limit", "30"]);
    let ctl = Ctl::direct();
    let run = |max: &str| {
        let r = finished(
            ctl.bare()
                .args([
                    "--server",
                    &server.url,
                    "bench",
                    "-n",
                    "400",
                    "-c",
                    "4",
                    "--chats",
                    "1",
                ])
                .args(["--max-errors", max, "--json"])
                .output()
                .unwrap(),
        );
        let report: Value = serde_json::from_str(&r.stdout).unwrap();
        (r, report)
    };
    let (r, report) = run("1000");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let errors = report["errors"].as_u64().unwrap();
    assert!(errors > 0 && errors < 400, "{report}");
    assert_eq!(
        report["errors_by_kind"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        errors
    );
    // What was acknowledged is there, gapless, refused requests or not.
    assert_eq!(report["verification"]["ok"], true, "{report}");
    assert_eq!(
        report["verification"]["acknowledged_messages"],
        report["ok"]
    );

    let (r, report) = run("0");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(report["errors"].as_u64().unwrap() > 0);
    assert!(
        r.stderr.contains("more than --max-errors 0"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_bench_arguments_exit_with_usage_or_input_codes() {
    let ctl = Ctl::direct();
    for (args, code) in [
        (&["bench", "--scenario", "mixed", "-n", "5"][..], 4),
        (&["bench", "--mix", "read=1", "-n", "5"], 4),
        (&["bench", "--scenario", "mixed", "--mix", "read=x"], 2),
        (&["bench", "-n", "5", "-d", "1s"], 2),
        (&["bench", "-d", "ten"], 2),
        (&["bench", "--rate", "0"], 2),
        (&["bench", "-c", "0"], 2),
        (&["bench", "--cpu", "redis", "-n", "5"], 2),
        (&["bench", "--cpu", "redis=x", "-n", "5"], 2),
        (
            &["bench", "--scenario", "search", "--sort", "best", "-n", "5"],
            2,
        ),
        // A blank search text: refused before anything is created.
        (
            &["bench", "--scenario", "search", "--query", " ", "-n", "5"],
            4,
        ),
        // No such process: refused before anything is created.
        (&["bench", "--cpu", "gone=4294967294", "-n", "5"], 4),
    ] {
        let r = ctl.run(args);
        assert_eq!(r.code, code, "{args:?}: {}", r.stderr);
    }
    assert!(
        !ctl.dir.path().join("chat-data").exists(),
        "nothing was created by refused runs"
    );
}

#[cfg(feature = "distributed")]
mod distributed {
    use chat_tests::{Distributed, Harness};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bench_on_the_distributed_profile_directly_verifies_through_the_queue() {
        let d = Distributed::start().await;
        let ctl = Ctl::direct();
        let r = tokio::task::block_in_place(|| {
            finished(
                ctl.bare()
                    .env("CHAT_REDIS_PREFIX", &d.prefix)
                    .args([
                        "--database-url",
                        &d.database_url,
                        "--redis-url",
                        &d.redis_url,
                    ])
                    .args(["bench", "-n", "500", "-c", "16", "--json"])
                    .output()
                    .unwrap(),
            )
        });
        assert_eq!(r.code, 0, "{}", r.stderr);
        let report: Value = serde_json::from_str(&r.stdout).unwrap();
        assert!(report["target"]
            .as_str()
            .unwrap()
            .starts_with("direct mysql://"));
        // Verified before any worker ran: reads see the queued writes.
        assert_clean_create_run(&report, 500);
        d.settle().await;
        let mut db = d.mysql().await;
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
            .fetch_one(&mut db)
            .await
            .unwrap();
        assert_eq!(rows, 500);
        drop(db);
        d.stop().await;
    }
}
