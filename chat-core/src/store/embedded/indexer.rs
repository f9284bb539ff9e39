//! Bulk indexing: fills the FTS5 index from the search backlog.
//!
//! The acknowledging transaction only records that a message awaits indexing
//! (`search_backlog`); FTS5 costs about a third as much per document in batches of thousands
//! as in the writer's batches of tens, so the index is filled here, in chunks, by the writer
//! thread itself between batches of requests (it owns the write connection, so the chunks never
//! wait on the file's lock and never make a request wait on it either). One chunk is one
//! transaction: index the current bodies of the chunk's messages (deleting the older entry of
//! an edited one first) and delete every record of those messages. A crash rolls the chunk back
//! and leaves the records to the next process; several processes on one file drain the same
//! table, one transaction at a time.
//!
//! The chunk adapts to the load: it doubles (up to [`MAX_CHUNK`]) while no request arrives
//! during a drain and halves (down to [`MIN_CHUNK`]) when requests had to wait for it, and stays
//! at most [`LOADED_CHUNK`] while requests keep coming, so a drain delays a create by a few
//! milliseconds at most under load and runs in large, cheap batches once the writer is idle.

use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};
use sqlx::Row;

use crate::error::Result;
use crate::metrics::Metrics;

/// How often an idle writer looks for records left by other processes or a crash.
pub(crate) const BACKLOG_POLL: Duration = Duration::from_secs(1);
/// Smallest chunk (messages per indexing transaction).
pub(crate) const MIN_CHUNK: u32 = 64;
/// Largest chunk.
pub(crate) const MAX_CHUNK: u32 = 8192;
/// Largest chunk while requests keep coming (a batch committed within [`LOAD_MEMORY`]): one
/// drain then delays the next batch by a few milliseconds at most.
pub(crate) const LOADED_CHUNK: u32 = 256;
/// How long after a batch the writer counts as loaded.
const LOAD_MEMORY: Duration = Duration::from_millis(250);
/// A backlog this long is drained even while requests wait, so it cannot grow without bound
/// under a load that never pauses.
const FORCE_AFTER: usize = 20_000;

/// The writer's view of the backlog and the chunk size it has learnt.
pub(crate) struct Indexer {
    /// Whether this process drains at all ([`crate::Config::worker`]).
    enabled: bool,
    /// Records may exist: drain before blocking on requests.
    work: bool,
    /// Records written since the last drain (this process's; an estimate of the backlog).
    since_drain: usize,
    chunk: u32,
    /// When the last batch of requests was committed.
    last_batch: Option<Instant>,
}

impl Indexer {
    /// A drainer (or, when not `enabled`, one that never drains); it looks for records at once.
    pub(crate) fn new(enabled: bool) -> Self {
        Indexer {
            enabled,
            work: enabled,
            since_drain: 0,
            chunk: 512,
            last_batch: None,
        }
    }

    /// Whether the backlog may hold records this process should drain.
    pub(crate) fn has_work(&self) -> bool {
        self.enabled && self.work
    }

    /// Another process or a crash may have left records.
    pub(crate) fn look_again(&mut self) {
        self.work = true;
    }

    /// A batch wrote `n` records. A backlog that grew past [`FORCE_AFTER`] under a load that
    /// leaves the writer no idle moment is drained at the smallest chunk anyway.
    pub(crate) fn marked(&mut self, n: usize, metrics: &Metrics) {
        self.last_batch = Some(Instant::now());
        if n > 0 {
            self.work = true;
            self.since_drain += n;
            metrics.add_search_backlog(n as u64);
        }
    }

    /// Whether the backlog is long enough to drain even while requests wait.
    pub(crate) fn must_drain(&self) -> bool {
        self.enabled && self.since_drain >= FORCE_AFTER
    }

