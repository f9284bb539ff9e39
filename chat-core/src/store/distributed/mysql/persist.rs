//! The workers' write: one batch of queued jobs in one transaction, idempotently.
//!
//! Jobs carry the numbers Redis handed out, so persisting one twice (a retried batch, an
//! entry reclaimed from a consumer that was only slow) must leave one row: chats and messages
//! go in with `INSERT IGNORE` on their unique (parent, number) keys, and the counts move by the
//! rows each statement actually inserted. A message job also carries its chat's creation time
//! while that chat is itself still queued, so the chat's row is created with the right values
//! by whichever job lands first. An edit carries the whole message: it inserts the row when its
//! create has not landed yet, and otherwise replaces the body unless a newer edit already did.
//! Deletes come last in the batch (after the creates and edits they follow), remove the rows,
//! and move the counts by the rows they actually removed, so they too are safe to repeat. The
//! worker leaves out of a batch every create or edit a delete's tombstone covers.

use std::collections::BTreeMap;

use sqlx::{MySql, QueryBuilder};

use super::{at, MysqlStore};
use crate::error::{Error, Result};

/// What a queued entry asks the database to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Job {
    /// Chat `number` of application `app` was created at `at` (Unix µs).
    Chat { app: i64, number: u32, at: i64 },
    /// A message was created (`edit: false`) or its body replaced (`edit: true`).
    Message {
        app: i64,
        chat: u32,
        number: u32,
        body: String,
        created_at: i64,
        updated_at: i64,
        /// The chat's creation time, when the chat was still queued at that moment.
        chat_at: Option<i64>,
        edit: bool,
    },
    /// Message `number` of chat `chat` was deleted.
    DeleteMessage { app: i64, chat: u32, number: u32 },
    /// Chat `chat` was deleted, with its messages.
    DeleteChat { app: i64, chat: u32 },
    /// The application was deleted, with its chats and messages.
    DeleteApp { app: i64 },
}

impl Job {
    /// Whether it is a delete.
    pub(crate) fn is_delete(&self) -> bool {
        matches!(
            self,
            Job::DeleteMessage { .. } | Job::DeleteChat { .. } | Job::DeleteApp { .. }
        )
    }
}

struct Row<'a> {
    number: u32,
    body: &'a str,
    created_at: i64,
    updated_at: i64,
}

