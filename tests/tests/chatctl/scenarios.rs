//! The scenarios that run both ways, directly on the stores and through a chat-server: one
//! function per story, taking the [`Ctl`] to drive.

use std::path::Path;

use serde_json::Value;

use super::harness::{header, numbers, Ctl};

pub fn applications_are_created_shown_listed_and_renamed(ctl: &Ctl) {
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

pub fn chats_are_numbered_per_application(ctl: &Ctl) {
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

pub fn messages_are_sent_from_arguments_and_stdin_listed_shown_and_edited(ctl: &Ctl) {
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
    // Piped, a list is tab-separated lines with every value whole (a terminal's table cuts
    // long bodies instead: see chatctl's output tests).
    assert!(
        table.contains("hello again") && table.contains(&long) && !table.contains('…'),
        "piped lists keep bodies whole:\n{table}"
    );
    assert!(table.lines().all(|l| !l.contains('│')), "{table}");
    // `show` prints the table row, then the whole body.
    assert!(ctl.ok(&["message", "show", &t, "1", "4"]).contains(&long));
}

pub fn search_finds_any_part_of_a_word_in_one_chat(ctl: &Ctl) {
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
    // Newest first by default, then --after the last number; oldest; relevance with --offset.
    let page1 = numbers(&ctl.json(&["search", &t, "1", "wonder", "--limit", "2"]));
    assert_eq!(page1, [4, 2]);
    let r = ctl.run_with(&["search", &t, "1", "wonder", "--limit", "2"], None);
    assert!(r.stderr.contains("--after 2"), "{}", r.stderr);
    let page2 = numbers(&ctl.json(&["search", &t, "1", "wonder", "--limit", "2", "--after", "2"]));
    assert_eq!(page2, [1]);
    let oldest = numbers(&ctl.json(&[
        "search", &t, "1", "wonder", "--sort", "oldest", "--limit", "1", "--all",
    ]));
    assert_eq!(oldest, [1, 2, 4]);
    let page1 = numbers(&ctl.json(&[
        "search",
        &t,
        "1",
        "wonder",
        "--sort",
        "relevance",
        "--limit",
        "2",
    ]));
    let page2 = numbers(&ctl.json(&[
        "search",
        &t,
        "1",
        "wonder",
        "--sort",
        "relevance",
        "--limit",
        "2",
        "--offset",
        "2",
    ]));
    assert_eq!((page1.len(), page2.len()), (2, 1));
    assert!(page2.iter().all(|n| !page1.contains(n)));
    assert_eq!(
        numbers(&ctl.json(&["search", &t, "1", "wonder", "--offset", "1"])),
        [2, 1]
    );
    assert_eq!(
        ctl.fails(&["search", &t, "1", "wonder", "--offset", "10000"])
            .0,
        4,
        "offset past the window"
    );
    assert_eq!(
        ctl.fails(&["search", &t, "1", "wonder", "--after", "x"]).0,
        4,
        "bad after"
    );
    let r = ctl.run_with(&["search", &t, "1", "wonder", "--sort", "best"], None);
    assert_eq!(r.code, 2, "a bad order is a usage error: {}", r.stderr);
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

pub fn lists_page_with_limit_and_after_and_follow_pages_with_all(ctl: &Ctl) {
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

pub fn failures_exit_with_their_documented_codes(ctl: &Ctl) {
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

pub fn import_of_10000_lines_numbers_them_1_to_10000(ctl: &Ctl) {
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
    // The rate is given when the job took 50 ms or more; a quicker one gives its time alone.
    let rated = summary.contains("messages/s)");
    let quick = summary
        .rsplit_once(" in ")
        .and_then(|(_, d)| d.strip_suffix(" ms"))
        .and_then(|ms| ms.parse::<u64>().ok())
        .is_some_and(|ms| ms < 50);
    assert!(
        summary.starts_with("import: 10,000 messages into chat 1") && (rated || quick),
        "{}",
        r.stderr
    );

    // Line N is message N, directly and over HTTP alike.
    let all = ctl.json(&["message", "list", &t, "1", "--all"]);
    assert_eq!(numbers(&all), (1..=10_000).collect::<Vec<u64>>());
    let out_of_order: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["body"] != format!("bulk message {}", m["number"]).as_str())
        .map(|m| format!("{} = {}", m["number"], m["body"]))
        .take(5)
        .collect();
    assert!(
        out_of_order.is_empty(),
        "messages whose body is not their line: {out_of_order:?}"
    );
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

pub fn recount_fixes_corrupted_counts_and_says_what_it_changed(ctl: &Ctl) {
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
    // The summary counts what it did (a rate follows only when the job took long enough
    // for one to mean something: see chatctl's progress tests).
    assert!(
        r.stderr.contains("recount: 2 chats of 1 application in "),
        "summary: {}",
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

pub fn reindex_rebuilds_the_search_index_and_reports_it(ctl: &Ctl) {
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
        r.stderr.starts_with("reindex: 3 messages of ") && r.stderr.contains(" in "),
        "{}",
        r.stderr
    );
    assert!(
        ctl.run(&["reindex", "--quiet"]).stderr.is_empty(),
        "--quiet silences the summary"
    );
}

pub fn demo_shows_an_application_its_chats_and_a_search(ctl: &Ctl) {
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

pub fn an_over_long_body_gets_the_same_error_both_ways(ctl: &Ctl) {
    let t = ctl.new_app("limits");
    ctl.ok(&["chat", "create", &t]);
    // Past the message rule (16,384 bytes) and past the server's request size limit alike.
    for len in [16_385usize, 70_000] {
        let body = "x".repeat(len);
        let r = ctl.run_with(&["message", "send", &t, "1", "-"], Some(&body));
        assert_eq!(r.code, 4, "{len}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("must be at most 16384 bytes, got {len}")),
            "{len}: {}",
            r.stderr
        );
    }
    assert_eq!(ctl.json(&["chat", "show", &t, "1"])["messages_count"], 0);
}

pub fn name_output_prints_one_token_or_number_per_line(ctl: &Ctl) {
    let token = ctl.ok(&["app", "create", "names", "-o", "name"]);
    let token = token.trim_end();
    assert_eq!(token.len(), 32, "{token:?}");
    assert_eq!(ctl.json(&["app", "show", token])["name"], "names");
    for _ in 0..3 {
        ctl.ok(&["chat", "create", token]);
    }
    assert_eq!(ctl.ok(&["chat", "list", token, "-o", "name"]), "1\n2\n3\n");
    for body in ["one", "two"] {
        ctl.ok(&["message", "send", token, "2", body]);
    }
    assert_eq!(
        ctl.ok(&["--output", "name", "message", "list", token, "2"]),
        "1\n2\n"
    );
    let tokens = ctl.ok(&["app", "list", "-o", "name"]);
    assert!(tokens.lines().any(|l| l == token), "{tokens}");
    assert!(tokens.lines().all(|l| l.len() == 32), "{tokens}");
}

pub fn last_prints_the_latest_chats_and_messages_in_number_order(ctl: &Ctl) {
    let t = ctl.new_app("latest");
    for _ in 0..4 {
        ctl.ok(&["chat", "create", &t]);
    }
    let input: String = (1..=120).map(|i| format!("line {i}\n")).collect();
    assert_eq!(
        ctl.run_with(&["import", &t, "2", "-", "--quiet"], Some(&input))
            .code,
        0
    );
    assert_eq!(
        numbers(&ctl.json(&["message", "list", &t, "2", "--last", "3"])),
        [118, 119, 120]
    );
    assert_eq!(
        ctl.ok(&["message", "list", &t, "2", "--last", "2", "-o", "name"]),
        "119\n120\n"
    );
    assert_eq!(
        numbers(&ctl.json(&["chat", "list", &t, "--last", "2"])),
        [3, 4]
    );
    // --last names its own page: it does not mix with the paging flags, and stays in range.
    for bad in [
        &["message", "list", &t, "2", "--last", "3", "--after", "5"][..],
        &["message", "list", &t, "2", "--last", "0"],
        &["message", "list", &t, "2", "--last", "1001"],
        &["chat", "list", &t, "--last", "2", "--all"],
    ] {
        // Usage errors: exit 2, clap's message first (then its usage lines).
        let r = ctl.run(bad);
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert!(
            r.stderr.starts_with("error: ") && r.stderr.contains("--last"),
            "{bad:?}: {}",
            r.stderr
        );
    }
}

pub fn deletes_need_yes_without_a_terminal_and_take_what_they_hold(ctl: &Ctl) {
    let t = ctl.new_app("deletes");
    for _ in 0..3 {
        ctl.ok(&["chat", "create", &t]);
    }
    for i in 1..=3 {
        ctl.ok(&["message", "send", &t, "1", &format!("wren {i}")]);
    }
    // Without --yes and with stdin not a terminal: refused in one line, exit 2, nothing gone.
    for args in [
        vec!["message", "delete", &t, "1", "2"],
        vec!["chat", "delete", &t, "1"],
        vec!["app", "delete", &t],
    ] {
        let (code, err) = ctl.fails(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("--yes") && err.contains("not a terminal"),
            "{err}"
        );
    }
    assert_eq!(ctl.json(&["chat", "show", &t, "1"])["messages_count"], 3);
    assert_eq!(ctl.json(&["app", "show", &t])["chats_count"], 3);

    // A message: JSON names what went; then it is not found, and neither is a second delete.
    let v = ctl.json(&["message", "delete", &t, "1", "2", "--yes"]);
    assert_eq!(
        v,
        serde_json::json!({"deleted": "message", "token": t, "chat": 1, "message": 2})
    );
    assert_eq!(ctl.fails(&["message", "show", &t, "1", "2"]).0, 3);
    assert_eq!(
        ctl.fails(&["message", "delete", &t, "1", "2", "--yes"]).0,
        3
    );
    assert_eq!(ctl.fails(&["message", "delete", &t, "1", "two", "-y"]).0, 4);
    assert_eq!(ctl.json(&["chat", "show", &t, "1"])["messages_count"], 2);
    assert_eq!(numbers(&ctl.json(&["message", "list", &t, "1"])), [1, 3]);
    assert!(ctl
        .json(&["search", &t, "1", "wren 2"])
        .as_array()
        .unwrap()
        .is_empty());
    // The next message gets the next number.
    assert_eq!(
        ctl.json(&["message", "send", &t, "1", "wren 4"])["number"],
        4
    );

    // A chat: `-o name` prints its number; a table line for people; `-q` keeps stderr quiet.
    assert_eq!(
        ctl.ok(&["chat", "delete", &t, "2", "-y", "-o", "name"]),
        "2\n"
    );
    assert_eq!(ctl.fails(&["chat", "show", &t, "2"]).0, 3);
    assert_eq!(ctl.fails(&["chat", "delete", &t, "2", "--yes"]).0, 3);
    let r = ctl.run(&["chat", "delete", &t, "1", "--yes", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("deleted chat 1 of {t}\n"));
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert_eq!(ctl.fails(&["message", "show", &t, "1", "1"]).0, 3);
    assert_eq!(ctl.json(&["app", "show", &t])["chats_count"], 1);
    assert_eq!(ctl.json(&["chat", "create", &t])["number"], 4);

    // The application, with everything it holds.
    let other = ctl.new_app("stays");
    assert_eq!(
        ctl.ok(&["app", "delete", &t, "--yes", "-o", "name"]),
        format!("{t}\n")
    );
    assert_eq!(ctl.fails(&["app", "show", &t]).0, 3);
    assert_eq!(ctl.fails(&["chat", "show", &t, "3"]).0, 3);
    assert_eq!(ctl.fails(&["app", "delete", &t, "--yes"]).0, 3);
    assert_eq!(ctl.fails(&["app", "delete", "not-a-token", "--yes"]).0, 4);
    let left: Vec<String> = ctl
        .json(&["app", "list", "--all"])
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["token"].as_str().unwrap().to_owned())
        .collect();
    assert!(left.contains(&other) && !left.contains(&t), "{left:?}");
}

/// `message tail` without `--from` prints only what is sent after it starts, even when earlier
/// messages were deleted (so the chat's count is below its highest number).
pub fn tail_without_from_prints_only_messages_sent_after_it_started(ctl: &Ctl) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::Duration;

    let t = ctl.new_app("tail");
    ctl.ok(&["chat", "create", &t]);
    let bodies: String = (1..=18).map(|i| format!("old {i}\n")).collect();
    let r = ctl.run_with(&["import", &t, "1", "-", "--quiet"], Some(&bodies));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for n in ["3", "4"] {
        ctl.ok(&["message", "delete", &t, "1", n, "--yes"]);
    }
    // 16 messages, numbered up to 18.
    assert_eq!(ctl.json(&["chat", "show", &t, "1"])["messages_count"], 16);

    let mut tail = ctl
        .cmd(&["message", "tail", &t, "1", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(tail.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    // The tail subscribes at some point after it starts: send until it prints something.
    let mut first = None;
    for i in 1..=40 {
        ctl.ok(&["message", "send", &t, "1", &format!("new {i}")]);
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(250)) {
            first = Some(line);
            break;
        }
    }
    let _ = tail.kill();
    let _ = tail.wait();
    let first: Value = serde_json::from_str(&first.expect("the tail printed nothing")).unwrap();
    assert_eq!(first["event"], "created", "{first}");
    assert!(
        first["message"]["number"].as_u64().unwrap() > 18
            && first["message"]["body"]
                .as_str()
                .unwrap()
                .starts_with("new "),
        "the tail printed an old message first: {first}"
    );
}
