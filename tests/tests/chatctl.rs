//! The `chatctl` binary run as a process: every command directly on a fresh SQLite file and
//! against a spawned chat-server, JSON parsed and checked, tables checked for their columns,
//! the documented exit codes, stdin input, bulk import, recount of corrupted counts, and the
//! shell completions kept in `completions/`.
//!
//! Cargo only tells a test where the binaries of its own package are, so the first test to need
//! them builds `chatctl` and `chat-server` with the same cargo, profile and target folder as this
//! test, and takes their paths from cargo's JSON messages: the binaries are never stale.
//!
//! When the command line changes, regenerate the completions with
//! `UPDATE_COMPLETIONS=1 cargo test -p chat-tests --test chatctl completions`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// Paths of the freshly built binaries.
struct Binaries {
    chatctl: PathBuf,
    server: PathBuf,
}

fn binaries() -> &'static Binaries {
    static BINARIES: OnceLock<Binaries> = OnceLock::new();
    BINARIES.get_or_init(build_binaries)
}

fn build_binaries() -> Binaries {
    // This test runs from TARGET/PROFILE/deps/; build into the same TARGET and PROFILE.
    let exe = std::env::current_exe().expect("own path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/PROFILE");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .args([
            "build",
            "-p",
            "chatctl",
            "-p",
            "chat-server",
            "--profile",
            profile,
        ])
        .args(["--message-format", "json-render-diagnostics"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit());
    if std::env::var_os("CARGO_TARGET_DIR").is_none() {
        if let Some(target) = profile_dir.parent() {
            cargo.arg("--target-dir").arg(target);
        }
    }
    let out = cargo.output().expect("run cargo build");
    assert!(
        out.status.success(),
        "cargo build -p chatctl -p chat-server failed"
    );
    let mut found = (None, None);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let (Some(name), Some(path)) = (msg["target"]["name"].as_str(), msg["executable"].as_str())
        else {
            continue;
        };
        match name {
            "chatctl" => found.0 = Some(PathBuf::from(path)),
            "chat-server" => found.1 = Some(PathBuf::from(path)),
            _ => {}
        }
    }
    Binaries {
        chatctl: found.0.expect("cargo built no chatctl"),
        server: found.1.expect("cargo built no chat-server"),
    }
}

/// Variables of the environment the binaries read; cleared so the host's never leak in.
const CHAT_VARS: &[&str] = &[
    "CHAT_SERVER",
    "CHAT_DATABASE_URL",
    "CHAT_REDIS_URL",
    "CHAT_ELASTICSEARCH_URL",
    "CHAT_ADMIN_TOKEN",
    "CHAT_LISTEN",
    "CHAT_RATE_LIMIT",
    "NO_COLOR",
];

const ADMIN_TOKEN: &str = "test-admin-token";

/// A chat-server on a free port, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let mut cmd = Command::new(&binaries().server);
        for var in CHAT_VARS {
            cmd.env_remove(var);
        }
        let mut child = cmd
            .args(["--listen", "127.0.0.1:0", "--admin-token", ADMIN_TOKEN])
            .arg("--database-url")
            .arg(database_url(dir))
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
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn database_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("chat.db").display())
}

/// chatctl pointed at a fresh database: directly, or through a chat-server on it.
struct Ctl {
    dir: tempfile::TempDir,
    server: Option<Server>,
}

