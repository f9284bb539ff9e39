//! Group commit: the single writer of the embedded profile.
//!
//! Creation, update and delete requests are sent to one thread that owns the write connection
//! (a synchronous SQLite connection holding its prepared statements, so a statement costs no
//! hop between threads). It takes every request waiting at that moment (at most `max_batch`),
//! applies them all in one `BEGIN IMMEDIATE` transaction — numbers are taken inside it, counts
//! and the search backlog move with it — commits, and only then answers each caller. A lone
//! request on an idle system is committed at once; under load, requests arriving during a commit
//! form the next batch, so the cost of the commit (and its `fsync`) is shared without any timer.

mod apply;
mod request;
pub(super) mod sql;

use self::apply::apply;
use self::request::{lost, Reply};
pub(crate) use self::request::{Answer, Command, Op, Pending};

use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot, Notify};

use super::indexer::{Indexer, BACKLOG_POLL};
use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// Runs the writer on its own thread until `Shutdown` arrives or every sender is gone, and
/// returns when that thread is done. Between batches, when no request is waiting, it fills the
/// search index from the backlog ([`Indexer`]); while idle it looks for backlog records (other
/// processes', a crashed one's) every [`BACKLOG_POLL`], woken by a tick that `ticks` (a weak
/// sender, so it keeps nothing open) sends.
pub(crate) async fn run(
    conn: Connection,
    rx: mpsc::Receiver<Command>,
    ticks: mpsc::WeakSender<Command>,
    max_batch: usize,
    metrics: Arc<Metrics>,
    committed: Arc<Notify>,
    index: bool,
) {
    if index {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(BACKLOG_POLL);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                let Some(tx) = ticks.upgrade() else { break };
                // A full queue means a busy writer: it needs no reminder.
                let _ = tx.try_send(Command::Tick);
            }
        });
    }
    let (done, finished) = oneshot::channel();
    let writer = Writer {
        conn,
        rx,
        max_batch: max_batch.max(1),
        metrics,
        committed,
        indexer: Indexer::new(index),
    };
    let spawned = std::thread::Builder::new()
        .name("chat-writer".into())
        .spawn(move || {
            writer.run();
            let _ = done.send(());
        });
    match spawned {
        Ok(_) => {
            let _ = finished.await;
        }
        // The requests (and the receiver) are dropped with the closure: callers hear that the
        // writer is gone.
        Err(e) => tracing::error!(error = %e, "cannot start the writer thread"),
    }
}

/// The writer thread's state.
struct Writer {
    conn: Connection,
    rx: mpsc::Receiver<Command>,
    max_batch: usize,
    metrics: Arc<Metrics>,
    committed: Arc<Notify>,
    indexer: Indexer,
}

impl Writer {
    fn run(mut self) {
        let mut commands = Vec::with_capacity(self.max_batch);
        let mut batch: Vec<Pending> = Vec::with_capacity(self.max_batch);
        let mut stopping = false;
        loop {
            if self.indexer.has_work()
                && (self.rx.is_empty() || self.indexer.must_drain())
                && !stopping
            {
                let rx = &self.rx;
                self.indexer
                    .drain(&mut self.conn, &self.metrics, || !rx.is_empty());
                continue;
            }
            // Blocks until a request (or a tick) comes; then takes whatever else is waiting.
            let Some(first) = self.rx.blocking_recv() else {
                break;
            };
            commands.push(first);
            while commands.len() < self.max_batch {
                match self.rx.try_recv() {
                    Ok(c) => commands.push(c),
                    Err(_) => break,
                }
            }
            for c in commands.drain(..) {
                match c {
                    Command::Write(p) => batch.push(p),
                    Command::Shutdown => stopping = true,
                    Command::Tick => self.indexer.look_again(),
                }
            }
            self.metrics.set_queue_depth(self.rx.len());
            if !batch.is_empty() {
                let marks = batch
                    .iter()
                    .filter(|p| matches!(p.op, Op::CreateMessage { .. } | Op::EditMessage { .. }))
                    .count();
                commit(&mut self.conn, &mut batch, &self.metrics);
                self.indexer.marked(marks, &self.metrics);
                // The live watcher reads what is new at once instead of at its next poll.
                self.committed.notify_one();
            }
            if stopping {
                // Refuse new work, but commit whatever was accepted before the close. What the
                // backlog still holds is drained by the next process to open the file.
                self.rx.close();
            }
        }
        self.metrics.set_queue_depth(0);
        if let Err((_, e)) = self.conn.close() {
            tracing::warn!(error = %e, "closing the write connection failed");
        }
    }
}

/// Commits a batch and answers every caller. When the batch as a whole fails, each request is
/// retried alone so that one bad request cannot fail its neighbours.
fn commit(conn: &mut Connection, batch: &mut Vec<Pending>, metrics: &Metrics) {
    let ops: Vec<&Op> = batch.iter().map(|p| &p.op).collect();
    match transaction(conn, &ops) {
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
                let r = match transaction(conn, &[&p.op]) {
                    Ok(mut replies) => replies.pop().unwrap_or_else(|| Err(lost())),
                    Err(e) => Err(e),
                };
                metrics.record_batch(1, r.is_ok());
                p.reply.answer(r);
            }
        }
    }
}

fn transaction(conn: &mut Connection, ops: &[&Op]) -> Result<Vec<Result<Reply>>> {
    // IMMEDIATE takes the file's write lock at once, so numbers are read and taken under it.
    // A transaction dropped before its commit (an error below) is rolled back.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let replies = apply(&tx, ops)?;
    tx.commit()?;
    Ok(replies)
}

#[cfg(test)]
mod tests;
