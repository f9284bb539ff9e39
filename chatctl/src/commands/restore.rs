//! `chatctl restore [FILE|-]`: loads an export stream into the stores chatctl opens (direct
//! mode only), in bulk, with tokens, numbers and timestamps unchanged. The stream is checked
//! line by line as it is loaded and the load commits only once its end line and checksum
//! checked out: a refused stream leaves the target as it was (exit code 4, with the line).

use std::path::PathBuf;
use std::time::Instant;

use chat_core::transfer::{read_records, read_records_blocking, RestoreOptions};
use clap::Args;

use crate::cli::Format;
use crate::context::Context;
use crate::exit::{CliError, CliResult};
use crate::progress::summary;

/// Arguments of `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The export to read; `-` reads stdin
    #[arg(default_value = "-")]
    pub file: PathBuf,
    /// Add the stream's applications to a target that already holds others (none of the
    /// stream's tokens may be there)
    #[arg(long)]
    pub merge: bool,
}

/// Runs `restore`.
pub async fn run(ctx: &Context, args: RestoreArgs) -> CliResult {
    let Some(service) = ctx.service() else {
        return Err(CliError::usage(
            "restore writes into the stores directly: run it without --server, with \
             --database-url (and --redis-url, --elasticsearch-url for the distributed profile)",
        ));
    };
    let started = Instant::now();
    let records = if args.file.as_os_str() == "-" {
        read_records_blocking(std::io::stdin())
    } else {
        let file = tokio::fs::File::open(&args.file)
            .await
            .map_err(|e| CliError::io(format!("opening {}", args.file.display()), e))?;
        read_records(file)
    };
    let options = RestoreOptions { merge: args.merge };
    let summary_of = service
        .restore(records, &options, ctx.bar())
        .await
        .map_err(|e| match e {
            // A target that holds a token of the stream is refused like a bad stream.
            chat_core::Error::Conflict(m) => CliError::input(m),
            e => e.into(),
        })?;
    match ctx.out.format() {
        Format::Json => ctx.out.json(&summary_of)?,
        Format::Name => {}
        Format::Table => ctx.out.write(&format!(
            "restored {} applications, {} chats, {} messages\n",
            summary_of.applications, summary_of.chats, summary_of.messages
        ))?,
    }
    ctx.out.note(&summary(
        "restore",
        summary_of.messages,
        ("message", "messages"),
        "",
        started.elapsed(),
        "",
    ));
    Ok(())
}
