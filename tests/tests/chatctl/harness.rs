//! Running the binaries: builds `chatctl` and `chat-server` once with the same cargo, profile
//! and target folder as this test (cargo only tells a test where its own package's binaries
//! are) and takes their paths from cargo's JSON messages, so they are never stale; starts a
//! chat-server on a free port; runs chatctl on a fresh database, directly or through a server.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

struct Binaries {
    chatctl: PathBuf,
    server: PathBuf,
}

fn binaries() -> &'static Binaries {
    static BINARIES: OnceLock<Binaries> = OnceLock::new();
    BINARIES.get_or_init(build_binaries)
}

fn build_binaries() -> Binaries {
    let built = chat_tests::cargo_build(&["chatctl", "chat-server"]);
    Binaries {
        chatctl: built[0].clone(),
        server: built[1].clone(),
    }
}

/// The chat-server binary.
#[allow(dead_code)]
pub fn server_binary() -> &'static Path {
    &binaries().server
}

/// Variables of the environment the binaries read; cleared so the host's never leak in.
pub const CHAT_VARS: &[&str] = &[
    "CHAT_SERVER",
    "CHAT_DATABASE_URL",
    "CHAT_REDIS_URL",
    "CHAT_ELASTICSEARCH_URL",
    "CHAT_ADMIN_TOKEN",
    "CHAT_LISTEN",
    "CHAT_RATE_LIMIT",
    "NO_COLOR",
];

pub const ADMIN_TOKEN: &str = "test-admin-token";

/// A chat-server on a free port, killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        Server::start_with(dir, &[])
    }

    /// Starts a server with `extra` flags (e.g. `--rate-limit 20`).
    pub fn start_with(dir: &Path, extra: &[&str]) -> Server {
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let mut cmd = Command::new(&binaries().server);
        for var in CHAT_VARS {
            cmd.env_remove(var);
        }
        let mut child = cmd
            .args(["--listen", "127.0.0.1:0", "--admin-token", ADMIN_TOKEN])
            .arg("--database-url")
            .arg(database_url(dir))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn chat-server");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let Some(url) = first.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            panic!("chat-server printed {first:?} instead of its address; its log:\n{log}");
        };
        let url = url.to_owned();
        // Keep reading, so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Server { child, url }
    }

    /// The server's process id (for `bench --cpu`).
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn database_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("chat.db").display())
}

/// chatctl pointed at a fresh database: directly, or through a chat-server on it.
pub struct Ctl {
    pub dir: tempfile::TempDir,
    pub server: Option<Server>,
}

/// What one run of chatctl did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ctl {
    pub fn direct() -> Ctl {
        Ctl {
            dir: tempfile::tempdir().unwrap(),
            server: None,
        }
    }

    pub fn http() -> Ctl {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(dir.path());
        Ctl {
            dir,
            server: Some(server),
        }
    }

    /// chatctl with no connection flags, in the temp folder.
    pub fn bare(&self) -> Command {
        let mut cmd = Command::new(&binaries().chatctl);
        for var in CHAT_VARS {
            cmd.env_remove(var);
        }
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        cmd
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.bare();
        match &self.server {
            Some(s) => cmd.args(["--server", &s.url, "--admin-token", ADMIN_TOKEN]),
            None => cmd.arg("--database-url").arg(database_url(self.dir.path())),
        };
        cmd.args(args);
        cmd
    }

    pub fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = self.cmd(args);
        let out = match stdin {
            None => cmd.output().unwrap(),
            Some(input) => {
                let mut child = cmd
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                let mut pipe = child.stdin.take().unwrap();
                let input = input.to_owned();
                let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
                let out = child.wait_with_output().unwrap();
                writer.join().unwrap().unwrap();
                out
            }
        };
        finished(out)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None)
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "chatctl {args:?} failed: {}", r.stderr);
        r.stdout
    }

    /// Runs a command with `--json`; checks it succeeded and printed ids-free JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.ok(&all);
        let value: Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"));
        assert_no_ids(&value);
        value
    }

    /// Exit code of a command that must fail, checking it said so in one line on stderr.
    pub fn fails(&self, args: &[&str]) -> (i32, String) {
        let r = self.run(args);
        assert_ne!(r.code, 0, "chatctl {args:?} succeeded: {}", r.stdout);
        assert!(r.stderr.starts_with("error: "), "{args:?}: {}", r.stderr);
        assert_eq!(
            r.stderr.trim_end().lines().count(),
            1,
            "{args:?}: {}",
            r.stderr
        );
        (r.code, r.stderr)
    }

    pub fn new_app(&self, name: &str) -> String {
        self.json(&["app", "create", name])["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

pub fn finished(out: Output) -> Run {
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Invariant 7: no `id` or `*_id` field anywhere.
pub fn assert_no_ids(value: &Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                assert!(
                    k != "id" && !k.ends_with("_id"),
                    "internal id {k:?} in output"
                );
                assert_no_ids(v);
            }
        }
        Value::Array(items) => items.iter().for_each(assert_no_ids),
        _ => {}
    }
}

pub fn numbers(list: &Value) -> Vec<u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["number"].as_u64().unwrap())
        .collect()
}

/// The header row of a table: the words of its first line holding text.
pub fn header(table: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| l.chars().any(char::is_alphabetic))
        .unwrap_or_default();
    line.split(['│', '┆', '\t'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}
