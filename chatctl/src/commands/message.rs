//! `chatctl message …`: a chat's messages — send (from the command line or stdin), list, show,
//! edit, delete, and tail (follow as they arrive).

use chat_core::{MessageNumber, PageRequest};
use clap::Subcommand;
use futures::StreamExt;

use super::{
    chat_number, deleted, message_number, more_hint, text_or_stdin, token, ConfirmArgs, ListArgs,
};
use crate::context::Context;
use crate::exit::CliResult;

/// What to do with messages.
#[derive(Debug, Subcommand)]
pub enum MessageCommand {
    /// Send a message to a chat and print its number
    #[command(
        visible_alias = "create",
        long_about = "Send a message to a chat and print its number \
        (`create` does the same, like `app create` and `chat create`).\n\n\
        Without BODY, or with `-`, the body is read from stdin (one final line break dropped), \
        so `fortune | chatctl message send TOKEN 1` works."
    )]
    Send {
        /// The application's token
        token: String,
        /// The chat's number
        chat: String,
        /// The text; `-` or nothing reads it from stdin
        body: Option<String>,
    },
    /// List a chat's messages by number
    List {
        /// The application's token
        token: String,
        /// The chat's number
        chat: String,
        #[command(flatten)]
        page: ListArgs,
        /// Print the latest N (highest numbers), in number order, instead of the first page
        #[arg(long, value_name = "N", conflicts_with_all = ["limit", "after", "all"],
              value_parser = clap::value_parser!(u32).range(1..=1000))]
        last: Option<u32>,
    },
    /// Show one message in full
    Show {
        /// The application's token
        token: String,
        /// The chat's number
        chat: String,
        /// The message's number
        number: String,
    },
    /// Replace a message's body
    #[command(long_about = "Replace a message's body.\n\n\
        Without BODY, or with `-`, the new body is read from stdin (one final line break \
        dropped), as `message send` does.")]
    Edit {
        /// The application's token
        token: String,
        /// The chat's number
        chat: String,
        /// The message's number
        number: String,
        /// The new text; `-` or nothing reads it from stdin
        body: Option<String>,
    },
    /// Delete a message
    #[command(
        long_about = "Delete a message: it leaves lists and search at once, and \
        followers of the chat see it deleted.\n\n\
        Without --yes it asks first on a terminal, and refuses (exit code 2) when stdin is not \
        a terminal. Its number is never reused."
    )]
    Delete {
        /// The application's token
        token: String,
        /// The chat's number
        chat: String,
        /// The message's number
        number: String,
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
    /// Print a chat's messages as they arrive, until interrupted
    #[command(
        long_about = "Print a chat's messages as they arrive, until interrupted.\n\n\
        Each creation is printed once, in number order; edits are printed as `edited`, \
        deletions as `NUMBER<TAB>deleted`. Over \
        HTTP the stream reconnects by itself after the last message printed, so a server \
        restart loses and repeats nothing. Without --from only new messages are printed. \
        One line per event: `NUMBER<TAB>created|edited<TAB>TIME<TAB>BODY` (line breaks in \
        the body as `\\n`), or with `--output json` one JSON object per line: \
        {\"event\": \"created\", \"message\": {…}}."
    )]
    Tail {
        /// The application's token
        token: String,
        /// The chat's number
        chat: String,
        /// Start at this message number (1: the whole chat) instead of new messages only
        #[arg(long, value_name = "N")]
        from: Option<String>,
    },
}

