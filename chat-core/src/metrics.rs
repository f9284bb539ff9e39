//! Counters of the write path (batches, their sizes, operations, the embedded search backlog),
//! kept with relaxed atomics so the hot path pays almost nothing; chat-server exports them as Prometheus text.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the batch-size histogram buckets.
pub const BATCH_BUCKETS: [u64; 12] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];

/// Write-path counters.
#[derive(Debug, Default)]
pub struct Metrics {
    batches: AtomicU64,
    operations: AtomicU64,
    failed_batches: AtomicU64,
    buckets: [AtomicU64; BATCH_BUCKETS.len()],
    queue_depth: AtomicU64,
    search_backlog: AtomicU64,
    indexed: AtomicU64,
    indexing_micros: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Committed write transactions.
    pub batches: u64,
    /// Write operations committed.
    pub operations: u64,
    /// Transactions that failed and were rolled back.
    pub failed_batches: u64,
    /// Cumulative counts of batches with size ≤ each of [`BATCH_BUCKETS`].
    pub batch_size_buckets: Vec<(u64, u64)>,
    /// Write requests waiting for the writer right now.
    pub queue_depth: u64,
    /// Embedded profile: messages whose search-index entry is not written yet (searchable all
    /// the same, through the backlog scan), as last seen by this process.
    pub search_backlog: u64,
    /// Embedded profile: messages this process wrote to the search index from the backlog.
    pub indexed: u64,
    /// Embedded profile: time this process spent indexing the backlog, in microseconds.
    pub indexing_micros: u64,
}

// What the backends record; a build without either backend has nothing to record.
#[cfg(any(feature = "sqlite", feature = "distributed"))]
impl Metrics {
    pub(crate) fn record_batch(&self, size: usize, ok: bool) {
        if !ok {
            self.failed_batches.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let size = size as u64;
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.operations.fetch_add(size, Ordering::Relaxed);
        let i = BATCH_BUCKETS
            .iter()
            .position(|&b| size <= b)
            .unwrap_or(BATCH_BUCKETS.len() - 1);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
    }

    #[cfg(feature = "sqlite")]
    pub(crate) fn add_search_backlog(&self, n: u64) {
        self.search_backlog.fetch_add(n, Ordering::Relaxed);
    }

    #[cfg(feature = "sqlite")]
    pub(crate) fn set_search_backlog(&self, n: u64) {
        self.search_backlog.store(n, Ordering::Relaxed);
    }

    #[cfg(feature = "sqlite")]
    pub(crate) fn record_indexed(&self, n: u64, remaining: u64, took: std::time::Duration) {
        self.indexed.fetch_add(n, Ordering::Relaxed);
        self.indexing_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        self.search_backlog.store(remaining, Ordering::Relaxed);
    }

    pub(crate) fn set_queue_depth(&self, depth: usize) {
        self.queue_depth.store(depth as u64, Ordering::Relaxed);
    }
}

impl Metrics {
    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let mut cumulative = 0;
        let batch_size_buckets = BATCH_BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(&le, c)| {
                cumulative += c.load(Ordering::Relaxed);
                (le, cumulative)
            })
            .collect();
        MetricsSnapshot {
            batches: self.batches.load(Ordering::Relaxed),
            operations: self.operations.load(Ordering::Relaxed),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
            batch_size_buckets,
            queue_depth: self.queue_depth.load(Ordering::Relaxed),
            search_backlog: self.search_backlog.load(Ordering::Relaxed),
            indexed: self.indexed.load(Ordering::Relaxed),
            indexing_micros: self.indexing_micros.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::default();
        m.record_batch(1, true);
        m.record_batch(3, true);
        m.record_batch(100, true);
        m.record_batch(5, false);
        let s = m.snapshot();
        assert_eq!((s.batches, s.operations, s.failed_batches), (3, 104, 1));
        assert_eq!(s.batch_size_buckets[0], (1, 1));
        assert_eq!(s.batch_size_buckets[2], (4, 2));
        assert_eq!(s.batch_size_buckets.last(), Some(&(4096, 3)));
    }
}
