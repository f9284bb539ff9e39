//! The commands, one module per noun (`app`, `chat`, `message`) or verb (`search`, `recount`…),
//! and what they share: parsing tokens and numbers with chat-core's own parsers (so malformed
//! input exits with 4, like the server's 400), paging, and reading text from stdin.

pub mod app;
pub mod backup;
pub mod bench;
pub mod chat;
pub mod completions;
pub mod demo;
pub mod export;
pub mod import;
pub mod message;
pub mod queue;
pub mod recount;
pub mod reindex;
pub mod restore;
pub mod search;

use std::future::Future;
use std::io::Read;

use chat_core::model::MAX_LIMIT;
use chat_core::{ChatNumber, MessageNumber, Page, PageRequest, Token};
use clap::Args;

use crate::cli::Command;
use crate::context::Context;
use crate::exit::{CliError, CliResult};
use crate::output::stdin_is_terminal;

/// Runs a command that needs the chat system.
pub async fn run(ctx: &Context, command: Command) -> CliResult {
    match command {
        Command::App(c) => app::run(ctx, c).await,
        Command::Chat(c) => chat::run(ctx, c).await,
        Command::Message(c) => message::run(ctx, c).await,
        Command::Search(a) => search::run(ctx, a).await,
        Command::Recount(a) => recount::run(ctx, a).await,
        Command::Reindex(a) => reindex::run(ctx, a).await,
        Command::Queue(c) => queue::run(ctx, c).await,
        Command::Import(a) => import::run(ctx, a).await,
        Command::Export(a) => export::run(ctx, a).await,
        Command::Restore(a) => restore::run(ctx, a).await,
        Command::Backup(a) => backup::run(ctx, a).await,
        Command::Demo(a) => demo::run(ctx, a).await,
        Command::Bench(a) => bench::run(ctx, a).await,
        Command::Completions(a) => completions::run(&a),
        Command::Man(a) => completions::man(&a),
    }
}

/// Paging flags of the list commands.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Most items to print (the page size with --all) [default: 50, or 1000 with --all]
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Start after this item: the last number (or token) of the previous page
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<String>,
    /// Follow the pages to the end of the list
    #[arg(long)]
    pub all: bool,
}

impl ListArgs {
    /// Fetches one page, or every page with `--all`, starting after `--after` (parsed by
    /// `parse_cursor`). Returns the items and, when more remain, the cursor of the next page.
    pub async fn collect<T, C, F, Fut>(
        &self,
        parse_cursor: impl Fn(&str) -> chat_core::Result<C>,
        fetch: F,
    ) -> CliResult<(Vec<T>, Option<C>)>
    where
        F: FnMut(PageRequest<C>) -> Fut,
        Fut: Future<Output = chat_core::Result<Page<T, C>>>,
    {
        let limit = self.limit.unwrap_or(if self.all {
            MAX_LIMIT
        } else {
            chat_core::model::DEFAULT_LIMIT
        });
        let after = self.after.as_deref().map(parse_cursor).transpose()?;
        let first = PageRequest {
            limit,
            after,
            newest: false,
        };
        Ok(chat_core::collect_pages(first, self.all, fetch).await?)
    }
}

/// Tells how to get the next page, on stderr, when a list was cut.
pub fn more_hint(ctx: &Context, next: Option<impl std::fmt::Display>) {
    if let Some(next) = next {
        ctx.out.note(&format!(
            "more remain: add --after {next} for the next page, or --all"
        ));
    }
}

/// An application token, checked by chat-core (malformed → exit code 4).
pub fn token(s: &str) -> CliResult<Token> {
    Ok(Token::parse(s.trim())?)
}

/// A chat number, checked by chat-core.
pub fn chat_number(s: &str) -> CliResult<ChatNumber> {
    Ok(ChatNumber::parse(s.trim())?)
}

/// A message number, checked by chat-core.
pub fn message_number(s: &str) -> CliResult<MessageNumber> {
    Ok(MessageNumber::parse(s.trim())?)
}

/// The confirmation flag of the delete commands.
#[derive(Debug, Clone, Args)]
pub struct ConfirmArgs {
    /// Delete without asking (required when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

impl ConfirmArgs {
    /// Unless `--yes`: asks on the terminal the question `ask` makes (it may look up what the
    /// delete takes with it), and refuses, changing nothing, when stdin is not a terminal or the
    /// answer is not yes.
    pub async fn confirm<F, Fut>(&self, what: &str, ask: F) -> CliResult
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = CliResult<String>>,
    {
        if self.yes {
            return Ok(());
        }
        if !stdin_is_terminal() {
            return Err(CliError::usage(format!(
                "refusing to delete {what} without confirmation: stdin is not a terminal \
                 (pass --yes to delete anyway)"
            )));
        }
        let question = ask().await?;
        eprint!("{question} [y/N] ");
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| CliError::io("reading the answer from stdin", e))?;
        if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
            Ok(())
        } else {
            Err(CliError::failed(format!("not deleted: {what}")))
        }
    }
}

/// Reports a delete: a line for people, the deleted item as JSON (`{"deleted": "chat",
/// "token": …, "chat": 2}`), or with `-o name` its token or number.
pub fn deleted(
    ctx: &Context,
    token: &Token,
    chat: Option<ChatNumber>,
    message: Option<MessageNumber>,
) -> CliResult {
    let kind = match (chat, message) {
        (_, Some(_)) => "message",
        (Some(_), None) => "chat",
        (None, None) => "application",
    };
    match ctx.out.format() {
        crate::cli::Format::Json => {
            let mut value = serde_json::json!({ "deleted": kind, "token": token });
            if let Some(c) = chat {
                value["chat"] = serde_json::json!(c);
            }
            if let Some(m) = message {
                value["message"] = serde_json::json!(m);
            }
            ctx.out.json(&value)
        }
        crate::cli::Format::Name => {
            let name = match (chat, message) {
                (_, Some(m)) => m.to_string(),
                (Some(c), None) => c.to_string(),
                (None, None) => token.to_string(),
            };
            ctx.out.write(&format!("{name}\n"))
        }
        crate::cli::Format::Table => {
            let line = match (chat, message) {
                (Some(c), Some(m)) => format!("deleted message {m} of chat {c} of {token}"),
                (Some(c), None) => format!("deleted chat {c} of {token}"),
                _ => format!("deleted application {token}"),
            };
            ctx.out.write(&format!("{line}\n"))
        }
    }
}

/// The text given on the command line, or stdin's when it is absent or `-`. One final line
/// break is dropped, since `echo` and editors add it and nobody means it as part of the text.
pub fn text_or_stdin(ctx: &Context, arg: Option<String>, what: &str) -> CliResult<String> {
    match arg {
        Some(text) if text != "-" => Ok(text),
        _ => {
            if stdin_is_terminal() {
                ctx.out.note(&format!(
                    "reading the {what} from stdin (end it with Ctrl-D)"
                ));
            }
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::io(format!("reading the {what} from stdin"), e))?;
            let trimmed = text
                .strip_suffix("\r\n")
                .or_else(|| text.strip_suffix('\n'))
                .unwrap_or(&text);
            Ok(trimmed.to_owned())
        }
    }
}
