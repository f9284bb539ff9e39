//! Group commit: the single writer of the embedded profile.
//!
//! Creation, update and delete requests are sent to one task that owns the write connection. It takes
//! every request waiting at that moment (at most `max_batch`), applies them all in one
//! `BEGIN IMMEDIATE` transaction — numbers are taken inside it, counts and the search backlog
//! move with it — commits, and only then answers each caller. A lone request on an idle system is
//! committed at once; under load, requests arriving during a commit form the next batch, so the
//! cost of the commit (and its `fsync`) is shared without any timer.

mod apply;
mod request;
pub(super) mod sql;

use self::apply::apply;
use self::request::{lost, Reply};
pub(crate) use self::request::{Answer, Command, Op, Pending};

use std::sync::Arc;

use sqlx::sqlite::SqliteConnection;
use sqlx::Connection;
use tokio::sync::{mpsc, Notify};

use super::indexer::{Indexer, BACKLOG_POLL};
use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// Runs the writer until `Shutdown` arrives or every sender is gone. Between batches, when no
/// request is waiting, it fills the search index from the backlog ([`Indexer`]); while idle it
/// looks for backlog records (other processes', a crashed one's) every [`BACKLOG_POLL`].
pub(crate) async fn run(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Command>,
    max_batch: usize,
    metrics: Arc<Metrics>,
    committed: Arc<Notify>,
    index: bool,
) {
    let mut commands = Vec::with_capacity(max_batch);
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    let mut stopping = false;
    // Records may be left from before (a crash, another process): look at once.
    let mut indexer = Indexer::new(index);
    loop {
        if indexer.has_work() && (rx.is_empty() || indexer.must_drain()) && !stopping {
            indexer.drain(&mut conn, &metrics, || !rx.is_empty()).await;
            continue;
        }
        let received = if indexer.has_work() || !indexer.polls() || stopping {
            rx.recv_many(&mut commands, max_batch).await
        } else {
            tokio::select! {
                n = rx.recv_many(&mut commands, max_batch) => n,
                () = tokio::time::sleep(BACKLOG_POLL) => {
                    indexer.look_again();
                    continue;
                }
            }
        };
        if received == 0 {
            break;
        }
        for c in commands.drain(..) {
            match c {
                Command::Write(p) => batch.push(p),
                Command::Shutdown => stopping = true,
            }
        }
        metrics.set_queue_depth(rx.len());
        if !batch.is_empty() {
            let marks = batch
                .iter()
                .filter(|p| matches!(p.op, Op::CreateMessage { .. } | Op::EditMessage { .. }))
                .count();
            commit(&mut conn, &mut batch, &metrics).await;
            indexer.marked(marks, &metrics);
            // The live watcher reads what is new at once instead of at its next poll.
            committed.notify_one();
        }
        if stopping {
            // Refuse new work, but commit whatever was accepted before the close. What the
            // backlog still holds is drained by the next process to open the file.
            rx.close();
        }
    }
    metrics.set_queue_depth(0);
    let _ = conn.close().await;
}

/// Commits a batch and answers every caller. When the batch as a whole fails, each request is
/// retried alone so that one bad request cannot fail its neighbours.
async fn commit(conn: &mut SqliteConnection, batch: &mut Vec<Pending>, metrics: &Metrics) {
    let ops: Vec<&Op> = batch.iter().map(|p| &p.op).collect();
    match transaction(conn, &ops).await {
        Ok(replies) => {
            metrics.record_batch(batch.len(), true);
            for (p, r) in batch.drain(..).zip(replies) {
                p.reply.answer(r);
            }
        }
        Err(err) if batch.len() == 1 || matches!(err, Error::Unavailable { .. }) => {
            metrics.record_batch(batch.len(), false);
            tracing::warn!(error = %err, size = batch.len(), "write batch failed");
            for p in batch.drain(..) {
                p.reply.answer(Err(err.clone()));
            }
        }
        Err(err) => {
            metrics.record_batch(batch.len(), false);
            tracing::warn!(error = %err, size = batch.len(), "write batch failed; retrying one by one");
            for p in batch.drain(..) {
                let r = match transaction(conn, &[&p.op]).await {
                    Ok(mut replies) => replies.pop().unwrap_or_else(|| Err(lost())),
                    Err(e) => Err(e),
                };
                metrics.record_batch(1, r.is_ok());
                p.reply.answer(r);
            }
        }
    }
}

async fn transaction(conn: &mut SqliteConnection, ops: &[&Op]) -> Result<Vec<Result<Reply>>> {
    // IMMEDIATE takes the file's write lock at once, so numbers are read and taken under it.
    // A transaction dropped before its commit (an error below) is rolled back.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let replies = apply(&mut tx, ops).await?;
    tx.commit().await?;
    Ok(replies)
}

#[cfg(test)]
mod tests;
