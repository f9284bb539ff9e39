//! Ctrl-C during `import`: the batch in flight is stored, the summary says how much and how to
//! go on, and the command it prints stores the rest, each line exactly once.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::harness::{finished, numbers, Ctl, CHAT_VARS};

pub fn ctrl_c_during_import_says_how_to_resume_and_the_resume_stores_the_rest_once(ctl: &Ctl) {
    let t = ctl.new_app("interrupted");
    ctl.ok(&["chat", "create", &t]);
    // 30,000 lines, every 100th blank: 29,700 messages, in batches small enough to take
    // seconds, so the interrupt lands mid-import.
    let file = ctl.dir.path().join("long.txt");
    let lines: Vec<String> = (1..=30_000)
        .map(|i| {
            if i % 100 == 0 {
                String::new()
            } else {
                format!("line {i}")
            }
        })
        .collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let expected: Vec<&str> = lines
        .iter()
        .filter(|l| !l.is_empty())
        .map(String::as_str)
        .collect();

    let child = ctl
        .cmd(&["import", &t, "1", file.to_str().unwrap(), "--batch", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ctl.json(&["chat", "show", &t, "1"])["messages_count"]
        .as_u64()
        .unwrap()
        < 500
    {
        assert!(
            Instant::now() < deadline,
            "the import stored nothing in 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let r = finished(child.wait_with_output().unwrap());
    assert_eq!(r.code, 130, "{}", r.stderr);

    // `import: interrupted: 1,234 lines stored as messages 1..1234 in chat 1 (input lines
    // through 1,246; 12 blank lines skipped), 28,466 not sent` then `resume with: …`.
    let mut tail = r.stderr.lines().rev();
    let (resume, summary) = (tail.next().unwrap(), tail.next().unwrap());
    assert!(summary.starts_with("import: interrupted: "), "{}", r.stderr);
    let stored: u64 = summary["import: interrupted: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    let count = ctl.json(&["chat", "show", &t, "1"])["messages_count"]
        .as_u64()
        .unwrap();
    assert_eq!(
        count, stored,
        "every acknowledged line is counted: {summary}"
    );
    assert!((500..29_700).contains(&stored), "{summary}");
    let command = resume.strip_prefix("resume with: ").expect(&r.stderr);
    let words: Vec<&str> = command.split(' ').collect();
    let skip: usize = words[words.iter().position(|w| *w == "--skip").unwrap() + 1]
        .parse()
        .unwrap();
    assert!(words.ends_with(&["--resume"]), "{command}");
    // Line N is the last stored message, and the blank lines before it are said.
    let blanks = skip / 100;
    assert_eq!(skip - blanks, usize::try_from(stored).unwrap(), "{summary}");
    assert!(
        summary.contains(&format!("{blanks} blank lines skipped")),
        "{summary}"
    );

    // The printed command, run by a shell, stores the rest; run again, it refuses.
    let resumed = || {
        let mut sh = Command::new("sh");
        for var in CHAT_VARS {
            sh.env_remove(var);
        }
        finished(
            sh.args(["-c", command])
                .current_dir(ctl.dir.path())
                .stdin(Stdio::null())
                .output()
                .unwrap(),
        )
    };
    let r = resumed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("{} blank lines skipped", 300 - blanks)),
        "{}",
        r.stderr
    );
    let all = ctl.json(&["message", "list", &t, "1", "--all"]);
    assert_eq!(numbers(&all), (1..=29_700).collect::<Vec<u64>>());
    let bodies: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert!(
        bodies == expected,
        "the chat holds every line once, in order"
    );
    let r = resumed();
    assert_eq!(r.code, 1, "a second resume is refused: {}", r.stderr);
    assert!(r.stderr.contains("--resume"), "{}", r.stderr);
    assert_eq!(
        ctl.json(&["chat", "show", &t, "1"])["messages_count"],
        29_700
    );
}
