//! The README and the documents in `docs/` run as written.
//!
//! - The blocks marked `<!-- readme-test: run-it -->` and `<!-- readme-test: curl -->` (in
//!   whichever of those files holds them) run in a fresh folder with the freshly built binaries
//!   on the `PATH`, then the commands the demo suggests under "Try next".
//! - The library program shown under "Using chat-core" is the example the build compiles.
//! - Every `chatctl` and `chat-server` command they show — in `sh` and `console` blocks, in
//!   inline code, and in the usage blocks marked `<!-- readme-test: chatctl-usage -->` — names
//!   commands and flags the binaries have (checked against their `--help`), and every flag and
//!   variable of the configuration table in `docs/operations.md` exists.
//! - Every relative link leads to a file that exists, and every `#anchor` to a heading of it.
//! - The README stays short: the front door, not the manual.
//!
//! The run-it blocks talk to 127.0.0.1:3000, as the README does, so this file is its own test
//! binary and runs alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const LIBRARY_EXAMPLE: &str = include_str!("../../examples/examples/library.rs");

/// The markers this test knows; any other `readme-test` marker is a mistake.
const MARKERS: [&str; 3] = ["run-it", "curl", "chatctl-usage"];

/// The README's length limit, in lines.
const README_MAX_LINES: usize = 300;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One Markdown document: its path from the repository root and its text.
struct Doc {
    path: String,
    text: String,
}

/// The README and every Markdown file of `docs/` (read when the test runs, so a new document
/// is checked as soon as it exists).
fn docs() -> Vec<Doc> {
    let mut paths = vec!["README.md".to_owned()];
    let mut in_docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    in_docs.sort();
    paths.extend(in_docs);
    paths
        .into_iter()
        .map(|path| Doc {
            text: std::fs::read_to_string(root().join(&path))
                .unwrap_or_else(|e| panic!("{path}: {e}")),
            path,
        })
        .collect()
}

fn marker(name: &str) -> String {
    format!("<!-- readme-test: {name} -->")
}

/// The first fenced block after byte `at`, without its fences.
fn block_at(text: &str, at: usize) -> &str {
    let rest = &text[at..];
    let open = rest.find("```").expect("a fenced block after the marker");
    let body_start = open + rest[open..].find('\n').expect("fence line") + 1;
    let close = rest[body_start..].find("\n```").expect("closing fence");
    &rest[body_start..body_start + close + 1]
}

