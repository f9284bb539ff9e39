//! The queue's state at a glance, for operators (`/metrics`, `chatctl queue status`) and
//! tests: how many entries wait, how many a worker holds, how many are dead, and how old the
//! oldest one is; and the way back from the dead-letter stream (`chatctl queue retry-dead`).

use redis::Script;

use super::redis::GROUP;
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

/// Stream length, entries held by workers, dead-letter length, oldest entry id (empty when
/// none), server time (seconds, microseconds).
type Reply = (u64, u64, u64, String, String, String);

/// KEYS[1] the queue, KEYS[2] the dead-letter stream, ARGV[1] the group: the queue's state in
/// one round trip. A group not created yet (no worker has started, or Redis lost it) holds
/// nothing.
fn status_script() -> Script {
    Script::new(
        r"
        local depth = redis.call('XLEN', KEYS[1])
        local pending = 0
        local ok, summary = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1])
        if ok then pending = summary[1] end
        local dead = redis.call('XLEN', KEYS[2])
        local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
        local oldest = ''
        if #first > 0 then oldest = first[1][1] end
        local now = redis.call('TIME')
        return {depth, pending, dead, oldest, now[1], now[2]}
        ",
    )
}

/// The milliseconds part of a stream entry id (`<ms>-<seq>`).
fn id_millis(id: &str) -> Option<u64> {
    id.split_once('-').and_then(|(ms, _)| ms.parse().ok())
}

impl DistributedBackend {
    /// Reads the queue's state in one round trip; also updates the queue-depth metric.
    pub async fn queue_status(&self) -> Result<QueueStatus> {
        let mut conn = self.conn();
        let (depth, pending, dead, oldest, secs, micros): Reply = status_script()
            .key(self.keys.stream())
            .key(self.keys.dead())
            .arg(GROUP)
            .invoke_async(&mut conn)
            .await?;
        let now_ms =
            secs.parse::<u64>().unwrap_or(0) * 1000 + micros.parse::<u64>().unwrap_or(0) / 1000;
        let oldest_age = id_millis(&oldest).map(|ms| now_ms.saturating_sub(ms));
        self.metrics
            .set_queue_depth(usize::try_from(depth).unwrap_or(usize::MAX));
        Ok(QueueStatus {
            depth,
            pending,
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
