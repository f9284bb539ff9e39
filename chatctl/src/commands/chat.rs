//! `chatctl chat …`: an application's chats — create, list, show, delete.

use chat_core::PageRequest;
use clap::Subcommand;

use super::{chat_number, deleted, more_hint, token, ConfirmArgs, ListArgs};
use crate::context::Context;
use crate::exit::CliResult;

/// What to do with chats.
#[derive(Debug, Subcommand)]
pub enum ChatCommand {
    /// Create the application's next chat and print its number
    Create {
        /// The application's token
        token: String,
    },
    /// List an application's chats by number
    List {
        /// The application's token
        token: String,
        #[command(flatten)]
        page: ListArgs,
        /// Print the latest N (highest numbers), in number order, instead of the first page
        #[arg(long, value_name = "N", conflicts_with_all = ["limit", "after", "all"],
              value_parser = clap::value_parser!(u32).range(1..=1000))]
        last: Option<u32>,
    },
    /// Show one chat
    Show {
        /// The application's token
        token: String,
        /// The chat's number
        number: String,
    },
    /// Delete a chat with all its messages
    #[command(long_about = "Delete a chat with all its messages.\n\n\
        Without --yes it asks first on a terminal, and refuses (exit code 2) when stdin is not \
        a terminal. Its number is never reused.")]
    Delete {
        /// The application's token
        token: String,
        /// The chat's number
        number: String,
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
}

/// Runs a `chat` command.
pub async fn run(ctx: &Context, command: ChatCommand) -> CliResult {
    let api = &ctx.api;
    match command {
        ChatCommand::Create { token: t } => {
            let chat = api.create_chat(&token(&t)?).await?;
            ctx.out.chats(&[chat], false)
        }
        ChatCommand::List {
            token: t,
            page,
            last,
        } => {
            let t = token(&t)?;
            if let Some(n) = last {
                let latest = api
                    .list_chats(&t, PageRequest::first(n)?.newest_first())
                    .await?;
                let mut chats = latest.items;
                chats.reverse();
                return ctx.out.chats(&chats, true);
            }
            let (chats, next) = page
                .collect(chat_core::ChatNumber::parse, |p| api.list_chats(&t, p))
                .await?;
            ctx.out.chats(&chats, true)?;
            more_hint(ctx, next);
            Ok(())
        }
        ChatCommand::Delete {
            token: t,
            number,
            confirm,
        } => {
            let (t, chat) = (token(&t)?, chat_number(&number)?);
            confirm
                .confirm(&format!("chat {chat} of {t}"), || async {
                    let c = api.get_chat(&t, chat).await?;
                    Ok(format!(
                        "Delete chat {chat} of application {t} and its {} messages?",
                        c.messages_count
                    ))
                })
                .await?;
            api.delete_chat(&t, chat).await?;
            deleted(ctx, &t, Some(chat), None)
        }
        ChatCommand::Show { token: t, number } => {
            let chat = api.get_chat(&token(&t)?, chat_number(&number)?).await?;
            ctx.out.chats(&[chat], false)
        }
    }
}
