//! `chatctl reindex [--app TOKEN]`: rebuilds the search index from the stored messages, e.g.
//! after restoring a database backup or changing the search backend.

use std::time::Instant;

use clap::Args;

use super::token;
use crate::cli::Format;
use crate::context::Context;
use crate::exit::CliResult;
use crate::output::count;
use crate::progress::{plural, summary};

/// Arguments of `reindex`.
#[derive(Debug, Args)]
pub struct ReindexArgs {
    /// Only this application (default: all of them)
    #[arg(long = "app", value_name = "TOKEN")]
    pub app: Option<String>,
}

/// Runs `reindex`.
pub async fn run(ctx: &Context, args: ReindexArgs) -> CliResult {
    let scope = args.app.as_deref().map(token).transpose()?;
    let started = Instant::now();
    let bar = ctx.bar();
    let result = ctx.api.reindex(scope.as_ref(), bar.clone()).await?;
    drop(bar);
    let elapsed = started.elapsed();

    if ctx.out.format() == Format::Json {
        ctx.out.json(&result)?;
    } else {
        let mut t = ctx
            .out
            .table(&["applications", "chats", "messages indexed"]);
        t.add_row(vec![
            count(result.applications),
            count(result.chats),
            count(result.messages),
        ]);
        ctx.out.print_table(&t)?;
    }
    let scope = format!(
        " of {} in {}",
        plural(result.chats, "chat", "chats"),
        plural(result.applications, "application", "applications")
    );
    ctx.out.note(&summary(
        "reindex",
        result.messages,
        ("message", "messages"),
        &scope,
        elapsed,
        "",
    ));
    Ok(())
}
