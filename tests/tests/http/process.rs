//! chat-server as a process: SIGTERM under load finishes cleanly, and neither SIGTERM nor
//! SIGKILL loses an acknowledged write.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use chat_core::{ChatApi, ChatNumber, ChatService, Config, HttpClient, MessageNumber};
use chat_tests::Embedded;

fn start(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server-process"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &Embedded::url(dir),
            "--log",
            "warn",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_owned();
    (child, url)
}

/// Creates messages from 32 tasks until the server stops answering; returns every ack.
async fn load_until_stopped(url: &str, signal: &str, pid: u32) -> Vec<(u32, u32, String)> {
    let client = HttpClient::new(url).unwrap();
    let app = client.create_application("signals").await.unwrap();
    for _ in 0..4 {
        client.create_chat(&app.token).await.unwrap();
    }
    let acks = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..32u32)
        .map(|w| {
            let (client, token, acks) = (client.clone(), app.token.clone(), Arc::clone(&acks));
            tokio::spawn(async move {
                for i in 0..100_000u32 {
                    let chat = ChatNumber::new(w % 4 + 1).unwrap();
                    let body = format!("w{w}-{i}");
                    match client.create_message(&token, chat, &body).await {
                        Ok(m) => acks
                            .lock()
                            .unwrap()
                            .push((chat.get(), m.number.get(), body)),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    while acks.lock().unwrap().len() < 1500 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acks = acks.lock().unwrap().clone();
    acks
}

async fn verify(dir: &std::path::Path, acks: &[(u32, u32, String)]) {
    let service = ChatService::open(&Config::with_database_url(Embedded::url(dir)))
        .await
        .unwrap();
    let apps = service.list_applications(Default::default()).await.unwrap();
    let token = &apps.items[0].token;
    for (chat, number, body) in acks {
        let m = service
            .get_message(
                token,
                ChatNumber::new(*chat).unwrap(),
                MessageNumber::new(*number).unwrap(),
            )
            .await
            .unwrap_or_else(|e| panic!("acknowledged message {chat}/{number} lost: {e}"));
        assert_eq!(&m.body, body);
    }
    service.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_finishes_cleanly_and_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = start(dir.path());
    let acks = load_until_stopped(&url, "-TERM", child.id()).await;
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "chat-server exited with {status}");
    assert!(acks.len() >= 1500);
    verify(dir.path(), &acks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = start(dir.path());
    let acks = load_until_stopped(&url, "-KILL", child.id()).await;
    let _ = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap();
    assert!(acks.len() >= 1500);
    verify(dir.path(), &acks).await;
}
