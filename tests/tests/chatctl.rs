//! The `chatctl` binary run as a process: every command directly on a fresh SQLite file and
//! against a spawned chat-server, JSON parsed and checked, tables checked for their columns,
//! the documented exit codes, stdin input, bulk import (and Ctrl-C during one), recount of corrupted counts, and the
//! shell completions kept in `completions/`.
//!
//! `harness` runs the binaries; `scenarios` holds the stories run both ways.
//!
//! When the command line changes, regenerate the completions with
//! `UPDATE_COMPLETIONS=1 cargo test -p chat-tests --test chatctl completions`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "chatctl/harness.rs"]
mod harness;
#[path = "chatctl/interrupt.rs"]
mod interrupt;
#[path = "chatctl/scenarios.rs"]
mod scenarios;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;

use harness::{finished, Ctl};

/// Runs each scenario once directly on a fresh SQLite file and once through a fresh chat-server.
macro_rules! both_ways {
    ($($scenario:ident),* $(,)?) => {
        mod direct {
            $( #[test] fn $scenario() { crate::scenarios::$scenario(&crate::Ctl::direct()) } )*
        }
        mod http {
            $( #[test] fn $scenario() { crate::scenarios::$scenario(&crate::Ctl::http()) } )*
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
    an_over_long_body_gets_the_same_error_both_ways,
    name_output_prints_one_token_or_number_per_line,
    last_prints_the_latest_chats_and_messages_in_number_order,
    deletes_need_yes_without_a_terminal_and_take_what_they_hold,
    tail_without_from_prints_only_messages_sent_after_it_started,
);

// ---- what only one mode shows ----

/// Runs chatctl with `args` on a terminal (a pseudo-terminal made by util-linux `script`),
/// typing `answer`.
fn on_a_terminal(ctl: &Ctl, args: &[&str], answer: &str) -> harness::Run {
    let cmd = ctl.cmd(args);
    let mut line = vec![cmd.get_program().to_string_lossy().into_owned()];
    line.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &line.join(" "), "/dev/null"]);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let mut child = script
        .current_dir(ctl.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs chatctl on a pseudo-terminal");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    finished(child.wait_with_output().unwrap())
}

/// Directly: over HTTP the same loop sends the batches, and small batches are slow there.
#[test]
fn ctrl_c_during_import_says_how_to_resume_and_the_resume_stores_the_rest_once() {
    interrupt::ctrl_c_during_import_says_how_to_resume_and_the_resume_stores_the_rest_once(
        &Ctl::direct(),
    );
}

#[test]
fn a_delete_on_a_terminal_asks_first_and_only_yes_deletes() {
    let ctl = Ctl::direct();
    let t = ctl.new_app("asked");
    ctl.ok(&["chat", "create", &t]);
    ctl.ok(&["chat", "create", &t]);
    let r = on_a_terminal(&ctl, &["app", "delete", &t], "n\n");
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let shown = format!("{}{}", r.stdout, r.stderr);
    assert!(
        shown.contains(&format!(
            "Delete application {t} (asked) and its 2 chats? [y/N]"
        )),
        "{shown}"
    );
    assert!(shown.contains("not deleted"), "{shown}");
    assert_eq!(ctl.json(&["app", "show", &t])["chats_count"], 2);

    let r = on_a_terminal(&ctl, &["chat", "delete", &t, "2"], "y\n");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let shown = format!("{}{}", r.stdout, r.stderr);
    assert!(
        shown.contains(&format!(
            "Delete chat 2 of application {t} and its 0 messages? [y/N]"
        )),
        "{shown}"
    );
    assert!(shown.contains(&format!("deleted chat 2 of {t}")), "{shown}");
    assert_eq!(ctl.json(&["app", "show", &t])["chats_count"], 1);
    // An unknown one is not asked about: it is not found.
    let r = on_a_terminal(&ctl, &["chat", "delete", &t, "2"], "y\n");
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
}

#[test]
fn message_create_sends_a_message_like_send() {
    let ctl = Ctl::direct();
    let t = ctl.new_app("alias");
    ctl.ok(&["chat", "create", &t]);
    let m = ctl.json(&["message", "create", &t, "1", "made with create"]);
    assert_eq!(
        (m["number"].as_u64(), m["body"].as_str()),
        (Some(1), Some("made with create"))
    );
    let r = ctl.run_with(&["message", "create", &t, "1", "--json"], Some("piped\n"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()["number"],
        2
    );
    // `chatctl message --help` lists the alias beside `send`.
    let help = finished(ctl.bare().args(["message", "--help"]).output().unwrap());
    assert!(
        help.stdout.contains("aliases: create") || help.stdout.contains("alias: create"),
        "{}",
        help.stdout
    );
}

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
fn reads_refuse_a_missing_database_with_a_hint_and_create_nothing() {
    let ctl = Ctl::direct();
    for args in [
        &["app", "list"][..],
        &["chat", "list", "0123456789abcdef0123456789abcdef"],
        &["search", "0123456789abcdef0123456789abcdef", "1", "hello"],
    ] {
        let r = finished(ctl.bare().args(args).output().unwrap());
        assert_eq!(r.code, 5, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("no database at"), "{}", r.stderr);
        assert!(r.stderr.contains("chatctl app create"), "{}", r.stderr);
        assert!(
            !ctl.dir.path().join("chat-data").exists(),
            "{args:?} created the data folder"
        );
    }
    // A write creates it, and then reads work.
    let r = finished(
        ctl.bare()
            .args(["app", "create", "first"])
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = finished(ctl.bare().args(["app", "list"]).output().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn an_unreachable_backend_is_named_with_its_setting_and_no_password() {
    let ctl = Ctl::direct();
    let r = finished(
        ctl.bare()
            .args([
                "--database-url",
                "mysql://chat:hunter2@127.0.0.1:1/chat",
                "--redis-url",
                "redis://127.0.0.1:1",
                "app",
                "list",
            ])
            .output()
            .unwrap(),
    );
    // Redis is asked first: the message names it, its setting and its URL, never a password.
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("error: redis unavailable"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("redis://127.0.0.1:1? check --redis-url or CHAT_REDIS_URL"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("--database-url"), "{}", r.stderr);
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
}

#[test]
fn the_server_url_may_end_with_the_api_prefix() {
    let ctl = Ctl::http();
    let url = format!("{}/api/v1/", ctl.server.as_ref().unwrap().url);
    let r = finished(
        ctl.bare()
            .args(["--server", &url, "app", "create", "prefixed"])
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
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

/// A server that accepts connections and never answers: chatctl gives up after `--timeout`.
#[test]
fn a_server_that_never_answers_exits_5_after_the_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // Accept and hold every connection, answering nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let ctl = Ctl::direct();
    let token = "0123456789abcdef0123456789abcdef";
    for (flag, env) in [(Some("1"), None), (None, Some("1"))] {
        let mut cmd = ctl.bare();
        cmd.args(["--server", &url]);
        if let Some(secs) = flag {
            cmd.args(["--timeout", secs]);
        }
        if let Some(secs) = env {
            cmd.env("CHAT_TIMEOUT", secs);
        }
        cmd.args(["app", "show", token]);
        let start = std::time::Instant::now();
        let r = finished(cmd.output().unwrap());
        let took = start.elapsed();
        assert_eq!(r.code, 5, "{}", r.stderr);
        assert!(took < std::time::Duration::from_secs(15), "took {took:?}");
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
        assert!(r.stderr.contains("did not answer in time"), "{}", r.stderr);
    }
    // The admin jobs have their own bound.
    let mut cmd = ctl.bare();
    cmd.args(["--server", &url, "--job-timeout", "1", "recount"]);
    let r = finished(cmd.output().unwrap());
    assert_eq!(r.code, 5, "{}", r.stderr);
    // A timeout of 0 is a usage error, not an instant failure.
    let mut cmd = ctl.bare();
    cmd.args(["--server", &url, "--timeout", "0", "app", "show", token]);
    assert_eq!(finished(cmd.output().unwrap()).code, 2);
}

/// Something that answers HTTP but is not a chat-server (every path a 404 page): chatctl says
/// so in one line instead of dumping the page.
#[test]
fn a_server_url_that_is_not_a_chat_server_is_named_as_such() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = std::io::Read::read(&mut stream, &mut request);
                let page = "<html><body><h1>404 Not Found</h1>nginx</body></html>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
            });
        }
    });
    let ctl = Ctl::direct();
    for args in [
        &["app", "show", "0123456789abcdef0123456789abcdef"][..],
        &["message", "list", "0123456789abcdef0123456789abcdef", "1"],
    ] {
        let r = finished(
            ctl.bare()
                .args(["--server", &url])
                .args(args)
                .output()
                .unwrap(),
        );
        assert_ne!(r.code, 0, "{args:?}");
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "{url} answered 404 Not Found: is this a chat-server? (GET /health did not answer like one)"
            )),
            "{args:?}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("<html>"), "{}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
}

/// Piped, `message show` is tab-separated text like every other table: one header, one row,
/// even for a body of several lines; `message edit` without BODY reads stdin like `send`.
#[test]
fn piped_message_show_is_tab_separated_and_edit_reads_stdin() {
    let ctl = Ctl::direct();
    let t = ctl.new_app("show");
    ctl.ok(&["chat", "create", &t]);
    ctl.ok(&["message", "send", &t, "1", "first line\nsecond\tline"]);
    let out = ctl.ok(&["message", "show", &t, "1", "1"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    let columns = lines[0].split('\t').count();
    assert!(columns >= 3, "{out:?}");
    assert_eq!(lines[1].split('\t').count(), columns, "{out:?}");

    let r = ctl.run_with(
        &["message", "edit", &t, "1", "1", "--json"],
        Some("from stdin\n"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["body"], "from stdin");
    assert_eq!(
        ctl.json(&["message", "show", &t, "1", "1"])["body"],
        "from stdin"
    );
}

/// A chat-server started in the background does not write a line per request into the
/// terminal it shares: request lines are off by default and on with `--access-log`.
#[test]
fn request_lines_are_logged_only_with_access_log() {
    for (flags, logged) in [(&[][..], false), (&["--access-log"][..], true)] {
        let dir = tempfile::tempdir().unwrap();
        let server = harness::Server::start_with(dir.path(), flags);
        let ctl = Ctl {
            dir: tempfile::tempdir().unwrap(),
            server: None,
        };
        let r = finished(
            ctl.bare()
                .args(["--server", &server.url, "app", "create", "quiet"])
                .output()
                .unwrap(),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        drop(server);
        let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
        assert_eq!(
            log.contains("/api/v1/applications"),
            logged,
            "{flags:?}: the server's log:\n{log}"
        );
    }
}

/// A port in use: the error names the address and the flag and variable that choose it.
#[test]
fn a_port_in_use_names_listen_and_chat_listen() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(harness::server_binary())
        .args(["--listen", &addr, "--database-url"])
        .arg(harness::database_url(dir.path()))
        .env_remove("CHAT_LISTEN")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let r = finished(out);
    assert_ne!(r.code, 0);
    let last = r
        .stderr
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    assert!(last.starts_with("error: "), "{}", r.stderr);
    for part in [addr.as_str(), "already in use", "--listen", "CHAT_LISTEN"] {
        assert!(last.contains(part), "{part}: {}", r.stderr);
    }
}
