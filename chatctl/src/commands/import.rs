//! `chatctl import TOKEN CHAT FILE`: bulk creation of messages, for scripts and benchmarks.
//!
//! The whole input is read and checked before the first message is created, so a bad line
//! changes nothing. Messages are then created with a bounded number of requests in flight:
//! enough to fill the embedded writer's group commits (or the server's queue) without
//! unbounded memory. Numbers follow the order in which creations commit, not the line order.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chat_core::{Body, ChatApi, Progress};
use clap::{Args, ValueEnum};
use comfy_table::Cell;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::{chat_number, token};
use crate::cli::Format;
use crate::context::Context;
use crate::exit::{CliError, CliResult};
use crate::output::{count, stdin_is_terminal};
use crate::progress::{summary, thousands};

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The application's token
    pub token: String,
    /// The chat's number
    pub chat: String,
    /// The file to read; `-` reads stdin
    pub file: PathBuf,
    /// How lines are read: `jsonl` is one `{"body": "…"}` per line, `lines` one body per line
    #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
    pub format: InputFormat,
    /// Most creations in flight at once
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
}

/// How the lines of an import are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// JSON Lines when the first non-blank line starts with `{`, else one body per line
    Auto,
    /// One JSON object with a "body" string per line
    Jsonl,
    /// One body per line, taken as is
    Lines,
}

#[derive(Deserialize)]
struct Line {
    body: String,
}

/// What `--output json` prints at the end.
#[derive(Serialize)]
struct Report {
    imported: u64,
    first_number: Option<u32>,
    last_number: Option<u32>,
    duration_ms: u64,
    messages_per_second: u64,
}

/// Runs `import`.
pub async fn run(ctx: &Context, args: ImportArgs) -> CliResult {
    let (t, chat) = (token(&args.token)?, chat_number(&args.chat)?);
    let bodies = parse(&read_input(ctx, &args)?, args.format)?;
    // Fail on an unknown application or chat before any progress bar appears.
    ctx.api.get_chat(&t, chat).await?;

    let total = bodies.len() as u64;
    let bar = ctx.bar();
    bar.start("messages", Some(total));
    let started = Instant::now();
    let api: Arc<dyn ChatApi> = Arc::clone(&ctx.api);
    let progress = Arc::clone(&bar);
    let created = stream::iter(bodies)
        .map(|body| {
            let (api, t, progress) = (Arc::clone(&api), t.clone(), Arc::clone(&progress));
            async move {
                let m = api.create_message(&t, chat, &body).await?;
                progress.advance(1);
                Ok::<_, chat_core::Error>(m.number.get())
            }
        })
        .buffer_unordered(usize::from(args.concurrency))
        .try_collect::<Vec<u32>>()
        .await;
    bar.finish();
    let elapsed = started.elapsed();
    let mut numbers = created.map_err(|e| {
        CliError::from(e).hint("messages created before the failure are kept; see `message list`")
    })?;
    numbers.sort_unstable();
    let imported = numbers.len() as u64;

    let report = Report {
        imported,
        first_number: numbers.first().copied(),
        last_number: numbers.last().copied(),
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        messages_per_second: per_second(imported, elapsed),
    };
    match ctx.out.format() {
        // The table below says the same as the summary line: one of them is enough.
        Format::Json => {
            let into = format!(" into chat {chat} of {t}");
            ctx.out.note(&summary(
                "import",
                imported,
                ("message", "messages"),
                &into,
                elapsed,
                "",
            ));
            ctx.out.json(&report)
        }
        Format::Name => {
            let lines: String = numbers.iter().map(|n| format!("{n}\n")).collect();
            ctx.out.write(&lines)
        }
        Format::Table => {
            let mut table = ctx.out.table(&["imported", "numbers", "duration", "rate"]);
            table.add_row(vec![
                count(imported),
                Cell::new(match (report.first_number, report.last_number) {
                    (Some(a), Some(b)) => format!("{a}..{b}"),
                    _ => "-".to_owned(),
                }),
                Cell::new(crate::progress::duration(elapsed)),
                Cell::new(format!(
                    "{} messages/s",
                    thousands(report.messages_per_second)
                )),
            ]);
            ctx.out.print_table(&table)
        }
    }
}

fn per_second(n: u64, d: std::time::Duration) -> u64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let r = (n as f64 / d.as_secs_f64().max(1e-3)).round() as u64;
    r
}

fn read_input(ctx: &Context, args: &ImportArgs) -> CliResult<String> {
    let mut text = String::new();
    if args.file.as_os_str() == "-" {
        if stdin_is_terminal() {
            ctx.out
                .note("reading messages from stdin, one per line (end with Ctrl-D)");
        }
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::io("reading stdin", e))?;
    } else {
        std::fs::File::open(&args.file)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map_err(|e| CliError::io(format!("reading {}", args.file.display()), e))?;
    }
    Ok(text)
}

/// The bodies of the input, each checked; blank lines are skipped. A bad line is reported
/// with its number and nothing is created.
fn parse(text: &str, format: InputFormat) -> CliResult<Vec<String>> {
    let jsonl = match format {
        InputFormat::Jsonl => true,
        InputFormat::Lines => false,
        InputFormat::Auto => text
            .lines()
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| l.trim_start().starts_with('{')),
    };
    let mut bodies = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let body = if jsonl {
            serde_json::from_str::<Line>(line)
                .map_err(|e| {
                    CliError::input(format!(
                        "line {}: expected a JSON object like {{\"body\": \"…\"}}: {e}",
                        i + 1
                    ))
                })?
                .body
        } else {
            line.to_owned()
        };
        Body::parse(&body).map_err(|e| CliError::input(format!("line {}: {e}", i + 1)))?;
        bodies.push(body);
    }
    if bodies.is_empty() {
        return Err(CliError::input("the input holds no message"));
    }
    Ok(bodies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_are_recognised_and_blank_lines_skipped() {
        let jsonl = "{\"body\": \"one\"}\n\n{\"body\": \"two\\nlines\"}\n";
        assert_eq!(
            parse(jsonl, InputFormat::Auto).expect("valid"),
            ["one", "two\nlines"]
        );
        let plain = "first\r\n  \nsecond {not json}\n";
        assert_eq!(
            parse(plain, InputFormat::Auto).expect("valid"),
            ["first", "second {not json}"]
        );
        assert_eq!(parse("{x}\n", InputFormat::Lines).expect("valid"), ["{x}"]);
    }

    #[test]
    fn a_bad_line_is_named_and_rejects_the_whole_input() {
        let err = parse("{\"body\": \"ok\"}\n{\"text\": 1}\n", InputFormat::Auto)
            .expect_err("second line is wrong");
        assert_eq!(err.exit() as u8, 4);
        let err = parse("{\"body\": \"  \"}\n", InputFormat::Jsonl).expect_err("blank body");
        assert_eq!(err.exit() as u8, 4);
        assert!(parse("\n\n", InputFormat::Auto).is_err());
    }
}