/// The block after `marker`, which must occur exactly once in all the documents.
fn unique_block<'a>(docs: &'a [Doc], name: &str) -> &'a str {
    let m = marker(name);
    let found: Vec<(&Doc, usize)> = docs
        .iter()
        .flat_map(|d| d.text.match_indices(&m).map(move |(at, _)| (d, at)))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{m} must occur exactly once in README.md and docs/*.md, found in {:?}",
        found.iter().map(|(d, _)| &d.path).collect::<Vec<_>>()
    );
    block_at(&found[0].0.text, found[0].1)
}

/// Fenced blocks of a document: (info string, body); text outside them is returned apart.
fn split_fences(text: &str) -> (Vec<(String, String)>, String) {
    let mut blocks = Vec::new();
    let mut prose = String::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        match &mut current {
            None if trimmed.starts_with("```") => {
                current = Some((
                    trimmed.trim_start_matches('`').trim().to_owned(),
                    String::new(),
                ));
            }
            None => {
                prose.push_str(line);
                prose.push('\n');
            }
            Some(_) if trimmed.starts_with("```") => blocks.push(current.take().unwrap()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an unclosed fenced block");
    (blocks, prose)
}

#[test]
fn the_library_program_in_the_readme_is_the_example_the_build_compiles() {
    let docs = docs();
    let holders: Vec<&Doc> = docs
        .iter()
        .filter(|d| d.text.contains("## Using chat-core"))
        .collect();
    assert_eq!(
        holders.len(),
        1,
        "one document has the section Using chat-core"
    );
    let text = &holders[0].text;
    let at = text.find("## Using chat-core").unwrap();
    let shown = block_at(text, at + text[at..].find("```rust").expect("a Rust block"));
    let example: String = LIBRARY_EXAMPLE
        .lines()
        .skip_while(|l| l.starts_with("//!") || l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        shown, example,
        "{}'s Rust program and examples/examples/library.rs differ",
        holders[0].path
    );
}

#[test]
fn every_readme_test_marker_is_one_this_test_checks() {
    let docs = docs();
    let mut seen = BTreeSet::new();
    for doc in &docs {
        for (at, _) in doc.text.match_indices("<!-- readme-test:") {
            let end = doc.text[at..].find("-->").expect("marker closed") + at;
            let name = doc.text[at + "<!-- readme-test:".len()..end].trim();
            assert!(
                MARKERS.contains(&name),
                "{}: unknown marker `{name}` (this test checks {MARKERS:?})",
                doc.path
            );
            seen.insert(name.to_owned());
        }
    }
    for name in MARKERS {
        assert!(seen.contains(name), "no document has the marker {name}");
    }
}

#[test]
fn the_run_it_and_curl_blocks_run_as_written() {
    assert!(
        TcpListener::bind("127.0.0.1:3000").is_ok(),
        "the README's blocks use 127.0.0.1:3000, which something else holds"
    );
    let docs = docs();
    let built = chat_tests::cargo_build(&["chatctl", "chat-server"]);
    let bin_dir = built[0].parent().expect("binary folder").to_owned();
    let dir = tempfile::tempdir().unwrap();

    let mut script = String::from(
        "set -euo pipefail\n\
         trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n",
    );
    for name in ["run-it", "curl"] {
        for line in unique_block(&docs, name).lines() {
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

#[test]
fn the_readme_fits_on_a_few_screens() {
    let readme = &docs()[0];
    let lines = readme.text.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, more than {README_MAX_LINES}: move the detail to docs/"
    );
}

/// The `--help` texts of the binaries, by command path, asked once each.
struct Helps {
    bins: HashMap<&'static str, PathBuf>,
    cache: HashMap<(String, Vec<String>), Result<String, String>>,
}

impl Helps {
    fn help(&mut self, bin: &str, path: &[String]) -> Result<String, String> {
        let key = (bin.to_owned(), path.to_vec());
        if let Some(h) = self.cache.get(&key) {
            return h.clone();
        }
        let mut cmd = Command::new(&self.bins[bin]);
        cmd.args(path).arg("--help").stdin(Stdio::null());
        for (key, _) in std::env::vars() {
            if key.starts_with("CHAT_") {
                cmd.env_remove(key);
            }
        }
        let out = cmd.output().expect("run --help");
        let h = if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        };
        self.cache.insert(key, h.clone());
        h
    }
}

/// The subcommands (and their aliases) a `--help` text lists.
fn subcommands(help: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_commands = false;
    for line in help.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            if !line.starts_with("  ") {
                break;
            }
            // Only names at the list's own indentation, not wrapped descriptions.
            if line.starts_with("   ") {
                continue;
            }
            if let Some(name) = line.split_whitespace().next() {
                names.insert(name.to_owned());
            }
            if let Some(at) = line.find("[aliases: ") {
                let rest = &line[at + "[aliases: ".len()..];
                let list = &rest[..rest.find(']').unwrap_or(rest.len())];
                names.extend(list.split(',').map(|a| a.trim().to_owned()));
            }
        }
    }
    names.remove("help");
    names
}

/// Whether `help` documents `flag` (`--name` or `-x`), and whether it takes a value.
fn flag_in(help: &str, flag: &str) -> Option<bool> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut found = None;
    for (at, _) in help.match_indices(flag) {
        let before = help[..at].chars().next_back();
        if before.is_some_and(|c| is_name(c) || c == '[' || c == '`') {
            continue;
        }
        let after = &help[at + flag.len()..];
        if after.chars().next().is_some_and(is_name) {
            continue;
        }
        let takes_value = after.starts_with(" <") || after.starts_with("=<");
        let short_with_long = flag.len() == 2 && after.starts_with(", --");
        let value = if short_with_long {
            let long = after[2..].split_whitespace().next().unwrap_or("");
            flag_in(help, long).unwrap_or(false)
        } else {
            takes_value
        };
        found = Some(found.unwrap_or(false) || value);
    }
    found
}

/// Checks one command line of `bin` (the words after the program name) against its `--help`:
/// every subcommand it names exists, every flag exists on the command it is given to.
fn check_command(helps: &mut Helps, bin: &str, words: &[&str]) -> Result<(), String> {
    let mut path: Vec<String> = Vec::new();
    let root = helps.help(bin, &path)?;
    let mut help = root.clone();
    let mut leaf = subcommands(&help).is_empty();
    let mut i = 0;
    while i < words.len() {
        let word = words[i]
            .trim_start_matches('[')
            .trim_end_matches([']', ',']);
        i += 1;
        if word.is_empty() || word == "-" || word == "|" {
            continue;
        }
        if word.starts_with('-') && word.len() > 1 && !word.starts_with("-<") {
            let name = word.split('=').next().unwrap();
            // A subcommand's help leaves the global flags to the top-level help.
            let Some(takes_value) = flag_in(&help, name).or_else(|| flag_in(&root, name)) else {
                return Err(format!("`{bin} {}` has no flag {name}", path.join(" ")));
            };
            if takes_value && !word.contains('=') {
                i += 1;
            }
            continue;
        }
        if !leaf {
            let subs = subcommands(&help);
            if !subs.contains(word) {
                return Err(format!(
                    "`{bin} {}` has no subcommand `{word}` (it has {subs:?})",
                    path.join(" ")
                ));
            }
            path.push(word.to_owned());
            help = helps.help(bin, &path)?;
            leaf = subcommands(&help).is_empty();
        }
    }
    Ok(())
}

/// `text` split at every `sep` outside square brackets (`[-d TIME | -n N]` stays whole).
fn split_outside_brackets<'a>(text: &'a str, sep: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let (mut depth, mut start, mut i) = (0i32, 0, 0);
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with('[') {
            depth += 1;
        } else if rest.starts_with(']') {
            depth -= 1;
        } else if depth == 0 && rest.starts_with(sep) {
            parts.push(&text[start..i]);
            i += sep.len();
            start = i;
            continue;
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    parts.push(&text[start..]);
    parts
}

/// The commands of one line of shell: its segments between pipes, `;`, `&&` and `$(`, each
/// from its program name on, up to a comment or a redirection.
fn commands_in(line: &str) -> Vec<(&'static str, Vec<String>)> {
    let line = line.replace("\\|", "|");
    let mut found = Vec::new();
    for segment in split_outside_brackets(&line, " | ")
        .into_iter()
        .flat_map(|s| s.split("$("))
        .flat_map(|s| s.split("; "))
        .flat_map(|s| s.split("&&"))
    {
        let mut words = segment.split_whitespace().peekable();
        let Some(first) = words.next() else { continue };
        let bin = match first.rsplit('/').next().unwrap() {
            "chatctl" => "chatctl",
            "chat-server" => "chat-server",
            _ => continue,
        };
        let mut args = Vec::new();
        for w in words {
            if w.starts_with('#') || w.starts_with('>') || w.starts_with("2>") || w == "&" {
                break;
            }
            if w.contains('…') {
                // An elided line: only what comes before is checked.
                break;
            }
            args.push(w.trim_end_matches(')').to_owned());
        }
        found.push((bin, args));
    }
    found
}

#[test]
fn every_command_shown_names_real_subcommands_and_flags() {
    let docs = docs();
    let built = chat_tests::cargo_build(&["chatctl", "chat-server"]);
    let bins: HashMap<&'static str, PathBuf> = built
        .iter()
        .map(|p| match p.file_name().and_then(|n| n.to_str()) {
            Some("chatctl") => ("chatctl", p.clone()),
            Some("chat-server") => ("chat-server", p.clone()),
            other => panic!("unexpected binary {other:?}"),
        })
        .collect();
    let mut helps = Helps {
        bins,
        cache: HashMap::new(),
    };

    // (where, program, words)
    let mut lines: Vec<(String, &'static str, Vec<String>)> = Vec::new();
    for doc in &docs {
        let (blocks, prose) = split_fences(&doc.text);
        for (lang, body) in &blocks {
            // A command continued over several lines (`\` at the end) is one command.
            let body = body.replace("\\\n", " ");
            for line in body.lines() {
                let line = match lang.as_str() {
                    "sh" | "bash" => line,
                    "console" => match line.strip_prefix("$ ") {
                        Some(l) => l,
                        None => continue,
                    },
                    _ => continue,
                };
                for (bin, words) in commands_in(line) {
                    lines.push((format!("{}: {line}", doc.path), bin, words));
                }
            }
        }
        // Inline code outside the blocks.
        for (n, span) in prose.split('`').enumerate() {
            if n % 2 == 1 {
                for (bin, words) in commands_in(span) {
                    lines.push((format!("{}: `{span}`", doc.path), bin, words));
                }
            }
        }
        // Usage blocks: `chatctl A B | C D | …`, each alternative a command of chatctl.
        for (at, _) in doc.text.match_indices(&marker("chatctl-usage")) {
            for line in block_at(&doc.text, at).lines() {
                let line = line.split(" # ").next().unwrap();
                let line = line.strip_prefix("chatctl ").unwrap_or_else(|| {
                    panic!("{}: a usage line starts with chatctl: {line}", doc.path)
                });
                for alternative in split_outside_brackets(line, " | ") {
                    let words = alternative.split_whitespace().map(str::to_owned).collect();
                    lines.push((
                        format!("{}: usage `{alternative}`", doc.path),
                        "chatctl",
                        words,
                    ));
                }
            }
        }
    }
    assert!(
        lines.len() > 50,
        "the documents show only {} commands: is the extraction broken?",
        lines.len()
    );
    let mut failures = Vec::new();
    for (place, bin, words) in &lines {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        if let Err(e) = check_command(&mut helps, bin, &words) {
            failures.push(format!("{place}\n    {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The configuration table: every flag and variable is one of the binaries'.
    let ops = docs
        .iter()
        .find(|d| d.path == "docs/operations.md")
        .expect("docs/operations.md");
    let section = &ops.text[ops
        .text
        .find("## Configuration")
        .expect("its Configuration")..];
    let table: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .collect();
    assert!(table.len() >= 15, "{table:?}");
    let all_help = format!(
        "{}{}",
        helps.help("chatctl", &[]).unwrap(),
        helps.help("chat-server", &[]).unwrap()
    );
    for row in table {
        let cells: Vec<&str> = row.split(" | ").collect();
        for (n, span) in cells[..2].join(" ").split('`').enumerate() {
            if n % 2 == 0 {
                continue;
            }
            for word in span.split([',', ' ']) {
                if word.starts_with("CHAT_") {
                    // `[env: NAME=value]`, or `[env: NAME]` for a secret's hidden value.
                    assert!(
                        all_help.contains(&format!("[env: {word}="))
                            || all_help.contains(&format!("[env: {word}]")),
                        "{word} is in the configuration table but neither binary reads it"
                    );
                } else if word.starts_with("--") {
                    assert!(
                        flag_in(&all_help, word).is_some(),
                        "{word} is in the configuration table but neither binary has it"
                    );
                }
            }
        }
    }
}

/// GitHub's anchor of a heading: lower case, spaces to hyphens, punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let (_, prose) = split_fences(text);
    prose
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

#[test]
fn relative_links_lead_to_files_and_headings_that_exist() {
    let root = root();
    let mut docs = docs();
    for extra in ["BENCHMARKS.md", "CHANGELOG.md"] {
        docs.push(Doc {
            path: extra.to_owned(),
            text: std::fs::read_to_string(root.join(extra))
                .unwrap_or_else(|e| panic!("{extra}: {e}")),
        });
    }
    let mut checked = 0;
    let mut broken = Vec::new();
    for doc in &docs {
        let (_, prose) = split_fences(&doc.text);
        let dir = Path::new(&doc.path).parent().unwrap().to_owned();
        for (at, _) in prose.match_indices("](") {
            let rest = &prose[at + 2..];
            let target = &rest[..rest.find(')').expect("link closed")];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, frag) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target, None),
            };
            let file_path = if file.is_empty() {
                PathBuf::from(&doc.path)
            } else {
                dir.join(file)
            };
            let full = root.join(&file_path);
            if !full.exists() {
                broken.push(format!(
                    "{}: ({target}): no file {}",
                    doc.path,
                    file_path.display()
                ));
                continue;
            }
            if let Some(frag) = frag {
                let text = std::fs::read_to_string(&full).unwrap_or_default();
                if !anchors(&text).contains(frag) {
                    broken.push(format!(
                        "{}: ({target}): {} has no heading #{frag}",
                        doc.path,
                        file_path.display()
                    ));
                }
            }
        }
    }
    assert!(
        checked > 30,
        "only {checked} links: is the extraction broken?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
