//! The embedded profile's live feed: one watcher task per process reads what is new in the
//! file and publishes it to the followers of each chat.
//!
//! It is the only publisher, so every event goes out once and a chat's creations go out in
//! number order: per followed chat it keeps the highest number published and reads the rows
//! above it; edits and deletions come from the `message_edits` log, which a trigger (edits) and
//! the writer (deletions, `deleted` = 1) fill in the change's own transaction whichever process
//! made it (a timestamp cursor would miss edits committed with an older clock reading). It
//! wakes when this process's writer commits, and otherwise checks
//! `PRAGMA data_version` every [`POLL`], which moves when any other connection (another
//! process, a `chatctl` in direct mode) commits to the file. It polls only while someone
//! follows.
//!
//! When a followed chat is gone (deleted, or its application), its followers' streams end.
//!
//! Both cursors of a chat (number and edit) are set by its first follower from one read of
//! the store, taken after it subscribed and before it replays ([`start_feed`]): a creation or
//! edit committed after that read is published, one committed before it is in the replay, so
//! nothing falls between the two however late the watcher wakes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool};
use sqlx::{ConnectOptions, Connection, Row};
use tokio::sync::{watch, Notify};

use super::rows::{message_from_row, message_id};
use super::SqliteBackend;
use crate::error::Result;
use crate::live::{Feed, Hub, LiveEvent, Published, Subscription};
use crate::model::{ChatNumber, MessageNumber, Token};
use crate::store::lock;

/// How often the watcher looks for commits of other processes.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// Rows read per query.
const PAGE: i64 = 1000;

/// Sets the cursors of `chat_id`'s feed from the store unless they are set: called by every
/// follower after it subscribed and before it replays, so it returns only once the chat's
/// changes from a moment before the replay on are sure to be published.
pub(crate) async fn start_feed(reader: &SqlitePool, hub: &Hub<i64>, chat_id: i64) -> Result<()> {
    let Some(feed) = hub.feed(&chat_id) else {
        // The hub was closed: the stream ends at once.
        return Ok(());
    };
    if published(&feed).is_some() {
        return Ok(());
    }
    // One statement, so one snapshot of the file for both.
    let row = sqlx::query(
        "SELECT (SELECT last_message_number FROM chats WHERE id = ?), \
                (SELECT coalesce(max(seq), 0) FROM message_edits)",
    )
    .bind(chat_id)
    .fetch_one(reader)
    .await?;
    let number: Option<i64> = row.try_get(0)?;
    let start = Published {
        number: u32::try_from(number.unwrap_or(0)).unwrap_or(0),
        edit: row.try_get(1)?,
    };
    let mut cursor = lock(&feed.published);
    if cursor.is_none() {
        *cursor = Some(start);
        drop(cursor);
        hub.followed.notify_one();
    }
    Ok(())
}

