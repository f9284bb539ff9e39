//! Group commit: the single writer of the embedded profile.
//!
//! Creation, update and delete requests are sent to one task that owns the write connection. It takes
//! every request waiting at that moment (at most `max_batch`), applies them all in one
//! `BEGIN IMMEDIATE` transaction — numbers are taken inside it, counts and the search backlog
//! move with it — commits, and only then answers each caller. A lone request on an idle system is
//! committed at once; under load, requests arriving during a commit form the next batch, so the
//! cost of the commit (and its `fsync`) is shared without any timer.

mod numbering;

mod sql;

use self::numbering::{bump, number_in, Counter};
use self::sql::{insert, InsertKind};

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Row};
use tokio::sync::{mpsc, oneshot, Notify};

use super::indexer::{Indexer, BACKLOG_POLL};
use super::rows::message_id;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::model::{Application, Chat, ChatNumber, Message, MessageNumber, Token};
use crate::store::{count, from_micros, now_micros};

/// A write request.
pub(crate) enum Op {
    CreateApp {
        token: Token,
        name: String,
    },
    RenameApp {
        app_id: i64,
        name: String,
    },
    CreateChat {
        app_id: i64,
    },
    CreateMessage {
        chat_id: i64,
        body: String,
    },
    EditMessage {
        id: i64,
        body: String,
    },
    /// Deletes an application with its chats and messages.
    DeleteApp {
        app_id: i64,
    },
    /// Deletes a chat with its messages.
    DeleteChat {
        chat_id: i64,
    },
    /// Deletes one message.
    DeleteMessage {
        id: i64,
    },
}

/// What a write produced.
pub(crate) enum Reply {
    App(Application),
    Chat(Chat),
    Message(Message),
    /// The row is deleted.
    Deleted,
    /// The row to update does not exist.
    Gone,
}

pub(crate) struct Pending {
    pub op: Op,
    pub reply: oneshot::Sender<Result<Reply>>,
}

pub(crate) enum Command {
    Write(Pending),
    /// Commit what is queued, then stop.
    Shutdown,
}

/// Runs the writer until `Shutdown` arrives or every sender is gone. Between batches, when no
/// request is waiting, it fills the search index from the backlog ([`Indexer`]); while idle it
/// looks for backlog records (other processes', a crashed one's) every [`BACKLOG_POLL`].
pub(crate) async fn run(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Command>,
    max_batch: usize,
    metrics: Arc<Metrics>,
    committed: Arc<Notify>,
    index: bool,
) {
    let mut commands = Vec::with_capacity(max_batch);
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    let mut stopping = false;
    // Records may be left from before (a crash, another process): look at once.
    let mut indexer = Indexer::new(index);
    loop {
        if indexer.has_work() && (rx.is_empty() || indexer.must_drain()) && !stopping {
            indexer.drain(&mut conn, &metrics, || !rx.is_empty()).await;
            continue;
        }
        let received = if indexer.has_work() || !indexer.polls() || stopping {
            rx.recv_many(&mut commands, max_batch).await
        } else {
            tokio::select! {
                n = rx.recv_many(&mut commands, max_batch) => n,
                () = tokio::time::sleep(BACKLOG_POLL) => {
                    indexer.look_again();
                    continue;
                }
            }
        };
        if received == 0 {
            break;
        }
        for c in commands.drain(..) {
            match c {
                Command::Write(p) => batch.push(p),
                Command::Shutdown => stopping = true,
            }
        }
        metrics.set_queue_depth(rx.len());
        if !batch.is_empty() {
            let marks = batch
                .iter()
                .filter(|p| matches!(p.op, Op::CreateMessage { .. } | Op::EditMessage { .. }))
                .count();
            commit(&mut conn, &mut batch, &metrics).await;
            indexer.marked(marks, &metrics);
            // The live watcher reads what is new at once instead of at its next poll.
            committed.notify_one();
        }
        if stopping {
            // Refuse new work, but commit whatever was accepted before the close. What the
            // backlog still holds is drained by the next process to open the file.
            rx.close();
        }
    }
    metrics.set_queue_depth(0);
    let _ = conn.close().await;
}

/// Commits a batch and answers every caller. When the batch as a whole fails, each request is
/// retried alone so that one bad request cannot fail its neighbours.
async fn commit(conn: &mut SqliteConnection, batch: &mut Vec<Pending>, metrics: &Metrics) {
    let ops: Vec<&Op> = batch.iter().map(|p| &p.op).collect();
    match transaction(conn, &ops).await {
        Ok(replies) => {
            metrics.record_batch(batch.len(), true);
            for (p, r) in batch.drain(..).zip(replies) {
                let _ = p.reply.send(r);
            }
        }
        Err(err) if batch.len() == 1 || matches!(err, Error::Unavailable { .. }) => {
            metrics.record_batch(batch.len(), false);
            tracing::warn!(error = %err, size = batch.len(), "write batch failed");
            for p in batch.drain(..) {
                let _ = p.reply.send(Err(err.clone()));
            }
        }
        Err(err) => {
            metrics.record_batch(batch.len(), false);
            tracing::warn!(error = %err, size = batch.len(), "write batch failed; retrying one by one");
            for p in batch.drain(..) {
                let r = match transaction(conn, &[&p.op]).await {
                    Ok(mut replies) => replies.pop().unwrap_or_else(|| Err(lost())),
                    Err(e) => Err(e),
                };
                metrics.record_batch(1, r.is_ok());
                let _ = p.reply.send(r);
            }
        }
    }
}

