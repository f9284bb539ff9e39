//! MySQL / MariaDB persistence of the distributed profile: the reads, the idempotent batch
//! writes of the workers (`persist`), the substring-search fallback and recount (`jobs`).
//!
//! This module never hands out numbers: they come from Redis with each job. Every statement
//! is a runtime query mapped through private row types, and every call counts itself in
//! [`MysqlStore::operations`], so tests can prove which paths leave the database alone.

mod maintenance;
mod persist;
pub(crate) mod transfer;

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::{ConnectOptions, Row};

pub(crate) use self::persist::Job;
use crate::error::{Error, Result};
use crate::model::{
    Application, Chat, ChatNumber, Message, MessageNumber, Query, SearchSort, Token,
    RELEVANCE_WINDOW,
};
use crate::store::{count, from_micros, SearchSpec};

/// The migrations of the MySQL dialect, embedded in the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/mysql");

/// A connection pool on the distributed profile's database, migrated on open.
pub struct MysqlStore {
    pool: MySqlPool,
    operations: AtomicU64,
}

impl std::fmt::Debug for MysqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlStore").finish_non_exhaustive()
    }
}

/// An application row with its internal id.
#[derive(Debug, Clone)]
pub(crate) struct AppRow {
    pub id: i64,
    pub app: Application,
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::unavailable("mysql", e)
}

/// Timestamp → the value bound to a `DATETIME(6)` column.
pub(crate) fn at(micros: i64) -> DateTime<Utc> {
    from_micros(micros)
}

fn app_from_row(row: &MySqlRow) -> Result<AppRow> {
    let token: String = row.try_get("token")?;
    Ok(AppRow {
        id: row.try_get("id")?,
        app: Application {
            token: Token::parse(&token)?,
            name: row.try_get("name")?,
            chats_count: count(row.try_get("chats_count")?),
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        },
    })
}

