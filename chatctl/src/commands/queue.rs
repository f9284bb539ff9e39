//! `chatctl queue status` and `chatctl queue retry-dead`: the distributed profile's write
//! queue — how much waits, how much a worker holds, how much failed for good, how old the
//! oldest entry is — and the way back for dead-letter entries once their cause is fixed.

use clap::Subcommand;

use crate::cli::Format;
use crate::context::Context;
use crate::exit::CliResult;
use crate::output::count;
use crate::progress::{duration, plural};

/// What to do with the write queue.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Show the queue's depth, pending and dead entries, and the oldest entry's age, in total
    /// and per shard
    Status,
    /// Move every dead-letter entry back to the queue for the workers to try again
    RetryDead,
}

/// Runs a `queue` command.
pub async fn run(ctx: &Context, command: QueueCommand) -> CliResult {
    match command {
        QueueCommand::Status => {
            let status = ctx.api.queue_status().await?;
            if ctx.out.format() == Format::Json {
                return ctx.out.json(&status);
            }
            let oldest = status.oldest_age_ms.map_or_else(
                || "-".to_owned(),
                |ms| duration(std::time::Duration::from_millis(ms)),
            );
            let age = |ms: Option<u64>| {
                ms.map_or_else(
                    || "-".to_owned(),
                    |ms| duration(std::time::Duration::from_millis(ms)),
                )
            };
            let mut t = ctx
                .out
                .table(&["shard", "depth", "pending", "dead", "oldest"]);
            for s in &status.shards {
                t.add_row(vec![
                    comfy_table::Cell::new(s.shard),
                    count(s.depth),
                    count(s.pending),
                    count(s.dead),
                    comfy_table::Cell::new(age(s.oldest_age_ms)),
                ]);
            }
            t.add_row(vec![
                comfy_table::Cell::new("total"),
                count(status.depth),
                count(status.pending),
                count(status.dead),
                comfy_table::Cell::new(oldest),
            ]);
            ctx.out.print_table(&t)?;
            if status.dead > 0 {
                ctx.out.note(&format!(
                    "{} failed for good: fix the cause (see the workers' logs), then run \
                     `chatctl queue retry-dead`",
                    plural(status.dead, "entry", "entries")
                ));
            }
            Ok(())
        }
        QueueCommand::RetryDead => {
            let summary = ctx.api.retry_dead().await?;
            if ctx.out.format() == Format::Json {
                return ctx.out.json(&summary);
            }
            ctx.out.write(&format!(
                "moved {} back to the queue\n",
                plural(summary.retried, "dead-letter entry", "dead-letter entries")
            ))
        }
    }
}