impl MysqlStore {
    /// Writes `jobs` in one transaction; safe to repeat.
    pub(crate) async fn persist_batch(&self, jobs: &[Job]) -> Result<()> {
        let mut tx = self.op().begin().await?;

        // 1. Chats: from chat jobs, and from message jobs whose chat was still queued.
        let mut chats: BTreeMap<i64, BTreeMap<u32, i64>> = BTreeMap::new();
        for job in jobs {
            match job {
                Job::Chat { app, number, at } => {
                    chats.entry(*app).or_default().entry(*number).or_insert(*at);
                }
                Job::Message {
                    app,
                    chat,
                    chat_at: Some(t),
                    ..
                } => {
                    chats.entry(*app).or_default().entry(*chat).or_insert(*t);
                }
                _ => {}
            }
        }
        for (app, rows) in &chats {
            let mut q = QueryBuilder::<MySql>::new(
                "INSERT IGNORE INTO chats \
                 (application_id, number, messages_count, created_at, updated_at) ",
            );
            q.push_values(rows, |mut b, (number, t)| {
                b.push_bind(*app)
                    .push_bind(*number)
                    .push_bind(0i64)
                    .push_bind(at(*t))
                    .push_bind(at(*t));
            });
            let inserted = q.build().execute(&mut *tx).await?.rows_affected();
            // The highest number handed out, kept when the chat is deleted (see the migration
            // `high_water`).
            let highest = rows.keys().max().copied().unwrap_or(0);
            sqlx::query(
                "UPDATE applications SET chats_count = chats_count + ?, \
                 last_chat_number = GREATEST(last_chat_number, ?) WHERE id = ?",
            )
            .bind(inserted)
            .bind(highest)
            .bind(app)
            .execute(&mut *tx)
            .await?;
        }

        // 2. The ids of the chats that messages go to.
        let mut wanted: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        for job in jobs {
            if let Job::Message { app, chat, .. } = job {
                wanted.entry(*app).or_default().push(*chat);
            }
        }
        let mut chat_ids: BTreeMap<(i64, u32), i64> = BTreeMap::new();
        for (app, numbers) in &wanted {
            let mut q =
                QueryBuilder::<MySql>::new("SELECT number, id FROM chats WHERE application_id = ");
            q.push_bind(*app).push(" AND number IN (");
            let mut list = q.separated(", ");
            for n in numbers {
                list.push_bind(*n);
            }
            q.push(")");
            let rows: Vec<(i32, i64)> = q.build_query_as().fetch_all(&mut *tx).await?;
            for (number, id) in rows {
                chat_ids.insert((*app, number.unsigned_abs()), id);
            }
        }

        // 3. Message rows, first version of each number (creates precede their edits).
        let mut rows: BTreeMap<i64, BTreeMap<u32, Row<'_>>> = BTreeMap::new();
        let mut edits = Vec::new();
        for job in jobs {
            if let Job::Message {
                app,
                chat,
                number,
                body,
                created_at,
                updated_at,
                edit,
                ..
            } = job
            {
                let chat_id = *chat_ids.get(&(*app, *chat)).ok_or_else(|| {
                    Error::Internal(format!(
                        "chat {chat} of application id {app} has no row: its creation is not \
                         in this batch nor stored"
                    ))
                })?;
                rows.entry(chat_id)
                    .or_default()
                    .entry(*number)
                    .or_insert(Row {
                        number: *number,
                        body,
                        created_at: *created_at,
                        updated_at: *updated_at,
                    });
                if *edit {
                    edits.push((chat_id, *number, body.as_str(), *updated_at));
                }
            }
        }
        for (chat_id, messages) in &rows {
            let mut q = QueryBuilder::<MySql>::new(
                "INSERT IGNORE INTO messages (chat_id, number, body, created_at, updated_at) ",
            );
            q.push_values(messages.values(), |mut b, r| {
                b.push_bind(*chat_id)
                    .push_bind(r.number)
                    .push_bind(r.body)
                    .push_bind(at(r.created_at))
                    .push_bind(at(r.updated_at));
            });
            let inserted = q.build().execute(&mut *tx).await?.rows_affected();
            let highest = messages.values().map(|r| r.number).max().unwrap_or(0);
            sqlx::query(
                "UPDATE chats SET messages_count = messages_count + ?, \
                 last_message_number = GREATEST(last_message_number, ?) WHERE id = ?",
            )
            .bind(inserted)
            .bind(highest)
            .bind(chat_id)
            .execute(&mut *tx)
            .await?;
        }

        // 4. Edits, in queue order; an older edit never overwrites a newer one.
        for (chat_id, number, body, updated_at) in edits {
            sqlx::query(
                "UPDATE messages SET body = ?, updated_at = ? \
                 WHERE chat_id = ? AND number = ? AND updated_at <= ?",
            )
            .bind(body)
            .bind(at(updated_at))
            .bind(chat_id)
            .bind(number)
            .bind(at(updated_at))
            .execute(&mut *tx)
            .await?;
        }

        // 5. Deletes, in queue order.
        for job in jobs {
            match job {
                Job::DeleteMessage { app, chat, number } => {
                    let removed = sqlx::query(
                        "DELETE m FROM messages m JOIN chats c ON c.id = m.chat_id \
                         WHERE c.application_id = ? AND c.number = ? AND m.number = ?",
                    )
                    .bind(app)
                    .bind(chat)
                    .bind(number)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    // The chat keeps the number as handed out (its create may have been
                    // skipped, the delete covering it), so a re-seed never hands it out again.
                    sqlx::query(
                        "UPDATE chats SET messages_count = GREATEST(messages_count - ?, 0), \
                         last_message_number = GREATEST(last_message_number, ?) \
                         WHERE application_id = ? AND number = ?",
                    )
                    .bind(removed)
                    .bind(number)
                    .bind(app)
                    .bind(chat)
                    .execute(&mut *tx)
                    .await?;
                }
                Job::DeleteChat { app, chat } => {
                    sqlx::query(
                        "DELETE m FROM messages m JOIN chats c ON c.id = m.chat_id \
                         WHERE c.application_id = ? AND c.number = ?",
                    )
                    .bind(app)
                    .bind(chat)
                    .execute(&mut *tx)
                    .await?;
                    let removed =
                        sqlx::query("DELETE FROM chats WHERE application_id = ? AND number = ?")
                            .bind(app)
                            .bind(chat)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    // As for messages: the application keeps the deleted chat's number.
                    sqlx::query(
                        "UPDATE applications SET chats_count = GREATEST(chats_count - ?, 0), \
                         last_chat_number = GREATEST(last_chat_number, ?) WHERE id = ?",
                    )
                    .bind(removed)
                    .bind(chat)
                    .bind(app)
                    .execute(&mut *tx)
                    .await?;
                }
                Job::DeleteApp { app } => {
                    sqlx::query(
                        "DELETE m FROM messages m JOIN chats c ON c.id = m.chat_id \
                         WHERE c.application_id = ?",
                    )
                    .bind(app)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM chats WHERE application_id = ?")
                        .bind(app)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM applications WHERE id = ?")
                        .bind(app)
                        .execute(&mut *tx)
                        .await?;
                }
                Job::Chat { .. } | Job::Message { .. } => {}
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