fn lost() -> Error {
    Error::Internal("write produced no reply".into())
}

async fn transaction(conn: &mut SqliteConnection, ops: &[&Op]) -> Result<Vec<Result<Reply>>> {
    // IMMEDIATE takes the file's write lock at once, so numbers are read and taken under it.
    // A transaction dropped before its commit (an error below) is rolled back.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let replies = apply(&mut tx, ops).await?;
    tx.commit().await?;
    Ok(replies)
}

/// Applies every operation inside the open transaction. Statement errors abort the batch;
/// per-request outcomes (a missing row) are returned in the request's slot.
async fn apply(conn: &mut SqliteConnection, ops: &[&Op]) -> Result<Vec<Result<Reply>>> {
    let now = now_micros();
    let at = from_micros(now);
    let mut replies: Vec<Option<Result<Reply>>> = (0..ops.len()).map(|_| None).collect();

    // Chats and messages are grouped by parent, so each parent's counter moves once.
    let mut chats_by_app: HashMap<i64, Vec<usize>> = HashMap::new();
    let mut messages_by_chat: HashMap<i64, Vec<usize>> = HashMap::new();

    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::CreateApp { token, name } => {
                sqlx::query(
                    "INSERT INTO applications (token, name, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?3)",
                )
                .bind(token.as_str())
                .bind(name)
                .bind(now)
                .execute(&mut *conn)
                .await?;
                replies[i] = Some(Ok(Reply::App(Application {
                    token: token.clone(),
                    name: name.clone(),
                    chats_count: 0,
                    created_at: at,
                    updated_at: at,
                })));
            }
            Op::RenameApp { app_id, name } => {
                let row = sqlx::query(
                    "UPDATE applications SET name = ?1, updated_at = ?2 WHERE id = ?3 \
                     RETURNING token, chats_count, created_at",
                )
                .bind(name)
                .bind(now)
                .bind(app_id)
                .fetch_optional(&mut *conn)
                .await?;
                replies[i] = Some(match row {
                    None => Ok(Reply::Gone),
                    Some(row) => {
                        let token: String = row.try_get(0)?;
                        Ok(Reply::App(Application {
                            token: Token::parse(&token)?,
                            name: name.clone(),
                            chats_count: count(row.try_get(1)?),
                            created_at: from_micros(row.try_get(2)?),
                            updated_at: at,
                        }))
                    }
                });
            }
            Op::CreateChat { app_id } => chats_by_app.entry(*app_id).or_default().push(i),
            Op::CreateMessage { chat_id, .. } => {
                messages_by_chat.entry(*chat_id).or_default().push(i)
            }
            Op::EditMessage { id, body } => {
                let row = sqlx::query(
                    "UPDATE messages SET body = ?1, updated_at = ?2 WHERE id = ?3 \
                     RETURNING number, created_at",
                )
                .bind(body)
                .bind(now)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
                replies[i] = Some(match row {
                    None => Ok(Reply::Gone),
                    Some(row) => Ok(Reply::Message(Message {
                        number: MessageNumber::new(row.try_get::<u32, _>(0)?)?,
                        body: body.clone(),
                        created_at: from_micros(row.try_get(1)?),
                        updated_at: at,
                    })),
                });
            }
            Op::DeleteMessage { id } => {
                replies[i] = Some(delete_message(conn, *id).await?);
            }
            Op::DeleteChat { chat_id } => {
                replies[i] = Some(delete_chat(conn, *chat_id).await?);
            }
            Op::DeleteApp { app_id } => {
                replies[i] = Some(delete_app(conn, *app_id).await?);
            }
        }
    }

    // Chats: one counter bump per application, then multi-row inserts.
    let mut chat_rows: Vec<(i64, u32)> = Vec::new();
    let groups: Vec<(i64, &Vec<usize>)> = chats_by_app.iter().map(|(k, v)| (*k, v)).collect();
    let lasts = bump(conn, Counter::Chats, &groups).await?;
    for (app_id, idxs) in &groups {
        let k = idxs.len() as i64;
        let Some(&last) = lasts.get(app_id) else {
            for &i in idxs.iter() {
                replies[i] = Some(Ok(Reply::Gone));
            }
            continue;
        };
        for (j, &i) in idxs.iter().enumerate() {
            let number = number_in(last, k, j)?;
            chat_rows.push((*app_id, number));
            replies[i] = Some(Ok(Reply::Chat(Chat {
                number: ChatNumber::new(number)?,
                messages_count: 0,
                created_at: at,
                updated_at: at,
            })));
        }
    }
    insert(
        conn,
        InsertKind::Chats,
        now,
        &chat_rows,
        |q, &(app, number)| q.bind(app).bind(number),
    )
    .await?;

    // Messages: one counter bump per chat, then multi-row inserts into the table and the backlog.
    let mut message_rows: Vec<NewMessage<'_>> = Vec::new();
    let groups: Vec<(i64, &Vec<usize>)> = messages_by_chat.iter().map(|(k, v)| (*k, v)).collect();
    let lasts = bump(conn, Counter::Messages, &groups).await?;
    for (chat_id, idxs) in &groups {
        let k = idxs.len() as i64;
        let Some(&last) = lasts.get(chat_id) else {
            for &i in idxs.iter() {
                replies[i] = Some(Ok(Reply::Gone));
            }
            continue;
        };
        for (j, &i) in idxs.iter().enumerate() {
            if let Op::CreateMessage { body, .. } = ops[i] {
                let number = number_in(last, k, j)?;
                message_rows.push(NewMessage {
                    chat_id: *chat_id,
                    number,
                    body,
                    slot: i,
                });
            }
        }
    }
    insert(conn, InsertKind::Messages, now, &message_rows, |q, m| {
        q.bind(message_id(m.chat_id, m.number))
            .bind(m.chat_id)
            .bind(m.number)
            .bind(m.body.as_str())
    })
    .await?;
    // Searchable at once through the backlog; the index is filled from it in bulk (indexer.rs).
    insert(conn, InsertKind::Backlog, now, &message_rows, |q, m| {
        q.bind(message_id(m.chat_id, m.number))
    })
    .await?;
    for m in &message_rows {
        replies[m.slot] = Some(Ok(Reply::Message(Message {
            number: MessageNumber::new(m.number)?,
            body: m.body.clone(),
            created_at: at,
            updated_at: at,
        })));
    }

    Ok(replies
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(lost())))
        .collect())
}

