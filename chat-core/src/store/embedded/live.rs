//! The embedded profile's live feed: one watcher task per process reads what is new in the
//! file and publishes it to the followers of each chat.
//!
//! It is the only publisher, so every event goes out once and a chat's creations go out in
//! number order: per followed chat it keeps the highest number published and reads the rows
//! above it; edits come from the `message_edits` log, which a trigger fills in the edit's own
//! transaction whichever process made it (a timestamp cursor would miss edits committed with
//! an older clock reading). It wakes when this process's writer commits, and otherwise checks
//! `PRAGMA data_version` every [`POLL`], which moves when any other connection (another
//! process, a `chatctl` in direct mode) commits to the file. It polls only while someone
//! follows.

use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection, Row};
use tokio::sync::{watch, Notify};

use super::message_from_row;
use super::message_id;
use crate::error::Result;
use crate::live::{Feed, Hub, LiveEvent};
use crate::store::lock;

/// How often the watcher looks for commits of other processes.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// Rows read per query.
const PAGE: i64 = 1000;

/// Runs until `stop` turns true.
pub(crate) async fn watch(
    options: SqliteConnectOptions,
    hub: Arc<Hub<i64>>,
    committed: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn: Option<SqliteConnection> = None;
    let mut edits = 0i64;
    let mut version: Option<i64> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        if hub.is_empty() {
            tokio::select! {
                () = hub.followed.notified() => {}
                _ = stop.changed() => break,
            }
            // Edits made while nobody followed are in the replays already.
            version = None;
            if let Some(c) = conn.as_mut() {
                match last_edit(c).await {
                    Ok(seq) => edits = seq,
                    Err(_) => conn = None,
                }
            }
            continue;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match connect(&options).await {
                Ok((c, seq)) => {
                    edits = seq;
                    version = None;
                    conn.insert(c)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "live watcher cannot open the database; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(POLL * 10) => {}
                        _ = stop.changed() => break,
                    }
                    continue;
                }
            },
        };
        match poll(c, &hub, &mut edits, &mut version).await {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(error = %e, "live watcher failed to read; reconnecting");
                conn = None;
            }
        }
        tokio::select! {
            () = committed.notified() => {}
            () = hub.followed.notified() => {}
            () = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => break,
        }
    }
    if let Some(c) = conn {
        let _ = c.close().await;
    }
}

async fn connect(options: &SqliteConnectOptions) -> Result<(SqliteConnection, i64)> {
    let mut conn = options.connect().await?;
    let seq = last_edit(&mut conn).await?;
    Ok((conn, seq))
}

async fn last_edit(conn: &mut SqliteConnection) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM message_edits")
            .fetch_one(conn)
            .await?,
    )
}

/// One look at the file: new messages of every followed chat, then new edits.
async fn poll(
    conn: &mut SqliteConnection,
    hub: &Hub<i64>,
    edits: &mut i64,
    version: &mut Option<i64>,
) -> Result<()> {
    let feeds = hub.feeds();
    let fresh = feeds.iter().any(|(_, f)| published(f).is_none());
    let now: i64 = sqlx::query_scalar("PRAGMA data_version")
        .fetch_one(&mut *conn)
        .await?;
    if !fresh && *version == Some(now) {
        return Ok(());
    }
    *version = Some(now);
    for (chat_id, feed) in &feeds {
        let mut last = match published(feed) {
            Some(n) => n,
            None => {
                // A newly followed chat: its followers replay what exists; publish from here.
                let n: Option<i64> =
                    sqlx::query_scalar("SELECT last_message_number FROM chats WHERE id = ?")
                        .bind(chat_id)
                        .fetch_optional(&mut *conn)
                        .await?;
                let n = u32::try_from(n.unwrap_or(0)).unwrap_or(0);
                set_published(feed, n);
                continue;
            }
        };
        loop {
            let rows = sqlx::query(
                "SELECT number, body, created_at, updated_at FROM messages \
                 WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
            )
            .bind(message_id(*chat_id, last))
            .bind(message_id(*chat_id, u32::MAX))
            .bind(PAGE)
            .fetch_all(&mut *conn)
            .await?;
            for row in &rows {
                let m = message_from_row(row)?;
                last = m.number.get();
                feed.send(LiveEvent::Created(m));
            }
            set_published(feed, last);
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
    }
    loop {
        let rows = sqlx::query(
            "SELECT e.seq, e.message_id, m.number, m.body, m.created_at, m.updated_at \
             FROM message_edits e JOIN messages m ON m.id = e.message_id \
             WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
        )
        .bind(*edits)
        .bind(PAGE)
        .fetch_all(&mut *conn)
        .await?;
        for row in &rows {
            *edits = row.try_get(0)?;
            let id: i64 = row.try_get(1)?;
            if let Some(feed) = hub.feed(&(id >> 32)) {
                let m = message_from_row(row)?;
                // Creations above the cursor are published with their current body later.
                if published(&feed).is_some_and(|n| m.number.get() <= n) {
                    feed.send(LiveEvent::Edited(m));
                }
            }
        }
        if (rows.len() as i64) < PAGE {
            break;
        }
    }
    Ok(())
}

fn published(feed: &Feed) -> Option<u32> {
    *lock(&feed.published)
}

fn set_published(feed: &Feed, n: u32) {
    *lock(&feed.published) = Some(n);
}
