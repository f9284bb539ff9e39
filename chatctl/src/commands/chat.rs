//! `chatctl chat …`: an application's chats — create, list, show.

use clap::Subcommand;

use super::{chat_number, more_hint, token, ListArgs};
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
    },
    /// Show one chat
    Show {
        /// The application's token
        token: String,
        /// The chat's number
        number: String,
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
        ChatCommand::List { token: t, page } => {
            let t = token(&t)?;
            let (chats, next) = page
                .collect(chat_core::ChatNumber::parse, |p| api.list_chats(&t, p))
                .await?;
            ctx.out.chats(&chats, true)?;
            more_hint(ctx, next);
            Ok(())
        }
        ChatCommand::Show { token: t, number } => {
            let chat = api.get_chat(&token(&t)?, chat_number(&number)?).await?;
            ctx.out.chats(&[chat], false)
        }
    }
}
