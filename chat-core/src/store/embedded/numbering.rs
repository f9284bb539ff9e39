//! Where the embedded profile hands out numbers: inside the write transaction, each parent's
//! counter moves up by the size of its group in one `UPDATE … RETURNING`, and the group's
//! numbers are the ones below the new value — gapless, and safe across processes sharing the
//! file, since SQLite serializes the transactions.

use std::collections::HashMap;
use std::sync::OnceLock;

use rusqlite::Connection;

use super::writer::sql::{chunks, CHUNKS};
use crate::error::{Error, Result};

#[derive(Clone, Copy)]
pub(crate) enum Counter {
    Chats,
    Messages,
}

/// Moves each parent's numbering counter (and its count) up by the size of its group, with one
/// `UPDATE … FROM (VALUES …) RETURNING` per chunk of parents; returns each parent's new last
/// number. A parent missing from the result does not exist.
pub(crate) fn bump(
    conn: &Connection,
    counter: Counter,
    groups: &[(i64, &Vec<usize>)],
) -> Result<HashMap<i64, i64>> {
    static SQL: OnceLock<[[String; CHUNKS.len()]; 2]> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        let build = |counter: Counter, n: usize| {
            let (table, last, count) = match counter {
                Counter::Chats => ("applications", "last_chat_number", "chats_count"),
                Counter::Messages => ("chats", "last_message_number", "messages_count"),
            };
            let values: Vec<String> = (0..n)
                .map(|r| format!("(?{},?{})", 1 + 2 * r, 2 + 2 * r))
                .collect();
            format!(
                "UPDATE {table} SET {last} = {last} + v.column2, {count} = {count} + v.column2 \
                 FROM (VALUES {}) AS v WHERE {table}.id = v.column1 RETURNING {table}.id, {table}.{last}",
                values.join(",")
            )
        };
        [
            CHUNKS.map(|n| build(Counter::Chats, n)),
            CHUNKS.map(|n| build(Counter::Messages, n)),
        ]
    });
    let which = match counter {
        Counter::Chats => 0,
        Counter::Messages => 1,
    };
    let mut out = HashMap::with_capacity(groups.len());
    let mut start = 0;
    for n in chunks(groups.len()) {
        let i = CHUNKS
            .iter()
            .position(|&c| c == n)
            .unwrap_or(CHUNKS.len() - 1);
        let mut statement = conn.prepare_cached(&all[which][i])?;
        for (r, (parent, idxs)) in groups[start..start + n].iter().enumerate() {
            statement.raw_bind_parameter(1 + 2 * r, parent)?;
            statement.raw_bind_parameter(2 + 2 * r, idxs.len() as i64)?;
        }
        let mut rows = statement.raw_query();
        while let Some(row) = rows.next()? {
            out.insert(row.get::<_, i64>(0)?, row.get::<_, i64>(1)?);
        }
        start += n;
    }
    Ok(out)
}

/// The `j`-th of `k` numbers handed out when the counter moved to `last`.
pub(crate) fn number_in(last: i64, k: i64, j: usize) -> Result<u32> {
    let n = last - k + 1 + j as i64;
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=crate::model::MAX_NUMBER).contains(n))
        .ok_or_else(|| Error::Conflict(format!("number {n} is out of range")))
}
