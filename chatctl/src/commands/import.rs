//! `chatctl import TOKEN CHAT FILE`: bulk creation of messages, for scripts and benchmarks.
//!
//! The whole input is read and checked before the first message is created, so a bad line
//! changes nothing. Messages are then created in batches ([`chat_core::ChatApi::create_messages`], over
//! HTTP `POST …/messages/batch`), one after the other: a batch's numbers follow its order and
//! the next batch starts after it, so message numbers follow the line order, directly and over
//! HTTP alike, while each batch fills a group commit (or one Redis pipeline).
//!
//! Blank lines are not messages: they are skipped, and the summary says how many, because
//! `--skip N` counts every line of the input. Ctrl-C stops after the batch in flight and
//! prints how many lines were stored and the command that resumes ([`resume`]).

mod resume;

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use chat_core::{Body, Progress};
use clap::{Args, ValueEnum};
use comfy_table::Cell;
use serde::{Deserialize, Serialize};

use super::{chat_number, token};
use crate::cli::Format;
use crate::context::Context;
use crate::exit::{CliError, CliResult};
use crate::output::{count, stdin_is_terminal};
use crate::progress::{plural, summary, thousands};

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
    /// Messages per batch (each batch is one request over HTTP)
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub batch: u16,
    /// Pass over the first N lines of the input (blank ones count too), e.g. those an
    /// interrupted import stored
    #[arg(long, value_name = "N")]
    pub skip: Option<usize>,
    /// Go on where an earlier import of this input stopped: with --skip, check that the chat's
    /// last message is the last line before that point; without, start after the line that
    /// holds the chat's last message. Nothing is created if the check fails
    #[arg(long)]
    pub resume: bool,
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
    blank_lines_skipped: u64,
    first_number: Option<u32>,
    last_number: Option<u32>,
    duration_ms: u64,
    messages_per_second: u64,
}

