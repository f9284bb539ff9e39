//! Corrupt, truncated and hostile streams are refused with the line at fault and exit code 4,
//! and leave the target as it was; so is a stream whose token the target already holds.

use crate::harness::Ctl;

/// A small valid stream: one application, two chats, three messages.
fn good_stream() -> String {
    let from = Ctl::direct();
    let token = from.new_app("source");
    from.ok(&["chat", "create", &token]);
    from.ok(&["chat", "create", &token]);
    for body in ["one", "two ✓", "three"] {
        from.ok(&["message", "send", &token, "1", body]);
    }
    from.ok(&["export"])
}

/// A target holding one application of its own.
fn target() -> (Ctl, String) {
    let to = Ctl::direct();
    to.new_app("already here");
    let checksum = to.ok(&["export", "--checksum-only"]);
    (to, checksum)
}

fn refused(to: &Ctl, before: &str, stream: &str, line: Option<u64>, what: &str) {
    let run = to.run_with(&["restore", "--merge", "-"], Some(stream));
    assert_eq!(run.code, 4, "{what}: exit {} {}", run.code, run.stderr);
    assert!(run.stderr.starts_with("error: "), "{what}: {}", run.stderr);
    assert_eq!(
        run.stderr.trim_end().lines().count(),
        1,
        "{what}: {}",
        run.stderr
    );
    if let Some(line) = line {
        assert!(
            run.stderr.contains(&format!("line {line}:")),
            "{what}: expected line {line}: {}",
            run.stderr
        );
    }
    assert_eq!(
        to.ok(&["export", "--checksum-only"]),
        before,
        "{what}: the target changed"
    );
}

fn with_line(stream: &str, index: usize, f: impl Fn(&str) -> String) -> String {
    let mut lines: Vec<String> = stream.lines().map(str::to_owned).collect();
    lines[index] = f(&lines[index]);
    lines.join("\n") + "\n"
}

#[test]
fn broken_streams_are_refused_with_their_line_and_change_nothing() {
    let good = good_stream();
    let lines: Vec<&str> = good.lines().collect();
    // header, application, chat 1, three messages, chat 2, end
    assert_eq!(lines.len(), 8, "{good}");
    assert!(lines[3].starts_with("{\"type\":\"message\""), "{good}");
    let (to, before) = target();

    let truncated = lines[..7].join("\n") + "\n";
    refused(
        &to,
        &before,
        &truncated,
        Some(8),
        "truncated before the end line",
    );
    let cut = &good[..good.len() - 30];
    refused(
        &to,
        &before,
        cut,
        Some(8),
        "cut in the middle of the end line",
    );
    let mut reordered: Vec<&str> = lines.clone();
    reordered.swap(3, 4);
    refused(
        &to,
        &before,
        &(reordered.join("\n") + "\n"),
        Some(5),
        "messages out of order",
    );
    let mut duplicated: Vec<&str> = lines.clone();
    duplicated.insert(4, lines[3]);
    refused(
        &to,
        &before,
        &(duplicated.join("\n") + "\n"),
        Some(5),
        "a duplicated line",
    );
    refused(
        &to,
        &before,
        &with_line(&good, 0, |l| l.replace("\"version\":1", "\"version\":2")),
        Some(1),
        "an unknown version",
    );
    refused(
        &to,
        &before,
        &with_line(&good, 7, |l| {
            // Flip the checksum's last hex digit.
            let end = l.rfind('"').unwrap();
            let digit = if &l[end - 1..end] == "0" { "1" } else { "0" };
            format!("{}{digit}{}", &l[..end - 1], &l[end..])
        }),
        Some(8),
        "a wrong checksum",
    );
    refused(
        &to,
        &before,
        &with_line(&good, 4, |l| l.replace("two ✓", "two ✗")),
        Some(8),
        "an altered body",
    );
    refused(
        &to,
        &before,
        &with_line(&good, 3, |l| l.replace("\"number\":1,", "\"number\":0,")),
        Some(4),
        "message number 0",
    );
    refused(
        &to,
        &before,
        &with_line(&good, 3, |l| {
            l.replace("\"number\":1,", "\"number\":4294967296,")
        }),
        Some(4),
        "message number 2^32",
    );
    refused(
        &to,
        &before,
        &with_line(&good, 2, |l| {
            l.replace("\"number\":1,", "\"number\":\"1\",")
        }),
        Some(3),
        "a number of the wrong type",
    );
    refused(
        &to,
        &before,
        &with_line(&good, 1, |l| {
            let start = l.find("\"token\":\"").unwrap() + 9;
            format!(
                "{}{}",
                &l[..start],
                &l[start..].replacen(|c: char| c.is_ascii_hexdigit(), "Z", 1)
            )
        }),
        Some(2),
        "a token that is not 32 hex characters",
    );
    refused(
        &to,
        &before,
        &with_line(&good, 5, |_| "{\"type\":\"message\",".to_owned()),
        Some(6),
        "a line that is not JSON",
    );
    refused(
        &to,
        &before,
        &with_line(&good, 5, |l| {
            l.replace("\"type\":\"message\"", "\"type\":\"attachment\"")
        }),
        Some(6),
        "an unknown type",
    );
    refused(&to, &before, "", Some(1), "an empty stream");

    // A 100 MB line, from a file: refused once the bound is read, not after holding it all.
    let big = to.dir.path().join("big.ndjson");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        f.write_all(lines[0].as_bytes()).unwrap();
        f.write_all(b"\n{\"type\":\"application\",\"name\":\"")
            .unwrap();
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..100 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"\"}\n").unwrap();
    }
    let run = to.run(&["restore", "--merge", big.to_str().unwrap()]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr.contains("line 2:") && run.stderr.contains("longer than"),
        "{}",
        run.stderr
    );
    assert_eq!(to.ok(&["export", "--checksum-only"]), before);

    // The stream itself is fine: it restores (merged beside the existing application).
    let ok = to.run_with(&["restore", "--merge", "-"], Some(&good));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
}

#[test]
fn a_target_that_holds_a_token_of_the_stream_is_refused_and_unchanged() {
    let good = good_stream();
    let to = Ctl::direct();
    let first = to.run_with(&["restore", "-"], Some(&good));
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = to.ok(&["export", "--checksum-only"]);
    for args in [&["restore", "-"][..], &["restore", "--merge", "-"][..]] {
        let again = to.run_with(args, Some(&good));
        assert_eq!(again.code, 4, "{args:?}: {}", again.stderr);
        assert!(again.stderr.contains("already holds"), "{}", again.stderr);
        assert_eq!(to.ok(&["export", "--checksum-only"]), before);
    }
    // A non-empty target without --merge is refused even when the tokens differ.
    let other = Ctl::direct();
    other.new_app("other");
    let run = other.run_with(&["restore", "-"], Some(&good));
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("--merge"), "{}", run.stderr);
}

#[test]
fn restore_and_backup_need_the_stores_themselves() {
    let ctl = Ctl::http();
    let (code, err) = ctl.fails(&["restore", "-"]);
    assert_eq!(code, 2, "{err}");
    let (code, err) = ctl.fails(&["backup", "copy.db"]);
    assert_eq!(code, 2, "{err}");
}
