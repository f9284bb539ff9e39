//! The writer's SQL that is built rather than written: multi-row `INSERT`s in a few fixed sizes
//! (so the connection's prepared statements stay few), and the split of a batch into those sizes.

use std::sync::OnceLock;

use rusqlite::{CachedStatement, Connection};

use crate::error::Result;

#[derive(Clone, Copy)]
pub(super) enum InsertKind {
    Chats,
    Messages,
    Backlog,
}

/// Rows per multi-row INSERT; fixed sizes keep the prepared statements few.
pub(crate) const CHUNKS: [usize; 4] = [128, 32, 8, 1];

/// `INSERT … VALUES (…), (…)` for `rows` rows; `?1` is the shared timestamp.
pub(super) fn insert_sql(kind: InsertKind, rows: usize) -> &'static str {
    static SQL: OnceLock<[[String; CHUNKS.len()]; 3]> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        let build = |kind: InsertKind, n: usize| {
            let (head, width) = match kind {
                InsertKind::Chats => (
                    "INSERT INTO chats (application_id, number, created_at, updated_at) VALUES ",
                    2,
                ),
                InsertKind::Messages => (
                    "INSERT INTO messages (id, chat_id, number, body, created_at, updated_at) VALUES ",
                    4,
                ),
                InsertKind::Backlog => ("INSERT INTO search_backlog (message_id) VALUES ", 1),
            };
            let mut s = String::from(head);
            for r in 0..n {
                if r > 0 {
                    s.push(',');
                }
                let p = 2 + r * width;
                let row = match kind {
                    InsertKind::Chats => format!("(?{},?{},?1,?1)", p, p + 1),
                    InsertKind::Messages => {
                        format!("(?{},?{},?{},?{},?1,?1)", p, p + 1, p + 2, p + 3)
                    }
                    // ?1 (the timestamp) is bound but unused, to share the binding code.
                    InsertKind::Backlog => format!("(?{p})"),
                };
                s.push_str(&row);
            }
            s
        };
        [
            CHUNKS.map(|n| build(InsertKind::Chats, n)),
            CHUNKS.map(|n| build(InsertKind::Messages, n)),
            CHUNKS.map(|n| build(InsertKind::Backlog, n)),
        ]
    });
    let k = match kind {
        InsertKind::Chats => 0,
        InsertKind::Messages => 1,
        InsertKind::Backlog => 2,
    };
    let i = CHUNKS
        .iter()
        .position(|&c| c == rows)
        .unwrap_or(CHUNKS.len() - 1);
    &all[k][i]
}

/// Splits `total` rows into the fixed chunk sizes, largest first.
pub(crate) fn chunks(mut total: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for &c in &CHUNKS {
        while total >= c {
            out.push(c);
            total -= c;
        }
    }
    out
}

/// Inserts `rows` with multi-row statements of the fixed chunk sizes (prepared once and kept
/// by the connection); `bind` binds one row's values from the given parameter index on, after
/// the shared timestamp `?1`.
pub(super) fn insert<R>(
    conn: &Connection,
    kind: InsertKind,
    now: i64,
    rows: &[R],
    bind: impl Fn(&mut CachedStatement<'_>, usize, &R) -> rusqlite::Result<()>,
) -> Result<()> {
    let width = match kind {
        InsertKind::Chats => 2,
        InsertKind::Messages => 4,
        InsertKind::Backlog => 1,
    };
    let mut start = 0;
    for n in chunks(rows.len()) {
        let mut statement = conn.prepare_cached(insert_sql(kind, n))?;
        statement.raw_bind_parameter(1, now)?;
        for (r, row) in rows[start..start + n].iter().enumerate() {
            bind(&mut statement, 2 + r * width, row)?;
        }
        statement.raw_execute()?;
        start += n;
    }
    Ok(())
}
