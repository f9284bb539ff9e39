//! Recount and reindex on the embedded profile.
//!
//! Both work one application (recount) or one slice of a chat (reindex) per `BEGIN IMMEDIATE`
//! transaction, so the writer is never held up for long and readers always see either the old
//! or the new state of a slice, never a gap.

use std::time::Instant;

use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Connection, Row};

use super::rows::{message_id, NUMBER_MASK};
use super::SqliteBackend;
use crate::api::{Progress, RecountSummary, ReindexSummary};
use crate::error::Result;
use crate::model::{ChatNumber, Token};
use crate::store::{count, note_correction};

/// Messages re-indexed per transaction.
const REINDEX_SLICE: i64 = 20_000;

/// Recomputes every count of `apps` from the rows. Numbering counters that fell behind the
/// highest stored number (only possible by editing the file by hand) are moved up too, so a
/// recount also guarantees that no number can be handed out twice.
pub(crate) async fn recount(
    pool: &SqlitePool,
    apps: &[(i64, Token)],
    progress: &dyn Progress,
) -> Result<RecountSummary> {
    let started = Instant::now();
    let mut summary = RecountSummary::default();
    let mut conn = pool.acquire().await?;
    progress.start("applications", Some(apps.len() as u64));
    for (app_id, token) in apps {
        // One application per IMMEDIATE transaction (rolled back when dropped on an error).
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        recount_app(&mut tx, *app_id, token, &mut summary).await?;
        tx.commit().await?;
        summary.applications += 1;
        progress.advance(1);
    }
    progress.finish();
    summary.duration_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}

async fn recount_app(
    conn: &mut SqliteConnection,
    app_id: i64,
    token: &Token,
    summary: &mut RecountSummary,
) -> Result<()> {
    let chats = sqlx::query(
        "SELECT id, number, messages_count, last_message_number FROM chats \
         WHERE application_id = ?",
    )
    .bind(app_id)
    .fetch_all(&mut *conn)
    .await?;
    for row in &chats {
        let (id, number, stored, last): (i64, u32, i64, i64) = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        );
        // The chat's messages are the primary-key range of its message ids.
        let (lo, hi) = (message_id(id, 0), message_id(id, u32::MAX));
        let counted = sqlx::query(
            "SELECT count(*), coalesce(max(id), ?1) - ?1 FROM messages WHERE id BETWEEN ?1 AND ?2",
        )
        .bind(lo)
        .bind(hi)
        .fetch_one(&mut *conn)
        .await?;
        let (actual, max): (i64, i64) = (counted.try_get(0)?, counted.try_get(1)?);
        summary.chats += 1;
        if stored != actual || last < max {
            sqlx::query(
                "UPDATE chats SET messages_count = ?1, \
                 last_message_number = max(last_message_number, ?2) WHERE id = ?3",
            )
            .bind(actual)
            .bind(max)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        if stored != actual {
            note_correction(
                summary,
                token,
                Some(ChatNumber::new(number)?),
                "messages_count",
                stored,
                actual,
            );
        }
    }
    let row = sqlx::query(
        "SELECT chats_count, last_chat_number, \
           (SELECT count(*) FROM chats WHERE application_id = ?1), \
           (SELECT coalesce(max(number), 0) FROM chats WHERE application_id = ?1) \
         FROM applications WHERE id = ?1",
    )
    .bind(app_id)
    .fetch_one(&mut *conn)
    .await?;
    let (stored, last, actual, max): (i64, i64, i64, i64) = (
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
    );
    if stored != actual || last < max {
        sqlx::query(
            "UPDATE applications SET chats_count = ?1, \
             last_chat_number = max(last_chat_number, ?2) WHERE id = ?3",
        )
        .bind(actual)
        .bind(max)
        .bind(app_id)
        .execute(&mut *conn)
        .await?;
    }
    if stored != actual {
        note_correction(summary, token, None, "chats_count", stored, actual);
    }
    Ok(())
}

/// Rebuilds the search entries of every message of `apps`, slice by slice.
pub(crate) async fn reindex(
    pool: &SqlitePool,
    apps: &[(i64, Token)],
    progress: &dyn Progress,
) -> Result<ReindexSummary> {
    let started = Instant::now();
    let mut summary = ReindexSummary::default();
    let mut conn = pool.acquire().await?;

    let mut chats: Vec<i64> = Vec::new();
    let mut total = 0i64;
    for (app_id, _) in apps {
        let rows = sqlx::query(
            "SELECT c.id, (SELECT count(*) FROM messages m \
               WHERE m.id BETWEEN c.id << 32 AND (c.id << 32) | ?1) \
             FROM chats c WHERE c.application_id = ?2 ORDER BY c.id",
        )
        .bind(NUMBER_MASK)
        .bind(app_id)
        .fetch_all(&mut *conn)
        .await?;
        for r in &rows {
            chats.push(r.try_get(0)?);
            total += r.try_get::<i64, _>(1)?;
        }
        summary.applications += 1;
    }
    progress.start("messages", Some(count(total)));
    for chat_id in chats {
        let hi = message_id(chat_id, u32::MAX);
        let mut lo = message_id(chat_id, 0);
        loop {
            // The slice ends at the REINDEX_SLICE-th message from `lo`, or at the chat's end.
            let end: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM messages WHERE id BETWEEN ?1 AND ?2 ORDER BY id LIMIT 1 OFFSET ?3",
            )
            .bind(lo)
            .bind(hi)
            .bind(REINDEX_SLICE - 1)
            .fetch_optional(&mut *conn)
            .await?;
            let end = end.unwrap_or(hi);
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
            sqlx::query("DELETE FROM messages_fts WHERE rowid BETWEEN ?1 AND ?2")
                .bind(lo)
                .bind(end)
                .execute(&mut *tx)
                .await?;
            let done = sqlx::query(
                "INSERT INTO messages_fts (rowid, body) \
                 SELECT id, body FROM messages WHERE id BETWEEN ?1 AND ?2",
            )
            .bind(lo)
            .bind(end)
            .execute(&mut *tx)
            .await?;
            // The slice's bodies are indexed as they are now: its backlog records are done.
            sqlx::query("DELETE FROM search_backlog WHERE message_id BETWEEN ?1 AND ?2")
                .bind(lo)
                .bind(end)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            let n = done.rows_affected();
            summary.messages += n;
            progress.advance(n);
            if end >= hi {
                break;
            }
            lo = end + 1;
        }
        summary.chats += 1;
    }
    progress.finish();
    summary.duration_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}

impl SqliteBackend {
    pub(super) async fn recount(
        &self,
        scope: Option<&Token>,
        progress: &dyn Progress,
    ) -> Result<RecountSummary> {
        let apps = self.scope(scope).await?;
        recount(&self.admin, &apps, progress).await
    }

    pub(super) async fn reindex(
        &self,
        scope: Option<&Token>,
        progress: &dyn Progress,
    ) -> Result<ReindexSummary> {
        let apps = self.scope(scope).await?;
        reindex(&self.admin, &apps, progress).await
    }
}
