//! The SQL of export and restore on MySQL / MariaDB.
//!
//! Export reads inside one `START TRANSACTION WITH CONSISTENT SNAPSHOT` (InnoDB's repeatable
//! read): every row it returns is of one moment, whatever the workers commit meanwhile.
//! Restore writes inside one transaction: applications and chats one row each (their ids are
//! needed), messages in multi-row inserts; the caller commits only after the whole stream
//! checked out, and a rollback leaves nothing (auto-increment ids it took are never reused).

use chrono::{DateTime, Utc};
use futures::Stream;
use sqlx::mysql::MySqlRow;
use sqlx::pool::PoolConnection;
use sqlx::{MySql, MySqlConnection, QueryBuilder, Row, Transaction};

use super::MysqlStore;
use crate::error::{Error, Result};
use crate::store::count;
use crate::transfer::{ApplicationRecord, ChatRecord, MessageRecord, Totals};

/// An application row of a snapshot.
pub(crate) struct SnapshotApp {
    pub id: i64,
    pub token: String,
    pub name: String,
    pub chats: u64,
    pub last_chat_number: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A chat row of a snapshot.
pub(crate) struct SnapshotChat {
    pub id: i64,
    pub number: u32,
    pub messages: u64,
    pub last_message_number: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A message row of a snapshot.
pub(crate) struct SnapshotMessage {
    pub number: u32,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn mark(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

impl MysqlStore {
    /// A connection inside a read-only consistent-snapshot transaction.
    pub(crate) async fn begin_snapshot(&self) -> Result<PoolConnection<MySql>> {
        let mut conn = self.op().acquire().await?;
        sqlx::query("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *conn)
            .await?;
        sqlx::query("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            .execute(&mut *conn)
            .await?;
        Ok(conn)
    }

    /// Ends the snapshot transaction of [`MysqlStore::begin_snapshot`].
    pub(crate) async fn end_snapshot(conn: &mut MySqlConnection) -> Result<()> {
        sqlx::query("ROLLBACK").execute(conn).await?;
        Ok(())
    }

    /// The snapshot's totals, for one application id or all (`None`).
    pub(crate) async fn snapshot_totals(
        conn: &mut MySqlConnection,
        scope: Option<i64>,
    ) -> Result<Totals> {
        let (lo, hi) = scope.map_or((0, i64::MAX), |id| (id, id));
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM applications WHERE id BETWEEN ? AND ?), \
                    (SELECT COUNT(*) FROM chats WHERE application_id BETWEEN ? AND ?), \
                    (SELECT COUNT(*) FROM messages m JOIN chats c ON c.id = m.chat_id \
                     WHERE c.application_id BETWEEN ? AND ?)",
        )
        .bind(lo)
        .bind(hi)
        .bind(lo)
        .bind(hi)
        .bind(lo)
        .bind(hi)
        .fetch_one(conn)
        .await?;
        Ok(Totals {
            applications: count(row.try_get(0)?),
            chats: count(row.try_get(1)?),
            messages: count(row.try_get(2)?),
        })
    }

    /// The snapshot's applications in creation order.
    pub(crate) async fn snapshot_applications(
        conn: &mut MySqlConnection,
        scope: Option<i64>,
    ) -> Result<Vec<SnapshotApp>> {
        let (lo, hi) = scope.map_or((0, i64::MAX), |id| (id, id));
        let rows = sqlx::query(
            "SELECT a.id, a.token, a.name, a.last_chat_number, a.created_at, a.updated_at, \
                    (SELECT COUNT(*) FROM chats c WHERE c.application_id = a.id) AS chats \
             FROM applications a WHERE a.id BETWEEN ? AND ? ORDER BY a.id",
        )
        .bind(lo)
        .bind(hi)
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SnapshotApp {
                    id: r.try_get("id")?,
                    token: r.try_get("token")?,
                    name: r.try_get("name")?,
                    chats: count(r.try_get("chats")?),
                    last_chat_number: mark(i64::from(r.try_get::<i32, _>("last_chat_number")?)),
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// The snapshot's chats of one application, in number order.
    pub(crate) async fn snapshot_chats(
        conn: &mut MySqlConnection,
        app: i64,
    ) -> Result<Vec<SnapshotChat>> {
        let rows = sqlx::query(
            "SELECT c.id, c.number, c.last_message_number, c.created_at, c.updated_at, \
                    (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id) AS messages \
             FROM chats c WHERE c.application_id = ? ORDER BY c.number",
        )
        .bind(app)
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SnapshotChat {
                    id: r.try_get("id")?,
                    number: mark(i64::from(r.try_get::<i32, _>("number")?)),
                    messages: count(r.try_get("messages")?),
                    last_message_number: mark(i64::from(
                        r.try_get::<i32, _>("last_message_number")?,
                    )),
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// The snapshot's messages of one chat, in number order, as they are read.
    pub(crate) fn snapshot_messages(
        conn: &mut MySqlConnection,
        chat_id: i64,
    ) -> impl Stream<Item = Result<SnapshotMessage>> + '_ {
        use futures::StreamExt;
        sqlx::query(
            "SELECT number, body, created_at, updated_at FROM messages \
             WHERE chat_id = ? ORDER BY number",
        )
        .bind(chat_id)
        .fetch(conn)
        .map(|row| {
            let row: MySqlRow = row?;
            Ok(SnapshotMessage {
                number: mark(i64::from(row.try_get::<i32, _>("number")?)),
                body: row.try_get("body")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        })
    }

    /// The transaction a restore writes in.
    pub(crate) async fn begin_restore(&self) -> Result<Transaction<'static, MySql>> {
        Ok(self.op().begin().await?)
    }

    /// Whether the database holds any application.
    pub(crate) async fn any_application(tx: &mut MySqlConnection) -> Result<bool> {
        let any: Option<i64> = sqlx::query_scalar("SELECT id FROM applications LIMIT 1")
            .fetch_optional(tx)
            .await?;
        Ok(any.is_some())
    }

    /// Whether an application has this token.
    pub(crate) async fn token_taken(tx: &mut MySqlConnection, token: &str) -> Result<bool> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM applications WHERE token = ?")
            .bind(token)
            .fetch_optional(tx)
            .await?;
        Ok(id.is_some())
    }

    /// Inserts a restored application; its id.
    pub(crate) async fn restore_application(
        tx: &mut MySqlConnection,
        a: &ApplicationRecord,
    ) -> Result<i64> {
        let done = sqlx::query(
            "INSERT INTO applications \
             (token, name, chats_count, last_chat_number, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(a.token.as_str())
        .bind(&a.name)
        .bind(i64::try_from(a.chats_count).unwrap_or(i64::MAX))
        .bind(a.last_chat_number)
        .bind(a.created_at)
        .bind(a.updated_at)
        .execute(tx)
        .await?;
        i64::try_from(done.last_insert_id())
            .map_err(|_| Error::Internal("application id out of range".into()))
    }

    /// Inserts a restored chat; its id.
    pub(crate) async fn restore_chat(
        tx: &mut MySqlConnection,
        app: i64,
        c: &ChatRecord,
    ) -> Result<i64> {
        let done = sqlx::query(
            "INSERT INTO chats \
             (application_id, number, messages_count, last_message_number, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(app)
        .bind(c.number.get())
        .bind(i64::try_from(c.messages_count).unwrap_or(i64::MAX))
        .bind(c.last_message_number)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(tx)
        .await?;
        i64::try_from(done.last_insert_id())
            .map_err(|_| Error::Internal("chat id out of range".into()))
    }

    /// Inserts restored messages (chat id, record) in one multi-row insert.
    pub(crate) async fn restore_messages(
        tx: &mut MySqlConnection,
        rows: &[(i64, MessageRecord)],
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut q = QueryBuilder::<MySql>::new(
            "INSERT INTO messages (chat_id, number, body, created_at, updated_at) ",
        );
        q.push_values(rows, |mut b, (chat_id, m)| {
            b.push_bind(*chat_id)
                .push_bind(m.number.get())
                .push_bind(m.body.as_str())
                .push_bind(m.created_at)
                .push_bind(m.updated_at);
        });
        q.build().execute(tx).await?;
        Ok(())
    }
}
