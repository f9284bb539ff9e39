//! Export, restore and backup of the embedded profile.
//!
//! * Export reads everything in **one read transaction** on one connection: SQLite's WAL gives
//!   it a snapshot of the moment of its first read, so writes that commit meanwhile (the server
//!   may keep serving) are not in it, and the export is consistent without blocking them.
//! * Restore writes everything in **one `BEGIN IMMEDIATE` transaction**: applications and chats
//!   row by row (their ids are needed), messages in multi-row inserts, and every
//!   [`INDEX_EVERY`] messages the rows just written are added to the FTS5 index in one
//!   `INSERT … SELECT` of their id range (FTS5 writes its buffer out as a segment at the start
//!   of every statement that may roll back alone, so few large statements keep its segments
//!   large), with FTS5's in-memory buffer raised to [`RESTORE_HASH_BYTES`] for the transaction
//!   (set back before the commit). It commits only once the stream's end line and checksum
//!   checked out; any refusal rolls it back, so nothing half-restored is ever visible, and what
//!   is committed is already in the index.
//! * Backup is `VACUUM INTO` a temporary file beside the target, renamed into place once
//!   complete: it reads one snapshot like an export, so it is consistent and online.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Row, Sqlite, SqliteConnection};

use super::rows::{message_id, NUMBER_MASK};
use super::SqliteBackend;
use crate::api::Progress;
use crate::error::{Error, Result};
use crate::model::{ChatNumber, MessageNumber, Token};
use crate::store::not_app;
use crate::store::{from_micros, now_micros};
use crate::transfer::{
    target_not_empty, token_taken, ApplicationRecord, BackupSummary, ChatRecord, ExportOptions,
    ExportSender, Header, MessageRecord, Record, RecordStream, RestoreOptions, RestoreSummary,
    EXPORT_CHUNK, FORMAT, VERSION,
};

/// Messages per multi-row insert of a restore (6 parameters each, within SQLite's limit).
const RESTORE_ROWS: usize = 500;

/// FTS5's in-memory buffer during a restore (`hashsize`, 64 MiB): pending index data is written
/// as a segment when it outgrows it, so a large buffer means few large segments and little
/// merging (about twice the indexing rate of the default on a million messages).
const RESTORE_HASH_BYTES: i64 = 64 << 20;

/// The restoring connection's page cache (`cache_size`, in KiB when negative: 256 MiB).
const RESTORE_CACHE_KIB: i64 = -262_144;

/// Messages inserted between two statements that index them (a multiple of [`RESTORE_ROWS`]).
const INDEX_EVERY: u64 = 64_000;

/// FTS5's default `hashsize` (1 MiB), what a restore sets back when the index had no setting.
const FTS5_DEFAULT_HASH_BYTES: i64 = 1 << 20;

fn micros_of(at: &chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp_micros()
}

/// Sends a chunk of records; `false` when the stream's reader went away.
async fn send(tx: &ExportSender, chunk: &mut Vec<Record>) -> bool {
    if chunk.is_empty() {
        return true;
    }
    let full = std::mem::replace(chunk, Vec::with_capacity(EXPORT_CHUNK));
    tx.send(Ok(full)).await.is_ok()
}

/// The export task: everything inside one read transaction of `conn`.
pub(super) async fn export(
    mut conn: PoolConnection<Sqlite>,
    scope: Option<Token>,
    tx: ExportSender,
) {
    let result = async {
        let mut txn = conn.begin().await?;
        let result = export_in(&mut txn, scope, &tx).await;
        // A read transaction: nothing to keep, whatever happened.
        txn.rollback().await?;
        result
    }
    .await;
    if let Err(e) = result {
        let _ = tx.send(Err(e)).await;
    }
}