    /// Drains one chunk, adapting the chunk size to whether requests arrived meanwhile. A
    /// failure is logged and retried later (the records stay; search still finds their
    /// messages).
    pub(crate) fn drain(
        &mut self,
        conn: &mut Connection,
        metrics: &Metrics,
        waiting: impl Fn() -> bool,
    ) {
        let started = Instant::now();
        let loaded = self.last_batch.is_some_and(|t| t.elapsed() < LOAD_MEMORY);
        let chunk = if loaded {
            self.chunk.min(LOADED_CHUNK)
        } else {
            self.chunk
        };
        match drain_chunk(conn, chunk) {
            Ok(outcome) => {
                self.since_drain = self.since_drain.saturating_sub(outcome.indexed as usize);
                self.work = outcome.more;
                if !outcome.more {
                    self.since_drain = 0;
                }
                metrics.record_indexed(outcome.indexed, outcome.remaining, started.elapsed());
                if !waiting() {
                    self.chunk = (self.chunk * 2).min(MAX_CHUNK);
                } else {
                    self.chunk = (self.chunk / 2).max(MIN_CHUNK);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "indexing the search backlog failed; retrying later");
                self.work = false;
            }
        }
    }
}

/// What one chunk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Drained {
    /// Messages indexed.
    pub indexed: u64,
    /// Whether records remain.
    pub more: bool,
    /// Records left (the span of their sequence numbers).
    pub remaining: u64,
}

/// Indexes the messages of the oldest `chunk` records, in one transaction.
pub(crate) fn drain_chunk(conn: &mut Connection, chunk: u32) -> Result<Drained> {
    conn.prepare_cached("CREATE TEMP TABLE IF NOT EXISTS drain_ids (id INTEGER PRIMARY KEY)")?
        .execute([])?;
    // Dropped before its commit (an error below), the transaction is rolled back.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached("DELETE FROM temp.drain_ids")?
        .execute([])?;
    let ids = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO temp.drain_ids (id) \
             SELECT message_id FROM (SELECT message_id FROM search_backlog ORDER BY seq LIMIT ?)",
        )?
        .execute([chunk])?;
    if ids > 0 {
        for sql in [
            // Every record of a message agrees on `stale` (see the migration).
            "DELETE FROM messages_fts WHERE rowid IN (SELECT message_id FROM search_backlog \
             WHERE stale = 1 AND message_id IN (SELECT id FROM temp.drain_ids))",
            // CROSS JOIN keeps this order of the loops: each id looked up in `messages`, where
            // a plain JOIN ordered by `m.id` let the planner scan the whole table instead.
            "INSERT INTO messages_fts (rowid, body) SELECT m.id, m.body \
             FROM temp.drain_ids d CROSS JOIN messages m ON m.id = d.id ORDER BY d.id",
            "DELETE FROM search_backlog WHERE message_id IN (SELECT id FROM temp.drain_ids)",
        ] {
            tx.prepare_cached(sql)?.execute([])?;
        }
    }
    let remaining: i64 = tx
        .prepare_cached(BACKLOG_SPAN)?
        .query_row([], |r| r.get(0))?;
    let remaining = u64::try_from(remaining).unwrap_or(0);
    tx.commit()?;
    Ok(Drained {
        indexed: ids as u64,
        more: remaining > 0,
        remaining,
    })
}

/// The span of the backlog's sequence numbers ([`backlog_span`]): two subqueries, each one
/// lookup at an end of the primary key (`max(seq) - min(seq)` in one query would scan the table).
const BACKLOG_SPAN: &str = "SELECT coalesce((SELECT max(seq) FROM search_backlog) \
                            - (SELECT min(seq) FROM search_backlog) + 1, 0)";

/// How many records the backlog holds: the span of their sequence numbers (exact unless edits
/// of one message left gaps; two index lookups, whatever its length).
pub(crate) async fn backlog_span<'c, E>(conn: E) -> Result<u64>
where
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    let row = sqlx::query(BACKLOG_SPAN).fetch_one(conn).await?;
    Ok(u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0))
}