/// Deletes one message: its row, its search-index entry and backlog records, one from its
/// chat's count, and a `deleted` entry in the live log (trimmed as the edit trigger trims it).
async fn delete_message(conn: &mut SqliteConnection, id: i64) -> Result<Result<Reply>> {
    let chat: Option<i64> =
        sqlx::query_scalar("DELETE FROM messages WHERE id = ? RETURNING chat_id")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(chat_id) = chat else {
        return Ok(Ok(Reply::Gone));
    };
    sqlx::query("UPDATE chats SET messages_count = max(messages_count - 1, 0) WHERE id = ?")
        .bind(chat_id)
        .execute(&mut *conn)
        .await?;
    // A message never indexed has no entry: deleting none is fine.
    sqlx::query("DELETE FROM messages_fts WHERE rowid = ?")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM search_backlog WHERE message_id = ?")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO message_edits (message_id, deleted) VALUES (?, 1)")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM message_edits WHERE seq <= last_insert_rowid() - 10000")
        .execute(&mut *conn)
        .await?;
    Ok(Ok(Reply::Deleted))
}

/// Deletes a chat's messages (rows, index entries, backlog records: one range of ids each)
/// and the chat, and takes one from its application's count. Its number stays taken: the
/// application's counter does not move back.
async fn delete_chat(conn: &mut SqliteConnection, chat_id: i64) -> Result<Result<Reply>> {
    let app: Option<i64> = sqlx::query_scalar("SELECT application_id FROM chats WHERE id = ?")
        .bind(chat_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(app_id) = app else {
        return Ok(Ok(Reply::Gone));
    };
    delete_chat_rows(conn, chat_id).await?;
    sqlx::query("UPDATE applications SET chats_count = max(chats_count - 1, 0) WHERE id = ?")
        .bind(app_id)
        .execute(&mut *conn)
        .await?;
    Ok(Ok(Reply::Deleted))
}

/// Deletes an application, its chats and their messages.
async fn delete_app(conn: &mut SqliteConnection, app_id: i64) -> Result<Result<Reply>> {
    let chats: Vec<i64> = sqlx::query_scalar("SELECT id FROM chats WHERE application_id = ?")
        .bind(app_id)
        .fetch_all(&mut *conn)
        .await?;
    for chat_id in chats {
        delete_chat_rows(conn, chat_id).await?;
    }
    let gone = sqlx::query("DELETE FROM applications WHERE id = ?")
        .bind(app_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(Ok(if gone == 0 {
        Reply::Gone
    } else {
        Reply::Deleted
    }))
}

async fn delete_chat_rows(conn: &mut SqliteConnection, chat_id: i64) -> Result<()> {
    let (lo, hi) = (message_id(chat_id, 0), message_id(chat_id, u32::MAX));
    for sql in [
        "DELETE FROM messages_fts WHERE rowid BETWEEN ?1 AND ?2",
        "DELETE FROM search_backlog WHERE message_id BETWEEN ?1 AND ?2",
        "DELETE FROM messages WHERE id BETWEEN ?1 AND ?2",
    ] {
        sqlx::query(sql)
            .bind(lo)
            .bind(hi)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("DELETE FROM chats WHERE id = ?")
        .bind(chat_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A message numbered in this batch, and the request it answers.
struct NewMessage<'a> {
    chat_id: i64,
    number: u32,
    body: &'a String,
    slot: usize,
}

#[cfg(test)]
mod tests;
