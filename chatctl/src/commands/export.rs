//! `chatctl export [FILE]`: a consistent snapshot as an NDJSON stream, on stdout or in a file
//! (written beside it under a temporary name and renamed when complete), directly or from a
//! server's `GET /admin/export`; `--checksum-only` prints only the checksum of the content, to
//! compare two deployments.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chat_core::transfer::{ExportOptions, Record, RecordStream};
use chat_core::Progress;
use clap::Args;
use futures::StreamExt;
use serde::Serialize;

use super::token;
use crate::cli::Format;
use crate::context::Context;
use crate::exit::{CliError, CliResult};
use crate::progress::summary;

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The file to write (replaced only once the export is complete); without it, or `-`,
    /// stdout
    pub file: Option<PathBuf>,
    /// Export only this application
    #[arg(long = "app", value_name = "TOKEN")]
    pub app: Option<String>,
    /// Write nothing but the checksum of the content (the same on both sides of a migration)
    #[arg(long)]
    pub checksum_only: bool,
    /// Distributed profile: seconds to wait for the queue to persist every write acknowledged
    /// before the export started
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub drain_timeout: u64,
}

/// What `--checksum-only -o json` prints.
#[derive(Serialize)]
struct ChecksumReport {
    checksum: String,
    applications: u64,
    chats: u64,
    messages: u64,
}

/// Opens the export stream, directly or from the server.
async fn open(ctx: &Context, args: &ExportArgs) -> CliResult<RecordStream> {
    let scope = args.app.as_deref().map(token).transpose()?;
    if let Some(service) = ctx.service() {
        let options = ExportOptions {
            scope,
            drain_timeout: Duration::from_secs(args.drain_timeout),
        };
        Ok(service.export(&options).await?)
    } else if let Some(client) = ctx.client() {
        Ok(client.export(scope.as_ref()).await?)
    } else {
        Err(CliError::failed("no stores and no server to export from"))
    }
}

/// Runs `export`.
pub async fn run(ctx: &Context, args: ExportArgs) -> CliResult {
    let started = Instant::now();
    let mut records = open(ctx, &args).await?;
    let bar = ctx.bar();
    let to_file = args.file.as_ref().filter(|p| p.as_os_str() != "-");
    let partial = to_file.map(|p| {
        let mut name = std::ffi::OsString::from(".");
        name.push(p.file_name().unwrap_or_default());
        name.push(".partial");
        p.with_file_name(name)
    });
    let mut out: Box<dyn Write> = match (&partial, args.checksum_only) {
        (_, true) => Box::new(std::io::sink()),
        (Some(path), false) => Box::new(std::io::BufWriter::with_capacity(
            256 * 1024,
            std::fs::File::create(path)
                .map_err(|e| CliError::io(format!("creating {}", path.display()), e))?,
        )),
        (None, false) => Box::new(std::io::BufWriter::with_capacity(
            256 * 1024,
            std::io::stdout().lock(),
        )),
    };
    let result = async {
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut end = None;
        while let Some(record) = records.next().await {
            let record = record?;
            match &record {
                Record::Header(h) => bar.start("messages", Some(h.messages)),
                Record::Message(_) => bar.advance(1),
                Record::End(e) => end = Some(e.clone()),
                _ => {}
            }
            if !args.checksum_only {
                record.write_line(&mut buf);
                if buf.len() >= 32 * 1024 {
                    out.write_all(&buf)
                        .map_err(|e| CliError::io("writing the export", e))?;
                    buf.clear();
                }
            }
        }
        out.write_all(&buf)
            .and_then(|()| out.flush())
            .map_err(|e| CliError::io("writing the export", e))?;
        bar.finish();
        end.ok_or_else(|| CliError::failed("the export ended without its end line"))
    }
    .await;
    drop(out);
    let end = match result {
        Ok(end) => end,
        Err(e) => {
            if let Some(p) = &partial {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
    };
    if let (Some(p), Some(file)) = (&partial, to_file) {
        std::fs::rename(p, file)
            .map_err(|e| CliError::io(format!("moving the export to {}", file.display()), e))?;
    }
    if args.checksum_only {
        match ctx.out.format() {
            Format::Json => ctx.out.json(&ChecksumReport {
                checksum: end.checksum.clone(),
                applications: end.applications,
                chats: end.chats,
                messages: end.messages,
            })?,
            _ => ctx.out.write(&format!("{}\n", end.checksum))?,
        }
    }
    ctx.out.note(&summary(
        "export",
        end.messages,
        ("message", "messages"),
        &format!(
            " ({} applications, {} chats, {})",
            end.applications, end.chats, end.checksum
        ),
        started.elapsed(),
        "",
    ));
    Ok(())
}
