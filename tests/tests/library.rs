//! chat-core as a dependency sees it: each documented feature set builds with no warning
//! (clippy and rustdoc, warnings denied), and the README's library program runs from any
//! folder.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "chatctl/harness.rs"]
mod harness;

use std::process::Stdio;

/// The feature sets the crate docs and the README document (`--no-default-features` plus
/// these); the empty one is the default's opposite, and `sqlite` is the default itself.
const FEATURE_SETS: &[&str] = &[
    "sqlite",
    "client",
    "sqlite,client",
    "distributed",
    "sqlite,client,distributed,cli",
];

#[test]
fn each_documented_feature_set_of_chat_core_builds_without_a_warning() {
    let mut failures = Vec::new();
    for features in FEATURE_SETS {
        for tool in ["clippy", "doc"] {
            let (mut cargo, _) = chat_tests::cargo(tool);
            cargo.args([
                "-p",
                "chat-core",
                "--lib",
                "--no-default-features",
                "--locked",
            ]);
            cargo.args(["--features", features, "--message-format", "short"]);
            if tool == "clippy" {
                cargo.args(["--", "-D", "warnings"]);
            } else {
                cargo.arg("--no-deps").env("RUSTDOCFLAGS", "-D warnings");
            }
            let out = cargo.stdin(Stdio::null()).output().expect("run cargo");
            if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let said: Vec<&str> = stderr
                    .lines()
                    .filter(|l| l.contains("warning") || l.contains("error"))
                    .collect();
                failures.push(format!(
                    "cargo {tool} --features {features}:\n{}",
                    said.join("\n")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_readme_library_program_runs_from_any_folder() {
    let (mut cargo, profile) = chat_tests::cargo("build");
    let out = cargo
        .args(["--workspace", "--all-features", "--example", "library"])
        .args([
            "--profile",
            &profile,
            "--message-format",
            "json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(out.status.success(), "cargo build --example library failed");
    let program = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|m| m["target"]["name"] == "library")
        .and_then(|m| m["executable"].as_str().map(std::path::PathBuf::from))
        .expect("cargo built the example");

    // The server in one folder, on its own database; the program in another.
    let server_dir = tempfile::tempdir().unwrap();
    let server = harness::Server::start(server_dir.path());
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(program);
    for var in harness::CHAT_VARS {
        cmd.env_remove(var);
    }
    let out = cmd
        .env("CHAT_SERVER", &server.url)
        .current_dir(elsewhere.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stderr.trim().is_empty(), "it reported an error: {stderr}");
    let found: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("1 found"))
        .collect();
    assert_eq!(found.len(), 2, "directly and over HTTP: {stdout}");
    assert!(
        stdout.contains(&format!("the same over HTTP at {}", server.url)),
        "{stdout}"
    );
    assert!(elsewhere.path().join("chat-data/chat.db").exists());
}
