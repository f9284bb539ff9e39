//! Real processes and real services for the distributed profile's cluster and fault tests:
//! chat-server processes in any role, a private Redis (AOF on) that a test may kill and
//! restart, a private MariaDB that a test may stop and start, and a fresh database on the
//! shared MariaDB. Everything listens on 127.0.0.1 and is stopped when dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat_core::{ChatApi, ChatNumber, Error, HttpClient, QueueStatus, Token};
use sqlx::{Connection, MySqlConnection, Row};

/// The admin token every cluster server is started with.
pub const ADMIN_TOKEN: &str = "cluster-admin-token";

/// A free TCP port on 127.0.0.1 (free when asked; taken by the caller right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// A chat-server process (the `server-process` binary of this package).
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// A client of it, with the admin token.
    pub client: HttpClient,
}

impl Server {
    /// Starts `server-process` with `--role ROLE` on the database and Redis prefix, plus
    /// `extra` flags; waits for its "listening on" line.
    pub fn spawn(
        binary: &Path,
        database_url: &str,
        redis_url: &str,
        prefix: &str,
        role: &str,
        extra: &[&str],
    ) -> Server {
        let mut child = Command::new(binary)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
                "--redis-url",
                redis_url,
                "--redis-prefix",
                prefix,
                "--role",
                role,
                "--admin-token",
                ADMIN_TOKEN,
                "--log",
                "warn",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start server-process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let Some(url) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            panic!("server-process ({role}) did not start: {line:?}");
        };
        let client = HttpClient::new(url)
            .expect("client")
            .with_admin_token(ADMIN_TOKEN);
        Server {
            child,
            url: url.to_owned(),
            client,
        }
    }

    /// Kills the process with SIGKILL (no shutdown of any kind) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the graceful exit.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// The queue as this server reports it.
    pub async fn queue(&self) -> QueueStatus {
        self.client.queue_status().await.expect("queue status")
    }

    /// Waits until the queue is empty (nothing waiting, nothing held by a worker).
    pub async fn wait_for_drain(&self, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if let Ok(q) = self.client.queue_status().await {
                if q.depth == 0 && q.pending == 0 {
                    return started.elapsed();
                }
                assert!(
                    started.elapsed() < limit,
                    "the queue did not drain within {limit:?}: {q:?}"
                );
            }
            assert!(
                started.elapsed() < limit,
                "the queue did not drain within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Redis of its own (AOF on, `appendfsync everysec`, no snapshots), which a test can kill
/// and restart on the same port and data folder.
pub struct PrivateRedis {
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl PrivateRedis {
    /// Starts it and waits until it answers.
    pub async fn start() -> PrivateRedis {
        let mut redis = PrivateRedis {
            child: None,
            dir: tempfile::tempdir().expect("temp dir"),
            port: free_port(),
        };
        redis.launch().await;
        redis
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn launch(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--appendonly", "yes", "--appendfsync", "everysec"])
            .args(["--save", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start redis-server (tests/services/services.sh start redis installs it)");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if self.ping().await {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "redis did not answer"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
            return false;
        };
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .is_ok()
    }

    /// A connection to it.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the private redis")
    }

    /// SIGKILL: the process dies at once, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data (the AOF is replayed).
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn services_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("services/services.sh")
}

/// A MariaDB of its own, run by `tests/services/services.sh` in a private folder and port, so
/// a test can stop it and start it again without disturbing the others.
pub struct PrivateMariadb {
    dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl PrivateMariadb {
    /// Installs (when missing) and starts it, with the `chat` account and database.
    pub fn start() -> PrivateMariadb {
        let db = PrivateMariadb {
            dir: tempfile::tempdir().expect("temp dir"),
            port: free_port(),
        };
        db.services("start");
        db
    }

    fn services(&self, action: &str) {
        let status = Command::new(services_script())
            .args([action, "mariadb"])
            .env("CHAT_SERVICES_DIR", self.dir.path())
            .env("CHAT_SERVICES_MYSQL_PORT", self.port.to_string())
            .stdout(Stdio::null())
            .status()
            .expect("run services.sh");
        assert!(status.success(), "services.sh {action} mariadb failed");
    }

    /// `mysql://chat:chat@127.0.0.1:PORT/chat`.
    pub fn url(&self) -> String {
        format!("mysql://chat:chat@127.0.0.1:{}/chat", self.port)
    }

    /// Stops the server process (SIGTERM, as an operator would) and waits until it is gone;
    /// its data stays.
    pub fn stop_process(&self) {
        let pidfile = self.dir.path().join("mariadb/mysqld.pid");
        let pid = std::fs::read_to_string(&pidfile).expect("mariadb pid file");
        let pid = pid.trim().to_owned();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "mariadb did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the server again on its data.
    pub fn start_again(&self) {
        self.services("start");
    }
}

impl Drop for PrivateMariadb {
    fn drop(&mut self) {
        let _ = Command::new(services_script())
            .args(["stop", "mariadb"])
            .env("CHAT_SERVICES_DIR", self.dir.path())
            .env("CHAT_SERVICES_MYSQL_PORT", self.port.to_string())
            .stdout(Stdio::null())
            .status();
    }
}

/// A fresh database `chat_<random>` on the MariaDB of `admin_url`; returns its name and URL.
pub async fn create_database(admin_url: &str) -> (String, String) {
    let token = chat_core::Token::generate();
    let database = format!("chat_{}", &token.as_str()[..16]);
    let mut admin = MySqlConnection::connect(admin_url)
        .await
        .expect("connect to the MariaDB");
    sqlx::query(&format!(
        "CREATE DATABASE {database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ))
    .execute(&mut admin)
    .await
    .expect("create the test database");
    let _ = admin.close().await;
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("a database URL with a path");
    (database.clone(), format!("{base}/{database}"))
}

/// Drops a database made by [`create_database`].
pub async fn drop_database(admin_url: &str, database: &str) {
    let mut admin = MySqlConnection::connect(admin_url)
        .await
        .expect("connect to the MariaDB");
    sqlx::query(&format!("DROP DATABASE {database}"))
        .execute(&mut admin)
        .await
        .expect("drop the test database");
    let _ = admin.close().await;
}

/// The `chatctl` binary (both profiles are always built in), once per test process.
pub fn chatctl() -> &'static Path {
    static CHATCTL: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CHATCTL.get_or_init(|| crate::cargo_build(&["chatctl"]).remove(0))
}

/// One acknowledged message: chat number, message number, body.
pub type Ack = (u32, u32, String);

/// Every persisted message of the database: (chat, number) → bodies stored under it.
pub async fn stored(database_url: &str) -> BTreeMap<(u32, u32), Vec<String>> {
    let mut db = MySqlConnection::connect(database_url).await.unwrap();
    let rows = sqlx::query(
        "SELECT c.number, m.number, m.body FROM messages m JOIN chats c ON c.id = m.chat_id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let mut out: BTreeMap<(u32, u32), Vec<String>> = BTreeMap::new();
    for r in rows {
        let (c, m, b): (i32, i32, String) = (r.get(0), r.get(1), r.get(2));
        out.entry((c.unsigned_abs(), m.unsigned_abs()))
            .or_default()
            .push(b);
    }
    out
}

/// The stored counts: the applications' `chats_count` summed, and each chat's
/// `messages_count`.
pub async fn stored_counts(database_url: &str) -> (i64, BTreeMap<u32, i64>) {
    let mut db = MySqlConnection::connect(database_url).await.unwrap();
    let chats: i64 =
        sqlx::query_scalar("SELECT CAST(SUM(chats_count) AS SIGNED) FROM applications")
            .fetch_one(&mut db)
            .await
            .unwrap();
    let rows = sqlx::query("SELECT number, messages_count FROM chats")
        .fetch_all(&mut db)
        .await
        .unwrap();
    let per_chat = rows
        .iter()
        .map(|r| {
            let (n, c): (i32, i64) = (r.get(0), r.get(1));
            (n.unsigned_abs(), c)
        })
        .collect();
    (chats, per_chat)
}

/// Every ack is stored once under its number with its body; nothing is stored twice.
pub fn assert_all_persisted(acks: &[Ack], rows: &BTreeMap<(u32, u32), Vec<String>>) {
    let mut seen = BTreeSet::new();
    for (chat, number, body) in acks {
        assert!(
            seen.insert((*chat, *number)),
            "message {number} of chat {chat} was acknowledged twice"
        );
        let bodies = rows
            .get(&(*chat, *number))
            .unwrap_or_else(|| panic!("acknowledged message {chat}/{number} was lost"));
        assert_eq!(bodies, &vec![body.clone()], "message {chat}/{number}");
    }
}

/// Numbers 1..=n for each chat, without a gap.
pub fn assert_gapless(acks: &[Ack]) {
    let mut per_chat: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (chat, number, _) in acks {
        per_chat.entry(*chat).or_default().push(*number);
    }
    for (chat, mut numbers) in per_chat {
        numbers.sort_unstable();
        let expected: Vec<u32> = (1..=u32::try_from(numbers.len()).unwrap()).collect();
        assert_eq!(numbers, expected, "numbers of chat {chat}");
    }
}

/// Creates messages from `tasks` tasks over `chats` chats (round-robin over the clients, each
/// task starting at another chat) until `stop`, given the count acknowledged so far, says so;
/// a refused create is retried after 50 ms. The acks and the errors.
pub async fn create_until(
    clients: &[HttpClient],
    token: &Token,
    chats: u32,
    tasks: u32,
    stop: impl Fn(usize) -> bool + Send + Sync + 'static,
) -> (Vec<Ack>, Vec<Error>) {
    let acks = Arc::new(Mutex::new(Vec::<Ack>::new()));
    let errors = Arc::new(Mutex::new(Vec::<Error>::new()));
    let stop = Arc::new(stop);
    let handles: Vec<_> = (0..tasks)
        .map(|w| {
            let client = clients[w as usize % clients.len()].clone();
            let (token, acks, errors, stop) = (
                token.clone(),
                Arc::clone(&acks),
                Arc::clone(&errors),
                Arc::clone(&stop),
            );
            tokio::spawn(async move {
                for i in 0u32.. {
                    let done = acks.lock().unwrap().len();
                    if stop(done) {
                        return;
                    }
                    let chat = ChatNumber::new((w * 7 + i) % chats + 1).unwrap();
                    let body = format!("task {w} message {i}");
                    match client.create_message(&token, chat, &body).await {
                        Ok(m) => acks
                            .lock()
                            .unwrap()
                            .push((chat.get(), m.number.get(), body)),
                        Err(e) => {
                            errors.lock().unwrap().push(e);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let acks = acks.lock().unwrap().clone();
    let errors = errors.lock().unwrap().clone();
    (acks, errors)
}