async fn export_in(
    conn: &mut SqliteConnection,
    scope: Option<Token>,
    tx: &ExportSender,
) -> Result<()> {
    // The first read fixes the snapshot: the totals and every row below come from it.
    let scope_id: Option<i64> = match &scope {
        Some(token) => Some(
            sqlx::query_scalar("SELECT id FROM applications WHERE token = ?")
                .bind(token.as_str())
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| not_app(token))?,
        ),
        None => None,
    };
    let (lo, hi) = scope_id.map_or((0, i64::MAX), |id| (id, id));
    let totals = sqlx::query(
        "SELECT (SELECT count(*) FROM applications WHERE id BETWEEN ?1 AND ?2), \
                (SELECT count(*) FROM chats WHERE application_id BETWEEN ?1 AND ?2), \
                (SELECT count(*) FROM messages WHERE chat_id IN \
                    (SELECT id FROM chats WHERE application_id BETWEEN ?1 AND ?2))",
    )
    .bind(lo)
    .bind(hi)
    .fetch_one(&mut *conn)
    .await?;
    let count = |i: usize| -> Result<u64> { Ok(crate::store::count(totals.try_get(i)?)) };
    let mut chunk = Vec::with_capacity(EXPORT_CHUNK);
    chunk.push(Record::Header(Header {
        format: FORMAT.to_owned(),
        version: VERSION,
        profile: "embedded".to_owned(),
        exported_at: from_micros(now_micros()),
        scope: scope.clone(),
        applications: count(0)?,
        chats: count(1)?,
        messages: count(2)?,
    }));
    let apps = sqlx::query(
        "SELECT a.id, a.token, a.name, a.last_chat_number, a.created_at, a.updated_at, \
                (SELECT count(*) FROM chats c WHERE c.application_id = a.id) AS chats \
         FROM applications a WHERE a.id BETWEEN ? AND ? ORDER BY a.id",
    )
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await?;
    for app in apps {
        let app_id: i64 = app.try_get("id")?;
        let token = Token::parse(app.try_get("token")?)?;
        chunk.push(Record::Application(ApplicationRecord {
            token: token.clone(),
            name: app.try_get("name")?,
            chats_count: crate::store::count(app.try_get("chats")?),
            last_chat_number: number_mark(app.try_get("last_chat_number")?),
            created_at: from_micros(app.try_get("created_at")?),
            updated_at: from_micros(app.try_get("updated_at")?),
        }));
        let chats = sqlx::query(
            "SELECT c.id, c.number, c.last_message_number, c.created_at, c.updated_at, \
                    (SELECT count(*) FROM messages m \
                     WHERE m.id BETWEEN (c.id << 32) + 1 AND (c.id << 32) + ?1) AS messages \
             FROM chats c WHERE c.application_id = ?2 ORDER BY c.number",
        )
        .bind(NUMBER_MASK)
        .bind(app_id)
        .fetch_all(&mut *conn)
        .await?;
        for chat in chats {
            let chat_id: i64 = chat.try_get("id")?;
            let number = ChatNumber::new(chat.try_get("number")?)?;
            chunk.push(Record::Chat(ChatRecord {
                application: token.clone(),
                number,
                messages_count: crate::store::count(chat.try_get("messages")?),
                last_message_number: number_mark(chat.try_get("last_message_number")?),
                created_at: from_micros(chat.try_get("created_at")?),
                updated_at: from_micros(chat.try_get("updated_at")?),
            }));
            let mut rows = sqlx::query(
                "SELECT number, body, created_at, updated_at FROM messages \
                 WHERE id BETWEEN ? AND ? ORDER BY id",
            )
            .bind(message_id(chat_id, 1))
            .bind(message_id(chat_id, u32::MAX))
            .fetch(&mut *conn);
            while let Some(row) = rows.try_next().await? {
                chunk.push(Record::Message(MessageRecord {
                    application: token.clone(),
                    chat: number,
                    number: MessageNumber::new(row.try_get("number")?)?,
                    body: row.try_get("body")?,
                    created_at: from_micros(row.try_get("created_at")?),
                    updated_at: from_micros(row.try_get("updated_at")?),
                }));
                if chunk.len() >= EXPORT_CHUNK && !send(tx, &mut chunk).await {
                    return Ok(());
                }
            }
        }
        if chunk.len() >= EXPORT_CHUNK && !send(tx, &mut chunk).await {
            return Ok(());
        }
    }
    send(tx, &mut chunk).await;
    Ok(())
}

/// A highest-number column as the stream's mark (never negative; clamped to `u32`).
fn number_mark(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// `INSERT INTO messages … VALUES` with `rows` rows.
fn message_sql(rows: usize) -> String {
    let mut messages = String::from(
        "INSERT INTO messages (id, chat_id, number, body, created_at, updated_at) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            messages.push(',');
        }
        messages.push_str("(?,?,?,?,?,?)");
    }
    messages
}

fn full_message_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| message_sql(RESTORE_ROWS))
}

/// A message row waiting for its multi-row insert.
struct Row6 {
    id: i64,
    chat_id: i64,
    number: u32,
    body: String,
    created_at: i64,
    updated_at: i64,
}

/// Inserts `rows` in one multi-row insert.
async fn flush(conn: &mut SqliteConnection, rows: &mut Vec<Row6>) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let owned;
    let messages = if rows.len() == RESTORE_ROWS {
        full_message_sql()
    } else {
        owned = message_sql(rows.len());
        &owned
    };
    let mut q = sqlx::query(messages);
    for r in rows.iter() {
        q = q
            .bind(r.id)
            .bind(r.chat_id)
            .bind(r.number)
            .bind(r.body.as_str())
            .bind(r.created_at)
            .bind(r.updated_at);
    }
    q.execute(&mut *conn).await?;
    rows.clear();
    Ok(())
}

