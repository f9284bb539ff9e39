//! `chatctl recount [--app TOKEN]`: recomputes `chats_count` and `messages_count` from the
//! stored rows and prints each count it corrected.

use std::time::Instant;

use clap::Args;

use super::token;
use crate::cli::Format;
use crate::context::Context;
use crate::exit::CliResult;
use crate::progress::{plural, summary, thousands};

/// Arguments of `recount`.
#[derive(Debug, Args)]
pub struct RecountArgs {
    /// Only this application (default: all of them)
    #[arg(long = "app", value_name = "TOKEN")]
    pub app: Option<String>,
}

/// Runs `recount`.
pub async fn run(ctx: &Context, args: RecountArgs) -> CliResult {
    let scope = args.app.as_deref().map(token).transpose()?;
    let started = Instant::now();
    let bar = ctx.bar();
    let result = ctx.api.recount(scope.as_ref(), bar.clone()).await?;
    drop(bar);
    let elapsed = started.elapsed();

    if ctx.out.format() == Format::Json {
        ctx.out.json(&result)?;
    } else if !result.corrections.is_empty() {
        let mut t = ctx
            .out
            .table(&["application", "chat", "field", "was", "now"]);
        for c in &result.corrections {
            t.add_row(vec![
                c.application.to_string(),
                c.chat.map(|n| n.to_string()).unwrap_or_default(),
                c.field.clone(),
                c.was.to_string(),
                c.now.to_string(),
            ]);
        }
        ctx.out.print_table(&t)?;
    }

    let shown = result.corrections.len() as u64;
    let outcome = match result.corrected {
        0 => "; every count was right".to_owned(),
        1 => "; corrected 1 count".to_owned(),
        n if n > shown => format!("; corrected {} counts (first {shown} listed)", thousands(n)),
        n => format!("; corrected {} counts", thousands(n)),
    };
    let apps = format!(
        " of {}",
        plural(result.applications, "application", "applications")
    );
    ctx.out.note(&summary(
        "recount",
        result.chats,
        ("chat", "chats"),
        &apps,
        elapsed,
        &outcome,
    ));
    Ok(())
}
