//! The queue's state at a glance, for operators (`/metrics`, `chatctl queue status`) and
//! tests: how many entries wait, how many a worker holds, how many are dead, and how old the
//! oldest one is; and the way back from the dead-letter stream (`chatctl queue retry-dead`).

use redis::Script;

use super::keys::GROUP;
use super::DistributedBackend;
use crate::api::{QueueStatus, RetrySummary};
use crate::error::Result;

/// Entries moved back from the dead-letter stream per script call (keeps Redis responsive).
const RETRY_CHUNK: u32 = 500;

/// KEYS[1] the dead-letter stream, KEYS[2] the queue; ARGV[1] how many. Re-enqueues the job of
/// each of the first ARGV[1] dead entries and deletes them, atomically: an entry is never both
/// in the queue and dead, nor in neither.
fn retry_script() -> Script {
    Script::new(
        r"
        local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[1])
        for _, entry in ipairs(entries) do
            local fields = entry[2]
            for i = 1, #fields, 2 do
                if fields[i] == 'j' and fields[i + 1] ~= '' then
                    redis.call('XADD', KEYS[2], '*', 'j', fields[i + 1])
                end
            end
            redis.call('XDEL', KEYS[1], entry[1])
        end
        return #entries
        ",
    )
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
            .map(|ms| now_ms.saturating_sub(ms));
        self.metrics
            .set_queue_depth(usize::try_from(depth).unwrap_or(usize::MAX));
        Ok(QueueStatus {
            depth,
            pending: summary.0,
            dead,
            oldest_age_ms: oldest_age,
        })
    }

    /// Moves every dead-letter entry back to the queue; returns how many moved.
    pub async fn retry_dead_letters(&self) -> Result<RetrySummary> {
        let script = retry_script();
        let mut conn = self.conn();
        let mut retried = 0u64;
        loop {
            let moved: u64 = script
                .key(self.keys.dead())
                .key(self.keys.stream())
                .arg(RETRY_CHUNK)
                .invoke_async(&mut conn)
                .await?;
            retried += moved;
            if moved < u64::from(RETRY_CHUNK) {
                break;
            }
        }
        if retried > 0 {
            tracing::info!(retried, "dead-letter entries moved back to the queue");
        }
        Ok(RetrySummary { retried })
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