/// Runs a `message` command.
pub async fn run(ctx: &Context, command: MessageCommand) -> CliResult {
    let api = &ctx.api;
    match command {
        MessageCommand::Send {
            token: t,
            chat,
            body,
        } => {
            let (t, chat) = (token(&t)?, chat_number(&chat)?);
            let body = text_or_stdin(ctx, body, "message body")?;
            let message = api.create_message(&t, chat, &body).await?;
            ctx.out.messages(&[message], false)
        }
        MessageCommand::List {
            token: t,
            chat,
            page,
            last,
        } => {
            let (t, chat) = (token(&t)?, chat_number(&chat)?);
            if let Some(n) = last {
                let latest = api
                    .list_messages(&t, chat, PageRequest::first(n)?.newest_first())
                    .await?;
                let mut messages = latest.items;
                messages.reverse();
                return ctx.out.messages(&messages, true);
            }
            let (messages, next) = page
                .collect(chat_core::MessageNumber::parse, |p| {
                    api.list_messages(&t, chat, p)
                })
                .await?;
            ctx.out.messages(&messages, true)?;
            more_hint(ctx, next);
            Ok(())
        }
        MessageCommand::Show {
            token: t,
            chat,
            number,
        } => {
            let (t, chat, n) = (token(&t)?, chat_number(&chat)?, message_number(&number)?);
            let message = api.get_message(&t, chat, n).await?;
            show_in_full(ctx, &message)
        }
        MessageCommand::Edit {
            token: t,
            chat,
            number,
            body,
        } => {
            let (t, chat, n) = (token(&t)?, chat_number(&chat)?, message_number(&number)?);
            let body = text_or_stdin(ctx, body, "message body")?;
            let message = api.update_message(&t, chat, n, &body).await?;
            ctx.out.messages(&[message], false)
        }
        MessageCommand::Delete {
            token: t,
            chat,
            number,
            confirm,
        } => {
            let (t, chat, n) = (token(&t)?, chat_number(&chat)?, message_number(&number)?);
            confirm
                .confirm(&format!("message {n} of chat {chat} of {t}"), || async {
                    let m = api.get_message(&t, chat, n).await?;
                    Ok(format!(
                        "Delete message {n} of chat {chat} ({})?",
                        crate::output::ellipsize(&m.body.replace('\n', " "), 40)
                    ))
                })
                .await?;
            api.delete_message(&t, chat, n).await?;
            deleted(ctx, &t, Some(chat), Some(n))
        }
        MessageCommand::Tail {
            token: t,
            chat,
            from,
        } => {
            let (t, chat) = (token(&t)?, chat_number(&chat)?);
            let after = match from {
                Some(n) => MessageNumber::new(message_number(&n)?.get() - 1).ok(),
                // New messages only: after the highest number there is now (not after the
                // count, which deletions leave below it).
                None => api
                    .list_messages(&t, chat, PageRequest::first(1)?.newest_first())
                    .await?
                    .items
                    .first()
                    .map(|m| m.number),
            };
            tail(ctx, api.follow(&t, chat, after).await?).await
        }
    }
}

/// Prints events until the stream ends or fails.
async fn tail(ctx: &Context, mut events: chat_core::LiveStream) -> CliResult {
    let json = ctx.out.format() == crate::cli::Format::Json;
    while let Some(event) = events.next().await {
        let event = event?;
        let line = if json {
            serde_json::to_string(&event).map_err(|e| {
                crate::exit::CliError::failed(format!("cannot encode the event as JSON: {e}"))
            })?
        } else {
            match event.message() {
                Some(m) => format!(
                    "{}\t{}\t{}\t{}",
                    m.number,
                    event.kind(),
                    crate::output::when(&m.updated_at),
                    m.body.replace('\\', "\\\\").replace('\n', "\\n")
                ),
                None => format!("{}\t{}", event.number(), event.kind()),
            }
        };
        ctx.out.write(&format!("{line}\n"))?;
    }
    Ok(())
}

/// One message: the table row, then on a terminal the whole body, which the table may have
/// cut (piped, the tab-separated row already holds it, and stays the only line after the
/// header).
fn show_in_full(ctx: &Context, message: &chat_core::Message) -> CliResult {
    ctx.out.messages(std::slice::from_ref(message), false)?;
    if ctx.out.format() == crate::cli::Format::Table && ctx.out.is_terminal() {
        ctx.out.write(&format!("{}\n", message.body))?;
    }
    Ok(())
}
