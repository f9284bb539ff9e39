//! The queue's state at a glance, for operators (`/metrics`, a CLI) and tests: how many
//! entries wait, how many a worker holds, how many are dead, and how old the oldest one is.

use std::time::Duration;

use super::keys::GROUP;
use super::DistributedBackend;
use crate::error::Result;

/// The state of the queue at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStatus {
    /// Entries in the stream (waiting, or delivered and not yet acknowledged).
    pub depth: u64,
    /// Entries delivered to a worker and not yet acknowledged.
    pub pending: u64,
    /// Entries in the dead-letter stream.
    pub dead: u64,
    /// Age of the oldest entry in the stream, when there is one.
    pub oldest_age: Option<Duration>,
}

/// `XPENDING`'s summary: count, smallest and largest id, entries per consumer.
type Summary = (
    u64,
    Option<String>,
    Option<String>,
    Option<Vec<(String, String)>>,
);

/// Stream length, pending summary, dead-letter length, oldest entry, server time (s, µs).
type Reply = (u64, Summary, u64, Vec<(String, Vec<String>)>, (u64, u64));

/// The milliseconds part of a stream entry id (`<ms>-<seq>`).
fn id_millis(id: &str) -> Option<u64> {
    id.split_once('-').and_then(|(ms, _)| ms.parse().ok())
}

impl DistributedBackend {
    /// Reads the queue's state in one round trip; also updates the queue-depth metric.
    pub async fn queue_status(&self) -> Result<QueueStatus> {
        let mut conn = self.conn();
        let (depth, summary, dead, oldest, time): Reply = redis::pipe()
            .cmd("XLEN")
            .arg(self.keys.stream())
            .cmd("XPENDING")
            .arg(self.keys.stream())
            .arg(GROUP)
            .cmd("XLEN")
            .arg(self.keys.dead())
            .cmd("XRANGE")
            .arg(self.keys.stream())
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .cmd("TIME")
            .query_async(&mut conn)
            .await?;
        let now_ms = time.0 * 1000 + time.1 / 1000;
        let oldest_age = oldest
            .first()
            .and_then(|(id, _)| id_millis(id))
            .map(|ms| Duration::from_millis(now_ms.saturating_sub(ms)));
        self.metrics
            .set_queue_depth(usize::try_from(depth).unwrap_or(usize::MAX));
        Ok(QueueStatus {
            depth,
            pending: summary.0,
            dead,
            oldest_age,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::id_millis;

    #[test]
    fn entry_ids_give_their_time() {
        assert_eq!(id_millis("1790000000123-7"), Some(1_790_000_000_123));
        assert_eq!(id_millis("garbage"), None);
    }
}
