//! `HttpClient` gives up on a server that accepts and never answers.

use std::time::{Duration, Instant};

use chat_core::{ChatApi, Error, HttpClient, NoProgress, Token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_jobs_are_bounded_by_their_timeouts() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let client = HttpClient::new(&url)
        .unwrap()
        .with_timeout(Duration::from_millis(500))
        .with_job_timeout(Duration::from_millis(800));
    let start = Instant::now();
    let err = client
        .get_application(&Token::generate())
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(
        matches!(&err, Error::Unavailable { backend, reason } if backend == "server" && reason.starts_with("no answer in time")),
        "{err:?}"
    );
    let start = Instant::now();
    let err = client.recount(None, NoProgress::arc()).await.unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(5),
        "the job waited {took:?}, not its own timeout"
    );
}