/// What one run of chatctl did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ctl {
    fn direct() -> Ctl {
        Ctl {
            dir: tempfile::tempdir().unwrap(),
            server: None,
        }
    }

    fn http() -> Ctl {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(dir.path());
        Ctl {
            dir,
            server: Some(server),
        }
    }

    /// chatctl with no connection flags, in the temp folder.
    fn bare(&self) -> Command {
        let mut cmd = Command::new(&binaries().chatctl);
        for var in CHAT_VARS {
            cmd.env_remove(var);
        }
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        cmd
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.bare();
        match &self.server {
            Some(s) => cmd.args(["--server", &s.url, "--admin-token", ADMIN_TOKEN]),
            None => cmd.arg("--database-url").arg(database_url(self.dir.path())),
        };
        cmd.args(args);
        cmd
    }

    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Run {
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

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None)
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "chatctl {args:?} failed: {}", r.stderr);
        r.stdout
    }

    /// Runs a command with `--json`; checks it succeeded and printed ids-free JSON.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.ok(&all);
        let value: Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"));
        assert_no_ids(&value);
        value
    }

    /// Exit code of a command that must fail, checking it said so in one line on stderr.
    fn fails(&self, args: &[&str]) -> (i32, String) {
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

    fn new_app(&self, name: &str) -> String {
        self.json(&["app", "create", name])["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn finished(out: Output) -> Run {
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Invariant 7: no `id` or `*_id` field anywhere.
fn assert_no_ids(value: &Value) {
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

fn numbers(list: &Value) -> Vec<u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["number"].as_u64().unwrap())
        .collect()
}

/// The header row of a table: the words of its first line holding text.
fn header(table: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| l.chars().any(char::is_alphabetic))
        .unwrap_or_default();
    line.split(['│', '┆'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

// ---- the scenarios, each run directly and over HTTP ----

fn applications_are_created_shown_listed_and_renamed(ctl: &Ctl) {
    let app = ctl.json(&["app", "create", "support"]);
    let token = app["token"].as_str().unwrap();
    assert_eq!(token.len(), 32);
    assert_eq!(app["name"], "support");
    assert_eq!(app["chats_count"], 0);
    for key in ["created_at", "updated_at"] {
        assert!(app[key].as_str().unwrap().ends_with('Z'), "{key}: {app}");
    }
    assert_eq!(ctl.json(&["app", "show", token]), app);
    let renamed = ctl.json(&["app", "rename", token, "helpdesk"]);
    assert_eq!(
        (renamed["token"].as_str(), renamed["name"].as_str()),
        (Some(token), Some("helpdesk"))
    );
    let other = ctl.new_app("sales");
    let list = ctl.json(&["app", "list"]);
    let tokens: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, [token, other.as_str()], "creation order");
    let table = ctl.ok(&["app", "list"]);
    assert_eq!(
        header(&table),
        ["token", "name", "chats", "created (UTC)", "updated (UTC)"]
    );
    assert!(table.contains(token) && table.contains("helpdesk") && table.contains("sales"));
    assert!(!table.contains('\x1b'), "no colour off a terminal");
}

fn chats_are_numbered_per_application(ctl: &Ctl) {
    let (a, b) = (ctl.new_app("a"), ctl.new_app("b"));
    for expected in 1..=3 {
        assert_eq!(ctl.json(&["chat", "create", &a])["number"], expected);
    }
    assert_eq!(ctl.json(&["chat", "create", &b])["number"], 1);
    assert_eq!(numbers(&ctl.json(&["chat", "list", &a])), [1, 2, 3]);
    let chat = ctl.json(&["chat", "show", &a, "2"]);
    assert_eq!(
        (chat["number"].as_u64(), chat["messages_count"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(ctl.json(&["app", "show", &a])["chats_count"], 3);
    assert_eq!(
        header(&ctl.ok(&["chat", "list", &a])),
        ["number", "messages", "created (UTC)"]
    );
    assert_eq!(
        header(&ctl.ok(&["chat", "show", &a, "1"])),
        ["number", "messages", "created (UTC)"]
    );
}

fn messages_are_sent_from_arguments_and_stdin_listed_shown_and_edited(ctl: &Ctl) {
    let t = ctl.new_app("talk");
    ctl.ok(&["chat", "create", &t]);
    let first = ctl.json(&["message", "send", &t, "1", "hello there"]);
    assert_eq!(
        (first["number"].as_u64(), first["body"].as_str()),
        (Some(1), Some("hello there"))
    );
    // `-` and a missing BODY both read stdin; the final line break is not part of the body.
    let r = ctl.run_with(
        &["message", "send", &t, "1", "-", "--json"],
        Some("from a pipe\n"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let piped: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (piped["number"].as_u64(), piped["body"].as_str()),
        (Some(2), Some("from a pipe"))
    );
    let r = ctl.run_with(
        &["message", "send", &t, "1", "--json"],
        Some("line one\nline two\n"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&r.stdout).unwrap()["body"],
        "line one\nline two"
    );

    let list = ctl.json(&["message", "list", &t, "1"]);
    assert_eq!(numbers(&list), [1, 2, 3]);
    assert_eq!(
        ctl.json(&["message", "show", &t, "1", "2"])["body"],
        "from a pipe"
    );
    let edited = ctl.json(&["message", "edit", &t, "1", "1", "hello again"]);
    assert_eq!(
        (edited["number"].as_u64(), edited["body"].as_str()),
        (Some(1), Some("hello again"))
    );
    assert_eq!(ctl.json(&["chat", "show", &t, "1"])["messages_count"], 3);

    let long = "a long body ".repeat(30);
    ctl.ok(&["message", "send", &t, "1", &long]);
    let table = ctl.ok(&["message", "list", &t, "1"]);
    assert_eq!(&header(&table)[..3], ["number", "body", "created (UTC)"]);
    assert!(
        table.contains("hello again") && table.contains('…'),
        "long bodies are cut:\n{table}"
    );
    assert!(!table.contains(&long), "{table}");
    // `show` prints the table row, then the whole body.
    assert!(ctl.ok(&["message", "show", &t, "1", "4"]).contains(&long));
}

fn search_finds_any_part_of_a_word_in_one_chat(ctl: &Ctl) {
    let t = ctl.new_app("search");
    ctl.ok(&["chat", "create", &t]);
    ctl.ok(&["chat", "create", &t]);
    for body in [
        "Wonderful weather",
        "wonder why",
        "nothing here",
        "so wonderful",
    ] {
        ctl.ok(&["message", "send", &t, "1", body]);
    }
    ctl.ok(&["message", "send", &t, "2", "wonderful, but in chat 2"]);
    let hits = ctl.json(&["search", &t, "1", "onderf"]);
    let mut found = numbers(&hits);
    found.sort_unstable();
    assert_eq!(found, [1, 4]);
    let page1 = numbers(&ctl.json(&["search", &t, "1", "wonder", "--limit", "2"]));
    let page2 = numbers(&ctl.json(&["search", &t, "1", "wonder", "--limit", "2", "--offset", "2"]));
    assert_eq!((page1.len(), page2.len()), (2, 1));
    assert!(page2.iter().all(|n| !page1.contains(n)));
    assert_eq!(
        ctl.json(&["search", &t, "1", "absent"]),
        Value::Array(vec![])
    );
    assert_eq!(
        header(&ctl.ok(&["search", &t, "1", "onderf"]))[..2],
        ["number", "body"]
    );
    assert_eq!(ctl.fails(&["search", &t, "1", "  "]).0, 4, "blank query");
}

fn lists_page_with_limit_and_after_and_follow_pages_with_all(ctl: &Ctl) {
    let t = ctl.new_app("pages");
    ctl.ok(&["chat", "create", &t]);
    let input: String = (1..=7).map(|i| format!("message {i}\n")).collect();
    let r = ctl.run_with(&["import", &t, "1", "-"], Some(&input));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = ctl.run(&["message", "list", &t, "1", "--limit", "3", "--json"]);
    assert_eq!(
        numbers(&serde_json::from_str(&first.stdout).unwrap()),
        [1, 2, 3]
    );
    assert!(
        first.stderr.contains("--after 3"),
        "says how to go on: {}",
        first.stderr
    );
    assert_eq!(
        numbers(&ctl.json(&["message", "list", &t, "1", "--limit", "3", "--after", "3"])),
        [4, 5, 6]
    );
    assert_eq!(
        numbers(&ctl.json(&["message", "list", &t, "1", "--limit", "2", "--all"])),
        [1, 2, 3, 4, 5, 6, 7]
    );
    assert_eq!(
        numbers(&ctl.json(&["message", "list", &t, "1", "--limit", "2", "--after", "5", "--all"])),
        [6, 7]
    );
    for _ in 0..3 {
        ctl.ok(&["chat", "create", &t]);
    }
    assert_eq!(
        numbers(&ctl.json(&["chat", "list", &t, "--limit", "1", "--all"])),
        [1, 2, 3, 4]
    );
    let other = ctl.new_app("second");
    let apps = ctl.json(&["app", "list", "--limit", "1", "--all"]);
    assert_eq!(apps.as_array().unwrap().len(), 2);
    let after_first = ctl.json(&["app", "list", "--after", &t]);
    assert_eq!(after_first[0]["token"].as_str(), Some(other.as_str()));
    assert_eq!(
        ctl.fails(&["message", "list", &t, "1", "--limit", "0"]).0,
        4
    );
    assert_eq!(
        ctl.fails(&["message", "list", &t, "1", "--after", "x"]).0,
        4
    );
}

fn failures_exit_with_their_documented_codes(ctl: &Ctl) {
    let t = ctl.new_app("codes");
    ctl.ok(&["chat", "create", &t]);
    let unknown = "0123456789abcdef0123456789abcdef";
    let (code, err) = ctl.fails(&["app", "show", unknown]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains(unknown), "names what is missing: {err}");
    assert_eq!(ctl.fails(&["chat", "show", &t, "9"]).0, 3);
    assert_eq!(ctl.fails(&["message", "show", &t, "1", "9"]).0, 3);
    assert_eq!(ctl.fails(&["message", "send", unknown, "1", "hi"]).0, 3);
    let (code, err) = ctl.fails(&["app", "show", "not-a-token"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("malformed"), "{err}");
    assert_eq!(ctl.fails(&["chat", "show", &t, "zero"]).0, 4);
    assert_eq!(ctl.fails(&["chat", "show", &t, "0"]).0, 4);
    let (code, err) = ctl.fails(&["message", "send", &t, "1", "   "]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("body"), "{err}");
    let r = ctl.run_with(&["message", "send", &t, "1"], Some(""));
    assert_eq!(r.code, 4, "empty stdin is an empty body: {}", r.stderr);
    assert_eq!(ctl.fails(&["app", "create", ""]).0, 4);
    assert_eq!(ctl.fails(&["import", &t, "1", "no-such-file.txt"]).0, 1);
    // Nothing of the refused input was stored.
    assert_eq!(ctl.json(&["chat", "show", &t, "1"])["messages_count"], 0);
}

fn import_of_10000_lines_numbers_them_1_to_10000(ctl: &Ctl) {
    let t = ctl.new_app("bulk");
    ctl.ok(&["chat", "create", &t]);
    let file = ctl.dir.path().join("bodies.txt");
    let text: String = (1..=10_000)
        .map(|i| format!("bulk message {i}\n"))
        .collect();
    std::fs::write(&file, text).unwrap();
    let r = ctl.run(&["import", &t, "1", file.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["imported"], 10_000);
    assert_eq!(
        (
            report["first_number"].as_u64(),
            report["last_number"].as_u64()
        ),
        (Some(1), Some(10_000))
    );
    assert!(report["messages_per_second"].as_u64().unwrap() > 0);
    let summary = r.stderr.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("import: 10,000 messages") && summary.contains("messages/s)"),
        "{}",
        r.stderr
    );

    let all = ctl.json(&["message", "list", &t, "1", "--all"]);
    assert_eq!(numbers(&all), (1..=10_000).collect::<Vec<u64>>());
    let mut bodies: Vec<_> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 10_000, "every line became one message");
    assert_eq!(
        ctl.json(&["chat", "show", &t, "1"])["messages_count"],
        10_000
    );

    // JSON Lines from stdin, continuing the numbering; a bad line refuses the whole input.
    let jsonl = "{\"body\": \"first\\nof two lines\"}\n\n{\"body\": \"second\"}\n";
    let r = ctl.run_with(&["import", &t, "1", "-", "--json"], Some(jsonl));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (report["imported"].as_u64(), report["last_number"].as_u64()),
        (Some(2), Some(10_002))
    );
    let r = ctl.run_with(
        &["import", &t, "1", "-"],
        Some("{\"body\": \"ok\"}\n{\"body\": \"\"}\n"),
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("line 2"), "{}", r.stderr);
    assert_eq!(
        ctl.json(&["chat", "show", &t, "1"])["messages_count"],
        10_002
    );
    let table = ctl.run_with(&["import", &t, "1", "-"], Some("one more\n"));
    assert_eq!(
        header(&table.stdout),
        ["imported", "numbers", "duration", "rate"]
    );
}

fn recount_fixes_corrupted_counts_and_says_what_it_changed(ctl: &Ctl) {
    let t = ctl.new_app("drift");
    for _ in 0..2 {
        ctl.ok(&["chat", "create", &t]);
    }
    for body in ["one", "two", "three"] {
        ctl.ok(&["message", "send", &t, "1", body]);
    }
    corrupt(&ctl.dir.path().join("chat.db"));
    assert_eq!(ctl.json(&["chat", "show", &t, "1"])["messages_count"], 99);

    let r = ctl.run(&["recount", "--app", &t]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        header(&r.stdout),
        ["application", "chat", "field", "was", "now"]
    );
    assert!(
        r.stdout.contains("messages_count") && r.stdout.contains("99"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("corrected 3 counts"), "{}", r.stderr);
    assert!(
        r.stderr.contains("chats/s"),
        "summary with a rate: {}",
        r.stderr
    );

    let chat1 = ctl.json(&["chat", "show", &t, "1"]);
    assert_eq!(chat1["messages_count"], 3);
    assert_eq!(ctl.json(&["chat", "show", &t, "2"])["messages_count"], 0);
    assert_eq!(ctl.json(&["app", "show", &t])["chats_count"], 2);

    let again = ctl.json(&["recount"]);
    assert_eq!(again["corrected"], 0);
    assert_eq!(again["corrections"], Value::Array(vec![]));
    corrupt(&ctl.dir.path().join("chat.db"));
    let fixed = ctl.json(&["recount"]);
    let corrections = fixed["corrections"].as_array().unwrap();
    let chat_fix = corrections.iter().find(|c| c["chat"] == 1).unwrap();
    assert_eq!(
        (
            chat_fix["field"].as_str(),
            chat_fix["was"].as_u64(),
            chat_fix["now"].as_u64()
        ),
        (Some("messages_count"), Some(99), Some(3))
    );
    assert_eq!(chat_fix["application"].as_str(), Some(t.as_str()));
    assert!(corrections
        .iter()
        .any(|c| c["field"] == "chats_count" && c["was"] == 7 && c["now"] == 2));
}

/// Breaks the stored counts the way a bug or a hand edit would.
fn corrupt(db: &Path) {
    let url = format!("sqlite://{}", db.display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("UPDATE chats SET messages_count = 99")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("UPDATE applications SET chats_count = 7")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    });
}

fn reindex_rebuilds_the_search_index_and_reports_it(ctl: &Ctl) {
    let t = ctl.new_app("index");
    ctl.ok(&["chat", "create", &t]);
    for body in ["alpha", "beta", "alphabet"] {
        ctl.ok(&["message", "send", &t, "1", body]);
    }
    let summary = ctl.json(&["reindex", "--app", &t]);
    assert_eq!(
        (
            summary["applications"].as_u64(),
            summary["chats"].as_u64(),
            summary["messages"].as_u64()
        ),
        (Some(1), Some(1), Some(3))
    );
    assert_eq!(
        ctl.json(&["search", &t, "1", "alpha"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = ctl.run(&["reindex"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        header(&r.stdout),
        ["applications", "chats", "messages indexed"]
    );
    assert!(
        r.stderr.starts_with("reindex: 3 messages") && r.stderr.contains("messages/s"),
        "{}",
        r.stderr
    );
    assert!(
        ctl.run(&["reindex", "--quiet"]).stderr.is_empty(),
        "--quiet silences the summary"
    );
}

fn demo_shows_an_application_its_chats_and_a_search(ctl: &Ctl) {
    let demo = ctl.json(&["demo"]);
    let token = demo["application"]["token"].as_str().unwrap();
    assert_eq!(demo["application"]["chats_count"], 2);
    assert_eq!(numbers(&demo["chats"]), [1, 2]);
    assert_eq!(numbers(&demo["messages"]), [1, 2, 3, 4]);
    assert_eq!(demo["search"]["query"], "onderf");
    assert!(!demo["search"]["results"].as_array().unwrap().is_empty());
    let table = ctl.ok(&["demo"]);
    for part in [
        "token",
        "number",
        "messages",
        "body",
        "onderf",
        "chatctl message list",
    ] {
        assert!(table.contains(part), "no {part:?} in:\n{table}");
    }
    assert_eq!(ctl.json(&["app", "show", token])["name"], "demo");
}

/// Runs each scenario once directly on a fresh SQLite file and once through a fresh chat-server.
macro_rules! both_ways {
    ($($scenario:ident),* $(,)?) => {
        mod direct {
            $( #[test] fn $scenario() { super::$scenario(&super::Ctl::direct()) } )*
        }
        mod http {
            $( #[test] fn $scenario() { super::$scenario(&super::Ctl::http()) } )*
        }
    };
}

both_ways!(
    applications_are_created_shown_listed_and_renamed,
    chats_are_numbered_per_application,
    messages_are_sent_from_arguments_and_stdin_listed_shown_and_edited,
    search_finds_any_part_of_a_word_in_one_chat,
    lists_page_with_limit_and_after_and_follow_pages_with_all,
    failures_exit_with_their_documented_codes,
    import_of_10000_lines_numbers_them_1_to_10000,
    recount_fixes_corrupted_counts_and_says_what_it_changed,
    reindex_rebuilds_the_search_index_and_reports_it,
    demo_shows_an_application_its_chats_and_a_search,
);

// ---- what only one mode shows ----

#[test]
fn a_server_that_is_down_exits_5_with_a_hint() {
    let ctl = Ctl::direct();
    let mut cmd = ctl.bare();
    cmd.args([
        "--server",
        "http://127.0.0.1:1",
        "app",
        "show",
        "0123456789abcdef0123456789abcdef",
    ]);
    let r = finished(cmd.output().unwrap());
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("is chat-server running at http://127.0.0.1:1?"),
        "{}",
        r.stderr
    );
    let mut cmd = ctl.bare();
    cmd.env("CHAT_SERVER", "http://127.0.0.1:1").args([
        "chat",
        "list",
        "0123456789abcdef0123456789abcdef",
    ]);
    assert_eq!(
        finished(cmd.output().unwrap()).code,
        5,
        "CHAT_SERVER is read too"
    );
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let ctl = Ctl::direct();
    for args in [
        &["app", "list", "--no-such-flag"][..],
        &["no-such-command"],
        &["app", "create"],
        &["--output", "yaml", "app", "list"],
        &[],
    ] {
        let r = finished(ctl.bare().args(args).output().unwrap());
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    }
    let help = finished(ctl.bare().arg("--help").output().unwrap());
    assert_eq!(help.code, 0);
    for part in [
        "Connection",
        "--server",
        "CHAT_SERVER",
        "--database-url",
        "CHAT_DATABASE_URL",
        "--redis-url",
        "--elasticsearch-url",
        "--admin-token",
        "--output",
        "--json",
        "--quiet",
        "Exit codes",
    ] {
        assert!(
            help.stdout.contains(part),
            "--help lacks {part}:\n{}",
            help.stdout
        );
    }
    let secret = "super-secret-admin-token";
    let help = finished(
        ctl.bare()
            .env("CHAT_ADMIN_TOKEN", secret)
            .arg("--help")
            .output()
            .unwrap(),
    );
    assert!(
        !help.stdout.contains(secret),
        "the admin token is never shown"
    );
}

#[test]
fn the_default_database_is_created_in_the_working_folder() {
    let ctl = Ctl::direct();
    let r = finished(ctl.bare().args(["app", "create", "here"]).output().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(ctl.dir.path().join("chat-data/chat.db").exists());
}

#[test]
fn a_closed_stdout_ends_the_run_with_0() {
    let ctl = Ctl::direct();
    let t = ctl.new_app("pipe");
    ctl.ok(&["chat", "create", &t]);
    let input: String = (1..=3000).map(|i| format!("line {i}\n")).collect();
    assert_eq!(
        ctl.run_with(&["import", &t, "1", "-", "--quiet"], Some(&input))
            .code,
        0
    );
    // Like `chatctl message list … | head -1`: the reader goes away after one line.
    let mut child = ctl
        .cmd(&["message", "list", &t, "1", "--all"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn listing_applications_over_http_needs_the_admin_token() {
    let ctl = Ctl::http();
    let url = &ctl.server.as_ref().unwrap().url;
    let r = finished(
        ctl.bare()
            .args(["--server", url, "app", "list"])
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("--admin-token"), "hint: {}", r.stderr);
}

#[test]
fn completions_in_the_repository_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../completions");
    let update = std::env::var_os("UPDATE_COMPLETIONS").is_some_and(|v| v == "1");
    let ctl = Ctl::direct();
    for (shell, file) in [
        ("bash", "chatctl.bash"),
        ("zsh", "_chatctl"),
        ("fish", "chatctl.fish"),
        ("powershell", "_chatctl.ps1"),
    ] {
        let fresh = ctl.bare().args(["completions", shell]).output().unwrap();
        assert!(fresh.status.success(), "completions {shell}");
        let path = dir.join(file);
        if update {
            std::fs::write(&path, &fresh.stdout).unwrap();
            continue;
        }
        let kept = std::fs::read(&path).unwrap_or_default();
        assert!(
            kept == fresh.stdout,
            "completions/{file} is out of date: run `UPDATE_COMPLETIONS=1 cargo test -p chat-tests --test chatctl completions`"
        );
    }
    let man = ctl.bare().arg("man").output().unwrap();
    assert!(man.status.success() && String::from_utf8_lossy(&man.stdout).contains(".TH chatctl"));
}
