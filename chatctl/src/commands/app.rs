//! `chatctl app …`: applications — create, list, show, rename, delete.

use clap::Subcommand;

use super::{deleted, more_hint, token, ConfirmArgs, ListArgs};
use crate::context::Context;
use crate::exit::CliResult;

/// What to do with applications.
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Create an application and print it with its new token
    Create {
        /// Its name (1 to 255 characters)
        name: String,
    },
    /// List the applications in creation order (over HTTP: needs the admin token)
    List {
        #[command(flatten)]
        page: ListArgs,
    },
    /// Show one application
    Show {
        /// The application's token (32 hex characters)
        token: String,
    },
    /// Give an application a new name
    Rename {
        /// The application's token
        token: String,
        /// The new name
        name: String,
    },
    /// Delete an application with all its chats and messages (over HTTP: needs the admin
    /// token)
    #[command(
        long_about = "Delete an application with all its chats and messages (over HTTP: \
        needs the admin token).\n\n\
        Without --yes it asks first on a terminal, and refuses (exit code 2) when stdin is not \
        a terminal. Its token is never given out again."
    )]
    Delete {
        /// The application's token
        token: String,
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
}

/// Runs an `app` command.
pub async fn run(ctx: &Context, command: AppCommand) -> CliResult {
    let api = &ctx.api;
    match command {
        AppCommand::Create { name } => {
            let app = api.create_application(&name).await?;
            ctx.out.applications(&[app], false)
        }
        AppCommand::List { page } => {
            let (apps, next) = page
                .collect(chat_core::Token::parse, |p| api.list_applications(p))
                .await?;
            ctx.out.applications(&apps, true)?;
            more_hint(ctx, next);
            Ok(())
        }
        AppCommand::Show { token: t } => {
            let app = api.get_application(&token(&t)?).await?;
            ctx.out.applications(&[app], false)
        }
        AppCommand::Delete { token: t, confirm } => {
            let t = token(&t)?;
            confirm
                .confirm(&format!("application {t}"), || async {
                    let app = api.get_application(&t).await?;
                    Ok(format!(
                        "Delete application {t} ({}) and its {} chats?",
                        app.name, app.chats_count
                    ))
                })
                .await?;
            api.delete_application(&t).await?;
            deleted(ctx, &t, None, None)
        }
        AppCommand::Rename { token: t, name } => {
            let app = api.update_application(&token(&t)?, &name).await?;
            ctx.out.applications(&[app], false)
        }
    }
}