fn chat_from_row(row: &MySqlRow) -> Result<Chat> {
    let number: i32 = row.try_get("number")?;
    Ok(Chat {
        number: ChatNumber::new(number.unsigned_abs())?,
        messages_count: count(row.try_get("messages_count")?),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn message_from_row(row: &MySqlRow) -> Result<Message> {
    let number: i32 = row.try_get("number")?;
    Ok(Message {
        number: MessageNumber::new(number.unsigned_abs())?,
        body: row.try_get("body")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// `text` as a `LIKE` pattern matching it literally anywhere, with `!` as the escape
/// character (so `%`, `_`, `!` and `\` are all plain characters, whatever the SQL mode).
pub(crate) fn like_literal(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 2);
    s.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '!') {
            s.push('!');
        }
        s.push(c);
    }
    s.push('%');
    s
}

/// How long a process waits for another one migrating the same database.
const MIGRATION_PATIENCE: Duration = Duration::from_secs(30);

/// Applies the migrations. Processes started together on a fresh database (an API tier and
/// its workers) race to apply the same migration: MySQL's DDL commits on its own, so the loser
/// sees the winner's record (a duplicate key) or its migration half done. It tries again until
/// the winner has finished, for at most [`MIGRATION_PATIENCE`]; any other failure, or one that
/// lasts, is reported.
async fn migrate(pool: &MySqlPool) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        match MIGRATOR.run(pool).await {
            Ok(()) => return Ok(()),
            Err(e) if racing(&e) && started.elapsed() < MIGRATION_PATIENCE => {
                tracing::info!(error = %e, "another process is migrating the database; waiting");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(unavailable(format!("migration failed: {e}"))),
        }
    }
}

/// Whether a migration failure is another process's migration under way.
fn racing(e: &sqlx::migrate::MigrateError) -> bool {
    use sqlx::migrate::MigrateError;
    match e {
        MigrateError::Dirty(_) => true,
        MigrateError::Execute(sqlx::Error::Database(db))
        | MigrateError::ExecuteMigration(sqlx::Error::Database(db), _) => {
            // 1062: duplicate key (the migration's record); 1050: table exists; 1060/1061:
            // duplicate column or index name.
            matches!(db.code().as_deref(), Some("23000" | "42S01" | "42S21"))
                || db.message().contains("Duplicate")
                || db.message().contains("already exists")
        }
        _ => false,
    }
}

const APP_COLUMNS: &str = "id, token, name, chats_count, created_at, updated_at";

impl MysqlStore {
    /// Connects to `url` (`mysql://user:password@host:port/database`) with at most
    /// `max_connections`, and applies the migrations.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self> {
        let options = MySqlConnectOptions::from_str(url)
            .map_err(|e| {
                Error::BadRequest(format!(
                    "invalid database URL {}: {e}",
                    crate::config::redact_url(url)
                ))
            })?
            .charset("utf8mb4")
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
        let pool = MySqlPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        migrate(&pool).await?;
        Ok(MysqlStore {
            pool,
            operations: AtomicU64::new(0),
        })
    }

    fn op(&self) -> &MySqlPool {
        self.operations.fetch_add(1, Ordering::Relaxed);
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Answers `SELECT 1`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub(crate) async fn insert_application(
        &self,
        token: &Token,
        name: &str,
        now: i64,
    ) -> Result<AppRow> {
        let done = sqlx::query(
            "INSERT INTO applications (token, name, chats_count, created_at, updated_at) \
             VALUES (?, ?, 0, ?, ?)",
        )
        .bind(token.as_str())
        .bind(name)
        .bind(at(now))
        .bind(at(now))
        .execute(self.op())
        .await?;
        let id = i64::try_from(done.last_insert_id())
            .map_err(|_| Error::Internal("application id out of range".into()))?;
        Ok(AppRow {
            id,
            app: Application {
                token: token.clone(),
                name: name.to_owned(),
                chats_count: 0,
                created_at: at(now),
                updated_at: at(now),
            },
        })
    }

    pub(crate) async fn application(&self, token: &Token) -> Result<Option<AppRow>> {
        let sql = format!("SELECT {APP_COLUMNS} FROM applications WHERE token = ?");
        let row = sqlx::query(&sql)
            .bind(token.as_str())
            .fetch_optional(self.op())
            .await?;
        row.as_ref().map(app_from_row).transpose()
    }

    pub(crate) async fn rename_application(&self, id: i64, name: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE applications SET name = ?, updated_at = ? WHERE id = ?")
            .bind(name)
            .bind(at(now))
            .bind(id)
            .execute(self.op())
            .await?;
        Ok(())
    }

    /// Applications with an id above `after_id`, in creation order, at most `limit`.
    pub(crate) async fn applications(&self, after_id: i64, limit: u32) -> Result<Vec<AppRow>> {
        let sql =
            format!("SELECT {APP_COLUMNS} FROM applications WHERE id > ? ORDER BY id LIMIT ?");
        let rows = sqlx::query(&sql)
            .bind(after_id)
            .bind(limit)
            .fetch_all(self.op())
            .await?;
        rows.iter().map(app_from_row).collect()
    }

    pub(crate) async fn chat(&self, app_id: i64, chat: ChatNumber) -> Result<Option<Chat>> {
        let row = sqlx::query(
            "SELECT number, messages_count, created_at, updated_at FROM chats \
             WHERE application_id = ? AND number = ?",
        )
        .bind(app_id)
        .bind(chat.get())
        .fetch_optional(self.op())
        .await?;
        row.as_ref().map(chat_from_row).transpose()
    }

    pub(crate) async fn chat_id(&self, app_id: i64, chat: ChatNumber) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM chats WHERE application_id = ? AND number = ?")
                .bind(app_id)
                .bind(chat.get())
                .fetch_optional(self.op())
                .await?,
        )
    }

    /// Chats past `after`, at most `limit`: numbered above it by number, or with `newest`
    /// below it (`None`: from the highest) highest first.
    pub(crate) async fn chats(
        &self,
        app_id: i64,
        after: Option<u32>,
        limit: u32,
        newest: bool,
    ) -> Result<Vec<Chat>> {
        let (bound, order) = if newest { ("<", "DESC") } else { (">", "ASC") };
        let rows = sqlx::query(&format!(
            "SELECT number, messages_count, created_at, updated_at FROM chats \
             WHERE application_id = ? AND number {bound} ? ORDER BY number {order} LIMIT ?"
        ))
        .bind(app_id)
        .bind(page_bound(after, newest))
        .bind(limit)
        .fetch_all(self.op())
        .await?;
        rows.iter().map(chat_from_row).collect()
    }

    pub(crate) async fn message(
        &self,
        app_id: i64,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<Option<Message>> {
        let row = sqlx::query(
            "SELECT m.number, m.body, m.created_at, m.updated_at \
             FROM chats c JOIN messages m ON m.chat_id = c.id \
             WHERE c.application_id = ? AND c.number = ? AND m.number = ?",
        )
        .bind(app_id)
        .bind(chat.get())
        .bind(message.get())
        .fetch_optional(self.op())
        .await?;
        row.as_ref().map(message_from_row).transpose()
    }

    /// A chat's messages past `after`, at most `limit`, in the order of [`MysqlStore::chats`].
    pub(crate) async fn messages(
        &self,
        app_id: i64,
        chat: ChatNumber,
        after: Option<u32>,
        limit: u32,
        newest: bool,
    ) -> Result<Vec<Message>> {
        let (bound, order) = if newest { ("<", "DESC") } else { (">", "ASC") };
        let rows = sqlx::query(&format!(
            "SELECT m.number, m.body, m.created_at, m.updated_at \
             FROM chats c JOIN messages m ON m.chat_id = c.id \
             WHERE c.application_id = ? AND c.number = ? AND m.number {bound} ? \
             ORDER BY m.number {order} LIMIT ?"
        ))
        .bind(app_id)
        .bind(chat.get())
        .bind(page_bound(after, newest))
        .bind(limit)
        .fetch_all(self.op())
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// The highest chat number an application has stored, deleted chats included (0 when
    /// none).
    pub(crate) async fn max_chat_number(&self, app_id: i64) -> Result<u32> {
        let max: Option<i64> = sqlx::query_scalar(
            "SELECT GREATEST( \
                 COALESCE((SELECT MAX(number) FROM chats WHERE application_id = ?), 0), \
                 COALESCE((SELECT last_chat_number FROM applications WHERE id = ?), 0))",
        )
        .bind(app_id)
        .bind(app_id)
        .fetch_one(self.op())
        .await?;
        Ok(u32::try_from(max.unwrap_or(0)).unwrap_or(0))
    }

    /// The highest message number a chat has stored, deleted messages included (0 when none).
    pub(crate) async fn max_message_number(&self, app_id: i64, chat: ChatNumber) -> Result<u32> {
        let max: Option<i64> = sqlx::query_scalar(
            "SELECT GREATEST( \
                 COALESCE((SELECT MAX(m.number) FROM messages m WHERE m.chat_id = c.id), 0), \
                 c.last_message_number) \
             FROM chats c WHERE c.application_id = ? AND c.number = ?",
        )
        .bind(app_id)
        .bind(chat.get())
        .fetch_optional(self.op())
        .await?
        .flatten();
        Ok(u32::try_from(max.unwrap_or(0)).unwrap_or(0))
    }

    /// Substring search without a search engine: `LIKE` on one chat, both sides lowercased and
    /// compared byte for byte (a case-insensitive collation would also equate accents, and
    /// some would equate every emoji). `newest`/`oldest` walk the chat's (chat, number) key in
    /// order and stop at the page's end; `relevance` ranks the newest
    /// [`crate::model::RELEVANCE_WINDOW`] matches by their number of occurrences, then newest
    /// first.
    pub(crate) async fn search(
        &self,
        chat_id: i64,
        query: &Query,
        spec: &SearchSpec,
    ) -> Result<Vec<Message>> {
        const MATCH: &str = "chat_id = ? \
            AND LOWER(body) COLLATE utf8mb4_bin LIKE LOWER(?) COLLATE utf8mb4_bin ESCAPE '!'";
        let pattern = like_literal(query.as_str());
        let rows = match spec.sort {
            SearchSort::Newest | SearchSort::Oldest => {
                let (bound, order) = if spec.sort == SearchSort::Newest {
                    ("number < ?", "DESC")
                } else {
                    ("number > ?", "ASC")
                };
                let after = match (spec.sort, spec.after) {
                    (_, Some(n)) => i64::from(n),
                    (SearchSort::Newest, None) => i64::from(u32::MAX),
                    _ => 0,
                };
                sqlx::query(&format!(
                    "SELECT number, body, created_at, updated_at FROM messages \
                     WHERE {MATCH} AND {bound} ORDER BY number {order} LIMIT ? OFFSET ?"
                ))
                .bind(chat_id)
                .bind(pattern)
                .bind(after)
                .bind(spec.limit)
                .bind(spec.offset)
                .fetch_all(self.op())
                .await?
            }
            SearchSort::Relevance => {
                sqlx::query(&format!(
                    "SELECT number, body, created_at, updated_at FROM ( \
                       SELECT number, body, created_at, updated_at FROM messages \
                       WHERE {MATCH} AND number < ? \
                       ORDER BY number DESC LIMIT {RELEVANCE_WINDOW}) w \
                     ORDER BY CHAR_LENGTH(LOWER(body)) \
                              - CHAR_LENGTH(REPLACE(LOWER(body), LOWER(?), '')) DESC, \
                              number DESC \
                     LIMIT ? OFFSET ?"
                ))
                .bind(chat_id)
                .bind(pattern)
                .bind(spec.after.map_or(i64::from(u32::MAX), i64::from))
                .bind(query.as_str())
                .bind(spec.limit)
                .bind(spec.offset)
                .fetch_all(self.op())
                .await?
            }
        };
        rows.iter().map(message_from_row).collect()
    }
}

/// The bound a list page starts from: `after`, or past every number in the page's direction.
fn page_bound(after: Option<u32>, newest: bool) -> i64 {
    match (after, newest) {
        (Some(n), _) => i64::from(n),
        (None, true) => i64::from(u32::MAX) + 1,
        (None, false) => 0,
    }
}

#[cfg(feature = "test-support")]
impl MysqlStore {
    /// How many calls reached the database since it was opened.
    pub fn operations(&self) -> u64 {
        self.operations.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::like_literal;

    #[test]
    fn like_patterns_escape_wildcards_and_the_escape_character() {
        assert_eq!(like_literal("100%"), "%100!%%");
        assert_eq!(like_literal("a_b!c\\d"), "%a!_b!!c\\d%");
    }
}
