//! Going on after an interrupted import: Ctrl-C lets the batch in flight finish, then the
//! import stops and prints the command that resumes it (`--skip N --resume`); `--resume`
//! checks the chat's last message against the input before creating anything.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chat_core::{ChatNumber, PageRequest, Token};

use super::Input;
use crate::context::Context;
use crate::exit::{CliError, CliResult, Exit};

/// Set by the first Ctrl-C (SIGINT) once [`Interrupt::watch`] runs; a second one ends the
/// process at once, with 130.
pub struct Interrupt {
    seen: Arc<AtomicBool>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Interrupt {
    /// Starts listening for Ctrl-C.
    pub fn watch() -> Self {
        let seen = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&seen);
        let watcher = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::SeqCst);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(i32::from(Exit::Interrupted as u8));
                }
            }
        });
        Interrupt { seen, watcher }
    }

    /// Whether Ctrl-C was pressed.
    pub fn seen(&self) -> bool {
        self.seen.load(Ordering::SeqCst)
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// The index of the first body to create. `skip` file lines are passed over; with `resume`,
/// the chat's last message must be the last body before that point (with `skip`), or is
/// looked for in the input and the import starts after it (without).
pub async fn start(
    ctx: &Context,
    (t, chat): (&Token, ChatNumber),
    input: &Input,
    skip: Option<usize>,
    resume: bool,
) -> CliResult<usize> {
    let after_skip = skip.map_or(0, |n| input.lines.partition_point(|&line| line <= n));
    if !resume {
        return Ok(after_skip);
    }
    let latest = ctx
        .api
        .list_messages(t, chat, PageRequest::first(1)?.newest_first())
        .await?;
    let last = latest.items.first();
    match (skip, last) {
        (Some(n), None) if after_skip > 0 => Err(CliError::failed(format!(
            "--resume: chat {chat} has no message yet, so the lines before --skip {n} were \
             not stored; nothing was imported"
        ))
        .hint("import without --skip")),
        (_, None) => Ok(after_skip),
        (Some(n), Some(m)) => {
            if after_skip > 0 && input.bodies[after_skip - 1] == m.body.as_str() {
                Ok(after_skip)
            } else {
                Err(CliError::failed(format!(
                    "--resume: the chat's last message (number {}) is not the last line \
                     before --skip {n}; nothing was imported",
                    m.number
                ))
                .hint("without --skip, --resume looks for that message in the input"))
            }
        }
        (None, Some(m)) => {
            let found: Vec<usize> = input
                .bodies
                .iter()
                .enumerate()
                .filter(|(_, b)| *b == m.body.as_str())
                .map(|(i, _)| i)
                .collect();
            match found.as_slice() {
                [i] => Ok(i + 1),
                [] => Err(CliError::failed(format!(
                    "--resume: the chat's last message (number {}) is no line of the input; \
                     nothing was imported",
                    m.number
                ))),
                many => Err(CliError::failed(format!(
                    "--resume: the chat's last message (number {}) is on {} lines of the input \
                     ({}); nothing was imported",
                    m.number,
                    many.len(),
                    many.iter()
                        .take(5)
                        .map(|&i| format!("line {}", input.lines[i]))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .hint("say which with --skip N: the line number of the last stored line")),
            }
        }
    }
}

/// The command line this process was started with, with `--skip N --resume` in place of any
/// `--skip` or `--resume` it had (none when `through` is 0), quoted for a POSIX shell.
pub fn command_line(through: usize) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut args = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        if arg == "--skip" {
            args.next();
        } else if arg != "--resume" && !arg.starts_with("--skip=") {
            words.push(arg);
        }
    }
    if through > 0 {
        words.extend([
            "--skip".to_owned(),
            through.to_string(),
            "--resume".to_owned(),
        ]);
    }
    words
        .iter()
        .map(|w| quoted(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `w` as one word for a POSIX shell.
fn quoted(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        w.to_owned()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn words_are_quoted_only_when_a_shell_would_split_them() {
        assert_eq!(
            quoted("sqlite://chat-data/chat.db"),
            "sqlite://chat-data/chat.db"
        );
        assert_eq!(quoted("my file.txt"), "'my file.txt'");
        assert_eq!(quoted("it's"), r"'it'\''s'");
        assert_eq!(quoted(""), "''");
    }
}
