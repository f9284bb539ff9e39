//! Live (embedded profile): following a chat directly, over HTTP, across a dropped connection,
//! a server process restart and a slow follower; writes of another process on the same file
//! (a `chatctl` in direct mode, a writer process) reach the server's followers; 2,000 followers
//! on one server process; the stream limit; the route's errors. The distributed profile's live
//! tests are in `distributed/live.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::{ChatApi, ChatService, Config, HttpClient, MessageNumber};
use chat_tests::live::{self, assert_exactly_once, read_until};
use chat_tests::{Embedded, Harness, Http};
use futures::StreamExt;

const BURST: u32 = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn directly_a_burst_arrives_once_in_order_with_edits() {
    let h = Embedded::start().await;
    live::burst_arrives_once_in_order(h.api(), h.api(), BURST, 8).await;
    live::unknown_chats_are_not_found(h.api()).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_http_a_burst_arrives_once_in_order_with_edits() {
    let h = Http::start().await;
    live::burst_arrives_once_in_order(h.api(), h.api(), BURST, 8).await;
    live::unknown_chats_are_not_found(h.api()).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn directly_deletions_reach_followers() {
    let h = Embedded::start().await;
    live::deletions_reach_followers(h.api(), h.api()).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_http_deletions_reach_followers() {
    let h = Http::start().await;
    live::deletions_reach_followers(h.api(), h.api()).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn directly_and_over_http_a_deleted_chat_ends_its_followers() {
    let h = Embedded::start().await;
    live::a_deleted_chat_ends_its_followers(h.api(), h.api(), true).await;
    h.stop().await;
    let h = Http::start().await;
    live::a_deleted_chat_ends_its_followers(h.api(), h.api(), true).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn directly_a_dropped_follower_resumes_by_its_last_number() {
    let h = Embedded::start().await;
    live::resume_after_a_dropped_stream(h.api(), h.api(), BURST).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_http_a_dropped_connection_resumes_by_its_last_id() {
    let h = Http::start().await;
    live::resume_after_a_dropped_stream(h.api(), h.api(), BURST).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_follower_is_cut_off_and_resumes_with_nothing_lost() {
    let h = Embedded::start().await;
    live::a_slow_follower_is_cut_off_and_resumes(h.api(), 6_000).await;
    h.stop().await;
}

/// The stream route: 404 for an unknown chat, 400 for a malformed resume point, the SSE shape
/// of `created` (with `id`), `edited` and `deleted` (without), `?after=` and `Last-Event-ID`, and 503 with
/// `Retry-After` beyond the stream limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_route_speaks_server_sent_events_and_refuses_clearly() {
    let h = Http::start_with(|s| s.max_streams = 2).await;
    let api = h.api();
    let app = api.create_application("sse").await.unwrap();
    let chat = api.create_chat(&app.token).await.unwrap().number;
    for body in ["one", "two", "three"] {
        api.create_message(&app.token, chat, body).await.unwrap();
    }
    api.update_message(&app.token, chat, MessageNumber::new(1).unwrap(), "uno")
        .await
        .unwrap();
    let base = format!("{}/api/v1/applications/{}/chats", h.url, app.token);
    let http = reqwest::Client::new();

    let missing = http
        .get(format!("{base}/9/messages/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    for bad in ["?after=x", "?after=-1", "?after=99999999999"] {
        let r = http
            .get(format!("{base}/{chat}/messages/stream{bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    let r = http
        .get(format!("{base}/{chat}/messages/stream"))
        .header("Last-Event-ID", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // `?after=1`: messages 2 and 3 as they are now, then an edit of 3 as it happens.
    let mut first = http
        .get(format!("{base}/{chat}/messages/stream?after=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    assert!(first.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    api.update_message(&app.token, chat, MessageNumber::new(3).unwrap(), "tres")
        .await
        .unwrap();
    api.delete_message(&app.token, chat, MessageNumber::new(2).unwrap())
        .await
        .unwrap();
    // Comment frames (`: …`, the keep-alive of an idle stream) are not events.
    let events_in = |text: &str| {
        text.split("\n\n")
            .filter(|f| !f.is_empty() && !f.starts_with(':'))
            .map(str::to_owned)
            .collect::<Vec<String>>()
    };
    // One deadline for all three events: the keep-alive comments keep each read short, so a
    // missing event would otherwise be waited for forever.
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while events_in(&text).len() < 4 || !text.ends_with("\n\n") {
        let chunk = tokio::time::timeout_at(deadline.into(), first.chunk())
            .await
            .unwrap_or_else(|_| panic!("4 events within 30 s, got: {text}"))
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let frames = events_in(&text);
    assert!(frames[0].starts_with("event: created\ndata: {"), "{text}");
    assert!(
        frames[0].contains("\"body\":\"two\"") && frames[0].ends_with("\nid: 2"),
        "{text}"
    );
    assert!(
        frames[1].contains("\"body\":\"three\"") && frames[1].ends_with("\nid: 3"),
        "{text}"
    );
    assert!(frames[2].starts_with("event: edited\ndata: {"), "{text}");
    assert!(
        frames[2].contains("\"body\":\"tres\"") && !frames[2].contains("\nid:"),
        "{text}"
    );
    // A deletion carries only the number, and no `id`.
    assert_eq!(frames[3], "event: deleted\ndata: {\"number\":2}", "{text}");

    // `Last-Event-ID` wins over `?after=`.
    let mut second = http
        .get(format!("{base}/{chat}/messages/stream?after=0"))
        .header("Last-Event-ID", "2")
        .send()
        .await
        .unwrap();
    let chunk = tokio::time::timeout(Duration::from_secs(30), second.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let chunk = String::from_utf8(chunk.to_vec()).unwrap();
    assert!(
        chunk.contains("\"number\":3") && !chunk.contains("\"number\":1"),
        "{chunk}"
    );

    // Two streams are open: the limit.
    let third = http
        .get(format!("{base}/{chat}/messages/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 503);
    assert!(third.headers().contains_key("retry-after"));
    let body: serde_json::Value = third.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(live::metric(&h.url, "chat_live_streams_open").await, 2.0);
    drop((first, second));
    wait_for_streams(&h.url, 0.0).await;

    let doc: serde_json::Value = http
        .get(format!("{}/openapi.json", h.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["paths"]["/api/v1/applications/{token}/chats/{number}/messages/stream"]["get"]
            .is_object()
    );
    h.stop().await;
}

/// Waits (at most 30 s) for `/metrics` to show `open` live streams.
async fn wait_for_streams(url: &str, open: f64) {
    let start = Instant::now();
    loop {
        let now = live::metric(url, "chat_live_streams_open").await;
        if now == open {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "/metrics shows {now} open streams, expected {open}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A chat-server process on the embedded profile, on a port of its own.
struct ServerProcess {
    child: Child,
    url: String,
}

impl ServerProcess {
    fn start(database_url: &str, port: u16) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server-process"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--log", "warn"])
            .args(["--database-url", database_url])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start server-process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .expect("listening line");
        ServerProcess {
            url: url.to_owned(),
            child,
        }
    }

    fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// The `chatctl` binary, built once per test process.
fn chatctl() -> &'static Path {
    static CHATCTL: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    CHATCTL.get_or_init(|| chat_tests::cargo_build(&["chatctl"]).remove(0))
}

fn database_url(dir: &Path) -> String {
    Embedded::url(dir)
}

/// The server process is stopped (SIGTERM ends every stream) and started again on the same
/// port and file mid-way: an `HttpClient` follower and a `chatctl message tail` both reconnect
/// by themselves and see exactly 1..=N.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn followers_survive_a_server_restart_with_nothing_lost_or_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(dir.path());
    let port = free_port();
    let mut server = ServerProcess::start(&url, port);
    let client: Arc<dyn ChatApi> = Arc::new(HttpClient::new(&server.url).unwrap());
    let app = client.create_application("restart").await.unwrap();
    let chat = client.create_chat(&app.token).await.unwrap().number;
    let mut events = client.follow(&app.token, chat, None).await.unwrap();
    let mut tail = Command::new(chatctl())
        .args([
            "--server",
            &server.url,
            "--output",
            "json",
            "message",
            "tail",
        ])
        .args([app.token.as_str(), "1", "--from", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let tail_out = BufReader::new(tail.stdout.take().unwrap());
    let tail_lines = std::thread::spawn(move || {
        let mut numbers = Vec::new();
        for line in tail_out.lines() {
            let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
            assert_eq!(v["event"], "created");
            numbers.push(v["message"]["number"].as_u64().unwrap() as u32);
            if numbers.len() == 2000 {
                break;
            }
        }
        numbers
    });

    let mut acknowledged = live::burst(Arc::clone(&client), &app.token, chat, 1000, 8, "a").await;
    let (mut created, mut edited) = (Vec::new(), Vec::new());
    read_until(&mut events, 500, 0, &mut created, &mut edited).await;
    server.terminate();
    let server = ServerProcess::start(&url, port);
    assert_eq!(server.url, format!("http://127.0.0.1:{port}"));
    let mut rest = live::burst(Arc::clone(&client), &app.token, chat, 1000, 8, "b").await;
    acknowledged.append(&mut rest);
    read_until(&mut events, 2000, 0, &mut created, &mut edited).await;
    assert_exactly_once(&created, &acknowledged);

    let numbers = tail_lines.join().unwrap();
    let _ = tail.kill();
    let _ = tail.wait();
    assert_eq!(numbers, (1..=2000).collect::<Vec<u32>>());
    drop(server);
}

/// Other processes writing to the server's SQLite file — a writer process with 8 concurrent
/// tasks, and `chatctl message send` (and `edit`, `delete`) in direct mode — reach the server's
/// followers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_of_other_processes_on_the_file_reach_the_servers_followers() {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(dir.path());
    let server = ServerProcess::start(&url, free_port());
    let client: Arc<dyn ChatApi> = Arc::new(HttpClient::new(&server.url).unwrap());
    let app = client.create_application("beside").await.unwrap();
    let chat = client.create_chat(&app.token).await.unwrap().number;
    let mut events = client.follow(&app.token, chat, None).await.unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_chat-writer"))
        .args([url.as_str(), app.token.as_str(), "1", "2000", "w"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut acknowledged: std::collections::BTreeMap<u32, String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (n, body) = l.split_once(' ').unwrap();
            (n.parse().unwrap(), body.to_owned())
        })
        .collect();
    for i in 0..3 {
        let body = format!("from chatctl {i}");
        let out = Command::new(chatctl())
            .args([
                "--database-url",
                &url,
                "--output",
                "json",
                "message",
                "send",
            ])
            .args([app.token.as_str(), "1", &body])
            .env_remove("CHAT_SERVER")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sent: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        acknowledged.insert(sent["number"].as_u64().unwrap() as u32, body);
    }
    let out = Command::new(chatctl())
        .args([
            "--database-url",
            &url,
            "message",
            "edit",
            app.token.as_str(),
            "1",
            "5",
        ])
        .arg("edited beside")
        .env_remove("CHAT_SERVER")
        .output()
        .unwrap();
    assert!(out.status.success());
    let (mut created, mut edited) = (Vec::new(), Vec::new());
    let started = Instant::now();
    read_until(&mut events, 2003, 1, &mut created, &mut edited).await;
    println!(
        "2,003 messages of other processes followed in {:?}",
        started.elapsed()
    );
    assert_exactly_once(&created, &acknowledged);
    assert_eq!(edited.len(), 1);
    assert_eq!(
        (edited[0].number.get(), edited[0].body.as_str()),
        (5, "edited beside")
    );
    // A delete by `chatctl` in direct mode reaches them too.
    let out = Command::new(chatctl())
        .args(["--database-url", &url, "message", "delete"])
        .args([app.token.as_str(), "1", "7", "--yes"])
        .env_remove("CHAT_SERVER")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let next = tokio::time::timeout(live::PATIENCE, events.next())
        .await
        .expect("the deletion within the patience")
        .expect("the stream goes on")
        .expect("no error");
    assert_eq!(
        next,
        chat_core::LiveEvent::Deleted {
            number: MessageNumber::new(7).unwrap()
        }
    );
}

/// 2,000 followers of one chat on one server process each receive every message; the
/// process's memory is printed and bounded; `/metrics` counts them and is back to 0 once they
/// disconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_followers_on_one_process_all_receive_every_message() {
    const FOLLOWERS: usize = 2000;
    const MESSAGES: u32 = 50;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&database_url(dir.path()), free_port());
    let pid = server.child.id();
    let client = HttpClient::new(&server.url).unwrap();
    let app = client.create_application("crowd").await.unwrap();
    let chat = client.create_chat(&app.token).await.unwrap().number;
    let idle = live::rss_kib(pid);

    let mut followers = Vec::with_capacity(FOLLOWERS);
    for _ in 0..FOLLOWERS {
        // A client each: one connection per follower, as browsers would have.
        let c = HttpClient::new(&server.url).unwrap();
        followers.push(c.follow(&app.token, chat, None).await.unwrap());
    }
    assert_eq!(
        live::metric(&server.url, "chat_live_streams_open").await,
        FOLLOWERS as f64
    );
    let with_followers = live::rss_kib(pid);
    let api: Arc<dyn ChatApi> = Arc::new(client.clone());
    let acknowledged = live::burst(api, &app.token, chat, MESSAGES, 8, "c").await;
    let received = futures::stream::iter(followers)
        .map(|mut events| async move {
            let (mut created, mut edited) = (Vec::new(), Vec::new());
            read_until(&mut events, MESSAGES, 0, &mut created, &mut edited).await;
            (created, events)
        })
        .buffer_unordered(FOLLOWERS)
        .collect::<Vec<_>>()
        .await;
    let peak = live::rss_kib(pid);
    let mut streams = Vec::with_capacity(FOLLOWERS);
    for (created, events) in received {
        assert_exactly_once(&created, &acknowledged);
        streams.push(events);
    }
    let sent = live::metric(&server.url, "chat_live_events_sent_total").await;
    assert_eq!(sent, (FOLLOWERS as u32 * MESSAGES) as f64);
    println!(
        "server RSS: {} MiB idle, {} MiB with {FOLLOWERS} followers, {} MiB after {MESSAGES} \
         messages to each",
        idle / 1024,
        with_followers / 1024,
        peak / 1024
    );
    assert!(
        peak < idle + 256 * 1024,
        "{FOLLOWERS} followers took {} MiB",
        (peak - idle) / 1024
    );
    drop(streams);
    wait_for_streams(&server.url, 0.0).await;
}

/// A follower on the server and a `ChatService` on the same file (another "process" of the
/// library) follow the same chat; both see each other's writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_services_on_one_file_follow_each_others_writes() {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(dir.path());
    let a: Arc<dyn ChatApi> = Arc::new(
        ChatService::open(&Config::with_database_url(&url))
            .await
            .unwrap(),
    );
    let b: Arc<dyn ChatApi> = Arc::new(
        ChatService::open(&Config::with_database_url(&url))
            .await
            .unwrap(),
    );
    live::burst_arrives_once_in_order(Arc::clone(&a), Arc::clone(&b), 2000, 8).await;
}
