//! The Redis side of export and restore: reading the counters (the highest numbers handed
//! out) and setting them with the tombstones of the numbers a restored stream does not hold.

use super::conn::Conn;
use super::Keys;
use crate::error::Result;

/// Numbers per `SADD` (keeps each command small).
const SADD_CHUNK: usize = 10_000;

/// The highest numbers Redis handed out: the application's chat counter, then each listed
/// chat's message counter (`None` where a counter is missing).
pub(crate) async fn counters(
    conn: &Conn,
    keys: &Keys,
    app: i64,
    chats: &[u32],
) -> Result<(Option<u64>, Vec<Option<u64>>)> {
    let mut pipe = redis::pipe();
    pipe.cmd("GET").arg(keys.chat_counter(app));
    for chat in chats {
        pipe.cmd("GET").arg(keys.message_counter(app, *chat));
    }
    let values: Vec<Option<String>> = conn.split(&pipe).await?;
    let mut values = values
        .into_iter()
        .map(|v| v.and_then(|s| s.parse::<u64>().ok()));
    let app_counter = values.next().flatten();
    Ok((app_counter, values.collect()))
}

/// What a restore sets for one restored application or chat: its counter (the highest number
/// handed out) and the numbers at or below it that the stream does not hold (deleted before
/// the export), as tombstones.
#[derive(Debug, Clone)]
pub(crate) struct Marks {
    /// The application's id.
    pub app: i64,
    /// The chat's number, or `None` for the application's own chat counter.
    pub chat: Option<u32>,
    /// The highest number handed out.
    pub last: u32,
    /// The deleted numbers.
    pub deleted: Vec<u32>,
}

/// Sets counters and tombstones: one pipeline on one Redis; on a cluster, command by command
/// (their keys live in different slots). Not atomic, and it need not be: the restore's
/// applications become visible only with its MySQL commit, after this.
pub(crate) async fn set_marks(conn: &Conn, keys: &Keys, marks: &[Marks]) -> Result<()> {
    if marks.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for m in marks {
        match m.chat {
            None => {
                pipe.cmd("SET")
                    .arg(keys.chat_counter(m.app))
                    .arg(m.last)
                    .ignore();
                for chunk in m.deleted.chunks(SADD_CHUNK) {
                    pipe.cmd("SADD")
                        .arg(keys.deleted_chats(m.app))
                        .arg(chunk)
                        .ignore();
                }
            }
            Some(chat) => {
                pipe.cmd("SET")
                    .arg(keys.message_counter(m.app, chat))
                    .arg(m.last)
                    .ignore();
                for chunk in m.deleted.chunks(SADD_CHUNK) {
                    pipe.cmd("SADD")
                        .arg(keys.deleted_messages(m.app, chat))
                        .arg(chunk)
                        .ignore();
                }
            }
        }
    }
    let () = conn.split(&pipe).await?;
    Ok(())
}

/// The numbers in `1..=last` missing from `present` (which is in increasing order).
pub(crate) fn missing(last: u32, present: &[u32]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut next = 1u32;
    for &n in present {
        out.extend(next..n);
        next = n.saturating_add(1);
    }
    if next <= last {
        out.extend(next..=last);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::missing;

    #[test]
    fn the_numbers_a_stream_lacks_are_the_deleted_ones() {
        assert_eq!(missing(0, &[]), Vec::<u32>::new());
        assert_eq!(missing(5, &[1, 2, 4]), vec![3, 5]);
        assert_eq!(missing(3, &[1, 2, 3]), Vec::<u32>::new());
        assert_eq!(missing(4, &[]), vec![1, 2, 3, 4]);
    }
}