/// Runs `import`.
pub async fn run(ctx: &Context, args: ImportArgs) -> CliResult {
    let (t, chat) = (token(&args.token)?, chat_number(&args.chat)?);
    let input = parse(&read_input(ctx, &args)?, args.format)?;
    // Fail on an unknown application or chat before any progress bar appears.
    ctx.api.get_chat(&t, chat).await?;
    let first = resume::start(ctx, (&t, chat), &input, args.skip, args.resume).await?;
    let bodies = &input.bodies[first..];
    // The lines passed over: skipped, or already stored.
    let skipped_lines = first.checked_sub(1).map_or(args.skip.unwrap_or(0), |i| {
        input.lines[i].max(args.skip.unwrap_or(0))
    });
    if bodies.is_empty() {
        return Err(CliError::input(format!(
            "nothing to import after line {} of an input of {} lines",
            thousands(skipped_lines as u64),
            thousands(input.line_count as u64)
        )));
    }
    // Blank lines among those imported (after the skipped part).
    let blank = input
        .line_count
        .saturating_sub(skipped_lines + bodies.len()) as u64;

    let interrupt = resume::Interrupt::watch();
    let total = bodies.len() as u64;
    let bar = ctx.bar();
    bar.start("messages", Some(total));
    let started = Instant::now();
    let mut numbers: Vec<u32> = Vec::with_capacity(bodies.len());
    let mut failed = None;
    for batch in batches(bodies, usize::from(args.batch)) {
        // Ctrl-C: the batch in flight was waited for; send no other.
        if interrupt.seen() {
            break;
        }
        // Each batch is awaited to its end: a Ctrl-C meanwhile only stops the next one.
        match ctx.api.create_messages(&t, chat, batch).await {
            Ok(created) => {
                numbers.extend(created.iter().map(|m| m.number.get()));
                bar.advance(created.len() as u64);
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    bar.finish();
    let elapsed = started.elapsed();
    // The last line of the input stored, this run or an earlier one: what `--skip` passes.
    let through = match (first + numbers.len()).checked_sub(1) {
        Some(i) => input.lines[i],
        None => 0,
    };
    if failed.is_none() && numbers.len() < bodies.len() {
        let stored = match (numbers.first(), numbers.last()) {
            (Some(a), Some(b)) => format!(" as messages {a}..{b}"),
            _ => String::new(),
        };
        let blanks = through.saturating_sub(skipped_lines + numbers.len());
        return Err(CliError::interrupted(format!(
            "import: interrupted: {} stored{stored} in chat {chat} (input lines through {}; \
             {} skipped), {} not sent\nresume with: {}",
            plural(numbers.len() as u64, "line", "lines"),
            thousands(through as u64),
            plural(blanks as u64, "blank line", "blank lines"),
            thousands((bodies.len() - numbers.len()) as u64),
            resume::command_line(through)
        )));
    }
    if let Some(e) = failed {
        let done = if numbers.is_empty() {
            "no message was created".to_owned()
        } else {
            format!(
                "the first {} lines were created, as messages {}..{}",
                numbers.len(),
                numbers[0],
                numbers[numbers.len() - 1]
            )
        };
        return Err(CliError::from(e).hint(format!(
            "{done}; lines of the failing batch may be created too (see `message list --last`); \
             `{}` goes on after the chat's last message",
            resume::command_line(0) + " --resume"
        )));
    }
    let imported = numbers.len() as u64;

    let report = Report {
        imported,
        blank_lines_skipped: blank,
        first_number: numbers.first().copied(),
        last_number: numbers.last().copied(),
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        messages_per_second: per_second(imported, elapsed),
    };
    let blank_note = format!(
        "{} skipped (not messages; --skip counts them as lines)",
        plural(blank, "blank line", "blank lines")
    );
    let blanks = if blank > 0 {
        format!("; {blank_note}")
    } else {
        String::new()
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
                &blanks,
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
            ctx.out.print_table(&table)?;
            if blank > 0 {
                ctx.out.note(&format!("import: {blank_note}"));
            }
            Ok(())
        }
    }
}

/// Most bytes of bodies in one batch: its JSON stays well inside the server's 4 MiB limit
/// even when every character needs escaping.
const BATCH_BYTES: usize = 512 * 1024;

/// `bodies` cut into consecutive batches of at most `size` bodies and [`BATCH_BYTES`].
fn batches(bodies: &[String], size: usize) -> Vec<&[String]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, body) in bodies.iter().enumerate() {
        if i > start && (i - start == size || bytes + body.len() > BATCH_BYTES) {
            out.push(&bodies[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += body.len();
    }
    if start < bodies.len() {
        out.push(&bodies[start..]);
    }
    out
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

/// The messages of an input and where they are in it.
#[derive(Debug)]
pub struct Input {
    /// Each body, checked, in the input's order.
    bodies: Vec<String>,
    /// The line (from 1) of each body.
    lines: Vec<usize>,
    /// How many lines the input has, blank ones included.
    line_count: usize,
}

/// The bodies of the input, each checked; blank lines are skipped. A bad line is reported
/// with its number and nothing is created.
fn parse(text: &str, format: InputFormat) -> CliResult<Input> {
    let jsonl = match format {
        InputFormat::Jsonl => true,
        InputFormat::Lines => false,
        InputFormat::Auto => text
            .lines()
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| l.trim_start().starts_with('{')),
    };
    let (mut bodies, mut lines, mut line_count) = (Vec::new(), Vec::new(), 0);
    for (i, raw) in text.lines().enumerate() {
        line_count = i + 1;
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
        lines.push(i + 1);
    }
    if bodies.is_empty() {
        return Err(CliError::input("the input holds no message"));
    }
    Ok(Input {
        bodies,
        lines,
        line_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_are_recognised_and_blank_lines_skipped() {
        let jsonl = "{\"body\": \"one\"}\n\n{\"body\": \"two\\nlines\"}\n";
        let input = parse(jsonl, InputFormat::Auto).expect("valid");
        assert_eq!(input.bodies, ["one", "two\nlines"]);
        assert_eq!((input.lines, input.line_count), (vec![1, 3], 3));
        let plain = "first\r\n  \nsecond {not json}\n\n";
        let input = parse(plain, InputFormat::Auto).expect("valid");
        assert_eq!(input.bodies, ["first", "second {not json}"]);
        assert_eq!((input.lines, input.line_count), (vec![1, 3], 4));
        assert_eq!(
            parse("{x}\n", InputFormat::Lines).expect("valid").bodies,
            ["{x}"]
        );
    }

    #[test]
    fn batches_keep_the_order_and_respect_both_bounds() {
        let bodies: Vec<String> = (0..2500).map(|i| i.to_string()).collect();
        let cut = batches(&bodies, 1000);
        assert_eq!(
            cut.iter().map(|b| b.len()).collect::<Vec<_>>(),
            [1000, 1000, 500]
        );
        assert_eq!(cut.concat(), bodies);
        let big: Vec<String> = (0..100).map(|_| "x".repeat(16 * 1024)).collect();
        let cut = batches(&big, 1000);
        assert!(cut
            .iter()
            .all(|b| b.iter().map(String::len).sum::<usize>() <= BATCH_BYTES));
        assert_eq!(cut.iter().map(|b| b.len()).sum::<usize>(), 100);
        assert!(batches(&bodies[..1], 1000).len() == 1);
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
