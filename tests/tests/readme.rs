//! The README runs as written: its "Run it" and curl blocks (the ones marked
//! `<!-- readme-test: … -->`) run in a fresh folder with the freshly built binaries on the
//! `PATH`, then the commands the demo suggests under "Try next"; and the library program it
//! shows is the example the build compiles.
//!
//! The blocks talk to 127.0.0.1:3000, as the README does, so this file is its own test binary
//! and runs alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

const README: &str = include_str!("../../README.md");
const LIBRARY_EXAMPLE: &str = include_str!("../../examples/examples/library.rs");

/// The first fenced block after `marker`, without its fences.
fn block_after<'a>(text: &'a str, marker: &str) -> &'a str {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("the README has no {marker}"));
    let rest = &text[at..];
    let open = rest.find("```").expect("a fenced block after the marker");
    let body_start = open + rest[open..].find('\n').expect("fence line") + 1;
    let close = rest[body_start..].find("\n```").expect("closing fence");
    &rest[body_start..body_start + close + 1]
}

#[test]
fn the_library_program_in_the_readme_is_the_example_the_build_compiles() {
    let section = &README[README.find("## Using chat-core").expect("the section")..];
    let shown = block_after(section, "```rust");
    let example: String = LIBRARY_EXAMPLE
        .lines()
        .skip_while(|l| l.starts_with("//!") || l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        shown, example,
        "README's Rust program and examples/examples/library.rs differ"
    );
}

#[test]
fn the_run_it_and_curl_blocks_run_as_written() {
    assert!(
        TcpListener::bind("127.0.0.1:3000").is_ok(),
        "the README's blocks use 127.0.0.1:3000, which something else holds"
    );
    let built = chat_tests::cargo_build(&["chatctl", "chat-server"]);
    let bin_dir = built[0].parent().expect("binary folder").to_owned();
    let dir = tempfile::tempdir().unwrap();

    let mut script = String::from(
        "set -euo pipefail\n\
         trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n",
    );
    for marker in ["<!-- readme-test: run-it -->", "<!-- readme-test: curl -->"] {
        for line in block_after(README, marker).lines() {
            // The build is this test's own (the binaries are on the PATH already).
            if line.starts_with("cargo build") {
                continue;
            }
            script.push_str(line);
            script.push('\n');
            if line.trim_start().starts_with("chat-server &") {
                // A person types the next line later than a script does.
                script.push_str(
                    "for _ in $(seq 100); do curl -sf localhost:3000/health >/dev/null && break; \
                     sleep 0.1; done\n",
                );
            }
        }
    }
    let out = run_bash(&script, dir.path(), &bin_dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the README's blocks failed ({}):\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // The demo printed its tables and what to try next; the curl session created, found and
    // listed the message.
    assert!(stdout.contains("Try next"), "{stdout}");
    assert!(stdout.contains(r#""number":1"#), "chat created: {stdout}");
    let found = stdout
        .lines()
        .find(|l| l.starts_with("[{") && l.contains("Wonderful weather"));
    assert!(found.is_some(), "search found the message: {stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("1\t") && l.contains("Wonderful weather")),
        "chatctl lists it from the file: {stdout}"
    );

    // Every command the demo suggests works as printed.
    let tries: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.contains("Try next"))
        .skip(1)
        .map(str::trim)
        .take_while(|l| l.starts_with("chatctl") || l.starts_with("echo"))
        .collect();
    assert_eq!(tries.len(), 3, "{stdout}");
    for line in tries {
        let out = run_bash(
            &format!("set -euo pipefail\n{line}\n"),
            dir.path(),
            &bin_dir,
        );
        assert!(
            out.status.success(),
            "`{line}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn run_bash(script: &str, dir: &Path, bin_dir: &Path) -> std::process::Output {
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("PATH", path)
        .stdin(Stdio::null());
    for (key, _) in std::env::vars() {
        if key.starts_with("CHAT_") {
            cmd.env_remove(key);
        }
    }
    cmd.output().expect("run bash")
}
