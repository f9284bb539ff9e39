//! The `chatctl` binary run as a process: every command directly on a fresh SQLite file and
//! against a spawned chat-server, JSON parsed and checked, tables checked for their columns,
//! the documented exit codes, stdin input, bulk import, recount of corrupted counts, and the
//! shell completions kept in `completions/`.
//!
//! `harness` runs the binaries; `scenarios` holds the stories run both ways.
//!
//! When the command line changes, regenerate the completions with
//! `UPDATE_COMPLETIONS=1 cargo test -p chat-tests --test chatctl completions`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "chatctl/harness.rs"]
mod harness;
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
