//! Recount and the reindex summary on MySQL.
//!
//! Recount works one application per transaction, recomputing every count from the rows, so
//! drift (an entry dead-lettered, a row fixed by hand) heals without stopping the workers:
//! they only ever add to the counts, and the row locks taken here order them after it.

use std::time::Instant;

use sqlx::Row;

use super::MysqlStore;
use crate::api::{Progress, RecountSummary, ReindexSummary};
use crate::error::Result;
use crate::model::{ChatNumber, Token};
use crate::store::{count, note_correction};

impl MysqlStore {
    /// Every application (id, token), in creation order.
    pub(crate) async fn all_applications(&self) -> Result<Vec<(i64, Token)>> {
        let rows = sqlx::query("SELECT id, token FROM applications ORDER BY id")
            .fetch_all(self.op())
            .await?;
        rows.iter()
            .map(|r| {
                let token: String = r.try_get(1)?;
                Ok((r.try_get(0)?, Token::parse(&token)?))
            })
            .collect()
    }

    /// Recomputes the counts of `apps` from the rows.
    pub(crate) async fn recount(
        &self,
        apps: &[(i64, Token)],
        progress: &dyn Progress,
    ) -> Result<RecountSummary> {
        let started = Instant::now();
        let mut summary = RecountSummary::default();
        progress.start("applications", Some(apps.len() as u64));
        for (app_id, token) in apps {
            let mut tx = self.op().begin().await?;
            let chats = sqlx::query(
                "SELECT c.id, c.number, c.messages_count, \
                   (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id) \
                 FROM chats c WHERE c.application_id = ? FOR UPDATE",
            )
            .bind(app_id)
            .fetch_all(&mut *tx)
            .await?;
            for row in &chats {
                let (id, number, stored, actual): (i64, i32, i64, i64) = (
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                );
                summary.chats += 1;
                if stored != actual {
                    sqlx::query("UPDATE chats SET messages_count = ? WHERE id = ?")
                        .bind(actual)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    let n = number.unsigned_abs();
                    note_correction(
                        &mut summary,
                        token,
                        ChatNumber::new(n).ok(),
                        "messages_count",
                        stored,
                        actual,
                    );
                }
            }
            let row = sqlx::query(
                "SELECT chats_count, (SELECT COUNT(*) FROM chats WHERE application_id = ?) \
                 FROM applications WHERE id = ? FOR UPDATE",
            )
            .bind(app_id)
            .bind(app_id)
            .fetch_one(&mut *tx)
            .await?;
            let (stored, actual): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            if stored != actual {
                sqlx::query("UPDATE applications SET chats_count = ? WHERE id = ?")
                    .bind(actual)
                    .bind(app_id)
                    .execute(&mut *tx)
                    .await?;
                note_correction(&mut summary, token, None, "chats_count", stored, actual);
            }
            tx.commit().await?;
            summary.applications += 1;
            progress.advance(1);
        }
        progress.finish();
        summary.duration_ms = started.elapsed().as_millis() as u64;
        Ok(summary)
    }

    /// What a reindex covers. Without a search engine, search reads the rows themselves, so
    /// there is nothing to rebuild: this counts what an index would hold.
    pub(crate) async fn reindex_summary(
        &self,
        apps: &[(i64, Token)],
        progress: &dyn Progress,
    ) -> Result<ReindexSummary> {
        let started = Instant::now();
        let mut summary = ReindexSummary::default();
        progress.start("applications", Some(apps.len() as u64));
        for (app_id, _) in apps {
            let row = sqlx::query(
                "SELECT COUNT(DISTINCT c.id), COUNT(m.id) FROM chats c \
                 LEFT JOIN messages m ON m.chat_id = c.id WHERE c.application_id = ?",
            )
            .bind(app_id)
            .fetch_one(self.op())
            .await?;
            let (chats, messages): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            summary.applications += 1;
            summary.chats += count(chats);
            summary.messages += count(messages);
            progress.advance(1);
        }
        progress.finish();
        summary.duration_ms = started.elapsed().as_millis() as u64;
        Ok(summary)
    }

    /// The chats whose messages a reindex covers (one application or all): id, application id,
    /// number.
    pub(crate) async fn chats_to_index(&self, app: Option<i64>) -> Result<Vec<(i64, i64, u32)>> {
        let rows = sqlx::query(
            "SELECT id, application_id, number FROM chats \
             WHERE (? IS NULL OR application_id = ?) ORDER BY id",
        )
        .bind(app)
        .bind(app)
        .fetch_all(self.op())
        .await?;
        rows.iter()
            .map(|r| {
                let number: i32 = r.try_get("number")?;
                Ok((
                    r.try_get("id")?,
                    r.try_get("application_id")?,
                    number.unsigned_abs(),
                ))
            })
            .collect()
    }

    /// One chat's messages numbered above `after`, by number, at most `limit`, as documents
    /// to index (read through the unique (chat, number) index).
    pub(crate) async fn index_page(
        &self,
        (chat_id, app, chat): (i64, i64, u32),
        after: u32,
        limit: u32,
    ) -> Result<Vec<crate::store::distributed::search::Doc>> {
        let rows = sqlx::query(
            "SELECT number, body, created_at, updated_at FROM messages \
             WHERE chat_id = ? AND number > ? ORDER BY number LIMIT ?",
        )
        .bind(chat_id)
        .bind(after)
        .bind(limit)
        .fetch_all(self.op())
        .await?;
        rows.iter()
            .map(|row| {
                let number: i32 = row.try_get("number")?;
                let created: chrono::DateTime<chrono::Utc> = row.try_get("created_at")?;
                let updated: chrono::DateTime<chrono::Utc> = row.try_get("updated_at")?;
                Ok(crate::store::distributed::search::Doc {
                    app,
                    chat,
                    number: number.unsigned_abs(),
                    body: row.try_get("body")?,
                    created_at: created.timestamp_micros(),
                    updated_at: updated.timestamp_micros(),
                })
            })
            .collect()
    }
}