/// The messages inserted but not indexed yet: every id above `indexed` up to `inserted`.
/// Restored chats get ids above every chat the target held, so the messages in that range are
/// all the restore's own.
struct Unindexed {
    indexed: i64,
    inserted: i64,
}

impl Unindexed {
    /// Adds the range to FTS5 in one statement (FTS5 writes its buffer out at the start of
    /// every statement that may need rolling back alone, so one statement per large range
    /// keeps its segments large).
    async fn index(&mut self, conn: &mut SqliteConnection) -> Result<()> {
        if self.inserted <= self.indexed {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO messages_fts (rowid, body) \
             SELECT id, body FROM messages WHERE id > ? AND id <= ? ORDER BY id",
        )
        .bind(self.indexed)
        .bind(self.inserted)
        .execute(&mut *conn)
        .await?;
        self.indexed = self.inserted;
        Ok(())
    }
}

/// FTS5's setting for the size of its in-memory buffer (`hashsize`), as stored in the index's
/// configuration (`None`: the default).
async fn fts_hash_size(conn: &mut SqliteConnection) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT v FROM messages_fts_config WHERE k = 'hashsize'")
            .fetch_optional(&mut *conn)
            .await?,
    )
}

async fn set_fts_hash_size(conn: &mut SqliteConnection, bytes: i64) -> Result<()> {
    sqlx::query("INSERT INTO messages_fts (messages_fts, rank) VALUES ('hashsize', ?)")
        .bind(bytes)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Restores `records` (already validated as they pass) in one transaction.
pub(super) async fn restore(
    backend: &SqliteBackend,
    records: RecordStream,
    options: &RestoreOptions,
    progress: &dyn Progress,
) -> Result<RestoreSummary> {
    let mut conn = backend.admin.acquire().await?;
    // A larger page cache for this connection while it restores: the transaction is larger
    // than the usual one, and the index segments it writes are read again when they merge.
    let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(&format!("PRAGMA cache_size = {RESTORE_CACHE_KIB}"))
        .execute(&mut *conn)
        .await?;
    let result = restore_on(&mut conn, records, options, progress).await;
    sqlx::query(&format!("PRAGMA cache_size = {cache}"))
        .execute(&mut *conn)
        .await?;
    result
}

async fn restore_on(
    conn: &mut SqliteConnection,
    records: RecordStream,
    options: &RestoreOptions,
    progress: &dyn Progress,
) -> Result<RestoreSummary> {
    let mut txn = conn.begin_with("BEGIN IMMEDIATE").await?;
    if !options.merge {
        let any: Option<i64> = sqlx::query_scalar("SELECT id FROM applications LIMIT 1")
            .fetch_optional(&mut *txn)
            .await?;
        if any.is_some() {
            return Err(target_not_empty());
        }
    }
    let hash_size = fts_hash_size(&mut txn).await?;
    set_fts_hash_size(&mut txn, RESTORE_HASH_BYTES).await?;
    let last_chat: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM chats")
        .fetch_one(&mut *txn)
        .await?;
    let unindexed = Unindexed {
        indexed: message_id(last_chat.unwrap_or(0), u32::MAX),
        inserted: 0,
    };
    let summary = restore_in(&mut txn, records, unindexed, progress).await?;
    // The setting as it was (the default's value when it was never set): the buffer is held
    // by every writer of the file, and most of their transactions are small.
    set_fts_hash_size(&mut txn, hash_size.unwrap_or(FTS5_DEFAULT_HASH_BYTES)).await?;
    txn.commit().await?;
    progress.finish();
    Ok(summary)
}

async fn restore_in(
    txn: &mut SqliteConnection,
    mut records: RecordStream,
    mut unindexed: Unindexed,
    progress: &dyn Progress,
) -> Result<RestoreSummary> {
    let mut summary = RestoreSummary::default();
    let mut line = 0u64;
    let mut app_id = 0i64;
    let mut chat_id = 0i64;
    let mut rows: Vec<Row6> = Vec::with_capacity(RESTORE_ROWS);
    let mut ended = false;
    while let Some(record) = records.next().await {
        line += 1;
        match record? {
            Record::Header(h) => progress.start("messages", Some(h.messages)),
            Record::Application(a) => {
                let taken: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM applications WHERE token = ?")
                        .bind(a.token.as_str())
                        .fetch_optional(&mut *txn)
                        .await?;
                if taken.is_some() {
                    return Err(token_taken(line, &a.token));
                }
                app_id = sqlx::query_scalar(
                    "INSERT INTO applications \
                     (token, name, chats_count, last_chat_number, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(a.token.as_str())
                .bind(&a.name)
                .bind(i64::try_from(a.chats_count).unwrap_or(i64::MAX))
                .bind(a.last_chat_number)
                .bind(micros_of(&a.created_at))
                .bind(micros_of(&a.updated_at))
                .fetch_one(&mut *txn)
                .await?;
                summary.applications += 1;
            }
            Record::Chat(c) => {
                let previous = chat_id;
                chat_id = sqlx::query_scalar(
                    "INSERT INTO chats (application_id, number, messages_count, \
                     last_message_number, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(app_id)
                .bind(c.number.get())
                .bind(i64::try_from(c.messages_count).unwrap_or(i64::MAX))
                .bind(c.last_message_number)
                .bind(micros_of(&c.created_at))
                .bind(micros_of(&c.updated_at))
                .fetch_one(&mut *txn)
                .await?;
                if chat_id <= previous || message_id(chat_id, 1) <= unindexed.indexed {
                    // Never so (ids only grow); were it, the range would not be the
                    // restore's own.
                    return Err(Error::Internal(format!(
                        "restored chat {chat_id} is not above the chats before it"
                    )));
                }
                summary.chats += 1;
            }
            Record::Message(m) => {
                let number = m.number.get();
                rows.push(Row6 {
                    id: message_id(chat_id, number),
                    chat_id,
                    number,
                    body: m.body,
                    created_at: micros_of(&m.created_at),
                    updated_at: micros_of(&m.updated_at),
                });
                summary.messages += 1;
                if rows.len() == RESTORE_ROWS {
                    unindexed.inserted = rows.last().map_or(unindexed.inserted, |r| r.id);
                    flush(&mut *txn, &mut rows).await?;
                    progress.advance(RESTORE_ROWS as u64);
                    if summary.messages % INDEX_EVERY == 0 {
                        unindexed.index(&mut *txn).await?;
                    }
                }
            }
            Record::End(_) => {
                ended = true;
            }
        }
    }
    if !ended {
        // The validated stream always ends with its end line or an error; be sure anyway.
        return Err(Error::invalid(
            "stream",
            "the stream ended without its end line",
        ));
    }
    let left = rows.len() as u64;
    unindexed.inserted = rows.last().map_or(unindexed.inserted, |r| r.id);
    flush(&mut *txn, &mut rows).await?;
    unindexed.index(&mut *txn).await?;
    progress.advance(left);
    Ok(summary)
}

/// Copies the database to `path` online: `VACUUM INTO` a temporary file beside it (one read
/// snapshot, so writers go on), then a rename, so `path` only ever holds a complete copy.
pub(super) async fn backup(
    backend: &SqliteBackend,
    path: &Path,
    progress: &dyn Progress,
) -> Result<BackupSummary> {
    let shown = path.display().to_string();
    if path.exists() {
        return Err(Error::Conflict(format!(
            "{shown} already exists: a backup never overwrites a file (remove it or choose \
             another name)"
        )));
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::BadRequest(format!("{shown} does not name a file")))?;
    let mut partial_name = std::ffi::OsString::from(".");
    partial_name.push(file_name);
    partial_name.push(".partial");
    let partial = path.with_file_name(partial_name);
    let _ = std::fs::remove_file(&partial);
    let target = partial
        .to_str()
        .ok_or_else(|| Error::BadRequest(format!("{shown} is not a UTF-8 path")))?
        .to_owned();
    let mut conn = backend.reader.acquire().await?;
    let size: i64 = sqlx::query_scalar(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
    )
    .fetch_one(&mut *conn)
    .await?;
    progress.start("backup", Some(u64::try_from(size).unwrap_or(0)));
    let vacuum = sqlx::query("VACUUM INTO ?")
        .bind(&target)
        .execute(&mut *conn);
    tokio::pin!(vacuum);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut shown_bytes = 0u64;
    let result = loop {
        tokio::select! {
            r = &mut vacuum => break r,
            _ = tick.tick() => {
                let now = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
                progress.advance(now.saturating_sub(shown_bytes));
                shown_bytes = shown_bytes.max(now);
            }
        }
    };
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(Error::unavailable(
            "sqlite",
            format!("backup to {shown} failed: {e}"),
        ));
    }
    let bytes = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    progress.advance(bytes.saturating_sub(shown_bytes));
    progress.finish();
    if let Err(e) = std::fs::rename(&partial, path) {
        let _ = std::fs::remove_file(&partial);
        return Err(Error::unavailable(
            "sqlite",
            format!("cannot move the backup into place at {shown}: {e}"),
        ));
    }
    Ok(BackupSummary { path: shown, bytes })
}

impl SqliteBackend {
    pub(super) async fn export(
        &self,
        scope: Option<&Token>,
        _options: &ExportOptions,
        tx: ExportSender,
    ) -> Result<()> {
        if let Some(token) = scope {
            self.app_id(token).await?;
        }
        let conn = self.reader.acquire().await?;
        tokio::spawn(export(conn, scope.cloned(), tx));
        Ok(())
    }
}