/// Runs until `stop` turns true.
pub(crate) async fn watch(
    options: SqliteConnectOptions,
    hub: Arc<Hub<i64>>,
    committed: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn: Option<SqliteConnection> = None;
    let mut version: Option<i64> = None;
    // The chats whose cursors were set at the last look: a chat new to it is read even when
    // the file has not changed since (its changes before then were not looked at for it).
    let mut known: HashSet<i64> = HashSet::new();
    loop {
        if *stop.borrow() {
            break;
        }
        if hub.is_empty() {
            known.clear();
            tokio::select! {
                () = hub.followed.notified() => {}
                _ = stop.changed() => break,
            }
            continue;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match options.connect().await {
                Ok(c) => {
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
        if let Err(e) = poll(c, &hub, &mut version, &mut known).await {
            tracing::warn!(error = %e, "live watcher failed to read; reconnecting");
            conn = None;
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

/// One look at the file: new messages of every followed chat, then new edits.
async fn poll(
    conn: &mut SqliteConnection,
    hub: &Hub<i64>,
    version: &mut Option<i64>,
    known: &mut HashSet<i64>,
) -> Result<()> {
    // The chats whose cursors are set; the others are still being started by their follower.
    let feeds: HashMap<i64, Arc<Feed>> = hub
        .feeds()
        .into_iter()
        .filter(|(_, f)| published(f).is_some())
        .collect();
    let fresh = feeds.keys().any(|id| !known.contains(id));
    let now: i64 = sqlx::query_scalar("PRAGMA data_version")
        .fetch_one(&mut *conn)
        .await?;
    if !fresh && *version == Some(now) {
        return Ok(());
    }
    *version = Some(now);
    if feeds.is_empty() {
        *known = HashSet::new();
        return Ok(());
    }
    // Followers of a deleted chat (or of a deleted application's) see their stream end.
    let ids = serde_json::to_string(&feeds.keys().collect::<Vec<_>>())
        .map_err(|e| crate::error::Error::Internal(e.to_string()))?;
    let gone: Vec<i64> = sqlx::query_scalar(
        "SELECT value FROM json_each(?) WHERE value NOT IN (SELECT id FROM chats)",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut feeds = feeds;
    for id in gone {
        hub.end(&id);
        feeds.remove(&id);
    }
    *known = feeds.keys().copied().collect();
    for (chat_id, feed) in &feeds {
        let mut last = published(feed).map_or(0, |p| p.number);
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
            update(feed, |p| p.number = p.number.max(last));
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
    }
    // Every edit after the lowest edit cursor, each sent to its chat's followers when it is
    // after that chat's own cursor.
    let mut from = feeds
        .values()
        .filter_map(|f| published(f).map(|p| p.edit))
        .min()
        .unwrap_or(0);
    loop {
        let rows = sqlx::query(
            "SELECT e.seq, e.message_id, e.deleted, m.number, m.body, m.created_at, m.updated_at \
             FROM message_edits e LEFT JOIN messages m ON m.id = e.message_id \
             WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
        )
        .bind(from)
        .bind(PAGE)
        .fetch_all(&mut *conn)
        .await?;
        for row in &rows {
            let seq: i64 = row.try_get(0)?;
            from = seq;
            let id: i64 = row.try_get(1)?;
            let Some(feed) = feeds.get(&(id >> 32)) else {
                continue;
            };
            let Some(cursor) = published(feed) else {
                continue;
            };
            let deleted: bool = row.try_get(2)?;
            let number = (id & i64::from(u32::MAX)) as u32;
            // Creations above the cursor are published with their current body later (or,
            // deleted by then, never).
            if seq > cursor.edit && number <= cursor.number {
                if deleted {
                    feed.send(LiveEvent::Deleted {
                        number: MessageNumber::new(number)?,
                    });
                } else if row.try_get::<Option<i64>, _>("number")?.is_some() {
                    feed.send(LiveEvent::Edited(message_from_row(row)?));
                }
                // An edit of a message deleted since: its deletion follows in the log.
            }
            update(feed, |p| p.edit = p.edit.max(seq));
        }
        if (rows.len() as i64) < PAGE {
            break;
        }
    }
    // Every edit up to `from` has been looked at for every chat of this look.
    for feed in feeds.values() {
        update(feed, |p| p.edit = p.edit.max(from));
    }
    Ok(())
}

fn published(feed: &Feed) -> Option<Published> {
    *lock(&feed.published)
}

fn update(feed: &Feed, change: impl FnOnce(&mut Published)) {
    if let Some(p) = lock(&feed.published).as_mut() {
        change(p);
    }
}

impl SqliteBackend {
    pub(super) async fn subscribe(&self, token: &Token, chat: ChatNumber) -> Result<Subscription> {
        let chat_id = self.chat_id(token, chat).await?;
        let (sub, _) = self.live.subscribe(chat_id);
        start_feed(&self.reader, &self.live, chat_id).await?;
        Ok(sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::{Body, Name};
    use crate::store::embedded::setup::connect_options;
    use crate::store::embedded::SqliteBackend;
    use crate::store::Backend;

    /// A follower's start fixes what is published, not the moment the watcher first looks:
    /// a creation and an edit committed after the start but before the watcher woke (a busy
    /// machine) are still published, once each.
    #[tokio::test]
    async fn changes_after_a_followers_start_are_published_however_late_the_watcher_looks() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("live.db").display());
        let config = Config::with_database_url(url);
        let backend = SqliteBackend::open(&config).await.unwrap();
        let app = backend
            .create_application(Name::parse("live").unwrap())
            .await
            .unwrap();
        let chat = backend.create_chat(&app.token).await.unwrap().number;
        for body in ["one", "two"] {
            let body = Body::parse(body).unwrap();
            backend
                .create_message(&app.token, chat, body)
                .await
                .unwrap();
        }
        let chat_id = backend.chat_id(&app.token, chat).await.unwrap();

        // A follower starts on a hub whose watcher is not running yet.
        let hub = Arc::new(Hub::<i64>::default());
        let (mut sub, first) = hub.subscribe(chat_id);
        assert!(first);
        start_feed(&backend.reader, &hub, chat_id).await.unwrap();
        assert_eq!(
            published(&hub.feed(&chat_id).unwrap()),
            Some(Published { number: 2, edit: 0 })
        );

        // Then the chat changes, and only then does the watcher look.
        let two = MessageNumber::new(2).unwrap();
        let dos = Body::parse("dos").unwrap();
        backend
            .update_message(&app.token, chat, two, dos)
            .await
            .unwrap();
        let three = Body::parse("three").unwrap();
        backend
            .create_message(&app.token, chat, three)
            .await
            .unwrap();
        let (stop, stopped) = watch::channel(false);
        let options = connect_options(&config).unwrap();
        let watcher = tokio::spawn(watch(options, Arc::clone(&hub), Arc::default(), stopped));

        let wait = Duration::from_secs(10);
        let mut events = Vec::new();
        while let Some(event) = sub.next_within(wait).await {
            events.push((
                event.kind(),
                event.number().get(),
                event.message().map(|m| m.body.clone()).unwrap_or_default(),
            ));
            if events.len() == 2 {
                break;
            }
        }
        let mut expected = vec![
            ("created", 3, "three".to_owned()),
            ("edited", 2, "dos".to_owned()),
        ];
        events.sort();
        expected.sort();
        assert_eq!(events, expected);
        // Nothing more: each change once.
        assert!(sub.next_within(Duration::from_millis(300)).await.is_none());

        stop.send_replace(true);
        watcher.await.unwrap();
        backend.close().await;
    }
}
