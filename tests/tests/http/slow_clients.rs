//! Slow and stalled clients cannot hold connections.

use std::time::{Duration, Instant};

use chat_tests::{Harness, Http};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection; the time it took, or `None` if it was
/// still open after `bound`.
async fn closed_within(
    stream: &mut TcpStream,
    start: Instant,
    bound: Duration,
) -> Option<Duration> {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((start + bound).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_and_idle_connections_are_closed_while_others_are_served() {
    let timeout = Duration::from_secs(1);
    let server = Http::start_limited(chat_server::Limits {
        header_timeout: timeout,
        ..chat_server::Limits::default()
    })
    .await;
    let addr = server.url.trim_start_matches("http://").to_owned();
    let start = Instant::now();
    let mut slow = Vec::new();
    for i in 0..40 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        match i % 4 {
            // Headers started, never finished.
            0 => s
                .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap(),
            // Only part of the request line.
            1 => s.write_all(b"GET /api/v1/appl").await.unwrap(),
            // Connected, nothing sent.
            2 => {}
            // A complete request, then idle on a keep-alive connection.
            _ => {
                s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .unwrap();
                let mut buf = [0u8; 12];
                s.read_exact(&mut buf).await.unwrap();
                assert_eq!(&buf, b"HTTP/1.1 200");
            }
        }
        slow.push(s);
    }
    // A slowloris trickling one header byte at a time, slower than the timeout allows.
    let mut trickle = TcpStream::connect(&addr).await.unwrap();
    let trickled = tokio::spawn(async move {
        for b in b"GET /health HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if trickle.write_all(&[*b]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });

    // Meanwhile the server answers everyone else.
    let http = reqwest::Client::new();
    for _ in 0..20 {
        let resp = http
            .get(format!("{}/health", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    for (i, s) in slow.iter_mut().enumerate() {
        let took = closed_within(s, start, Duration::from_secs(10)).await;
        let took = took.unwrap_or_else(|| panic!("connection {i} still open after 10 s"));
        assert!(
            took >= timeout,
            "connection {i} closed after {took:?}, before the timeout"
        );
    }
    assert!(
        trickled.await.unwrap(),
        "the trickling client was never cut off"
    );
    // And still serves new clients.
    let resp = http
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    server.stop().await;
}
