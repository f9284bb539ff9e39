//! `chatctl backup FILE`: an online, consistent copy of the embedded profile's database file
//! (`VACUUM INTO`, then a rename), taken while servers keep writing; restoring it is starting
//! a server on the copy. The distributed profile answers which tools back it up.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::cli::Format;
use crate::context::Context;
use crate::exit::{CliError, CliResult};
use crate::progress::summary;

/// Arguments of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The copy to write (must not exist)
    pub file: PathBuf,
}

/// Runs `backup`.
pub async fn run(ctx: &Context, args: BackupArgs) -> CliResult {
    let Some(service) = ctx.service() else {
        return Err(CliError::usage(
            "backup copies the database file directly: run it without --server, on the \
             machine that holds the file (or use `chatctl --server URL export`)",
        ));
    };
    let started = Instant::now();
    let done = service.backup(&args.file, ctx.bar()).await?;
    match ctx.out.format() {
        Format::Json => ctx.out.json(&done)?,
        Format::Name => ctx.out.write(&format!("{}\n", done.path))?,
        Format::Table => ctx.out.write(&format!(
            "backup written to {} ({} bytes)\n",
            done.path, done.bytes
        ))?,
    }
    ctx.out.note(&summary(
        "backup",
        done.bytes,
        ("byte", "bytes"),
        "",
        started.elapsed(),
        "",
    ));
    Ok(())
}
