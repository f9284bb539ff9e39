//! One batch applied inside its transaction: numbers taken ([`super::super::numbering`]), rows
//! inserted with multi-row statements ([`super::sql`]), edits, deletes with their counts and
//! search entries, and each request's outcome in its slot.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::request::{lost, Op, Reply};
use super::sql::{insert, InsertKind};
use crate::error::Result;
use crate::model::{Application, Chat, ChatNumber, Message, MessageNumber, Token};
use crate::store::embedded::numbering::{bump, number_in, Counter};
use crate::store::embedded::rows::message_id;
use crate::store::{count, from_micros, now_micros};

/// Applies every operation inside the open transaction. Statement errors abort the batch;
/// per-request outcomes (a missing row) are returned in the request's slot.
pub(super) fn apply(conn: &Connection, ops: &[&Op]) -> Result<Vec<Result<Reply>>> {
    let now = now_micros();
    let at = from_micros(now);
    let mut replies: Vec<Option<Result<Reply>>> = (0..ops.len()).map(|_| None).collect();

    // Chats and messages are grouped by parent, so each parent's counter moves once.
    let mut chats_by_app: HashMap<i64, Vec<usize>> = HashMap::new();
    let mut messages_by_chat: HashMap<i64, Vec<usize>> = HashMap::new();

    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::CreateApp { token, name } => {
                conn.prepare_cached(
                    "INSERT INTO applications (token, name, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?3)",
                )?
                .execute(params![token.as_str(), name, now])?;
                replies[i] = Some(Ok(Reply::App(Application {
                    token: token.clone(),
                    name: name.clone(),
                    chats_count: 0,
                    created_at: at,
                    updated_at: at,
                })));
            }
            Op::RenameApp { app_id, name } => {
                let row: Option<(String, i64, i64)> = conn
                    .prepare_cached(
                        "UPDATE applications SET name = ?1, updated_at = ?2 WHERE id = ?3 \
                         RETURNING token, chats_count, created_at",
                    )?
                    .query_row(params![name, now, app_id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .optional()?;
                replies[i] = Some(match row {
                    None => Ok(Reply::Gone),
                    Some((token, chats, created)) => Ok(Reply::App(Application {
                        token: Token::parse(&token)?,
                        name: name.clone(),
                        chats_count: count(chats),
                        created_at: from_micros(created),
                        updated_at: at,
                    })),
                });
            }
            Op::CreateChat { app_id } => chats_by_app.entry(*app_id).or_default().push(i),
            Op::CreateMessage { chat_id, .. } => {
                messages_by_chat.entry(*chat_id).or_default().push(i)
            }
            Op::EditMessage { id, body } => {
                let row: Option<(u32, i64)> = conn
                    .prepare_cached(
                        "UPDATE messages SET body = ?1, updated_at = ?2 WHERE id = ?3 \
                         RETURNING number, created_at",
                    )?
                    .query_row(params![body, now, id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                replies[i] = Some(match row {
                    None => Ok(Reply::Gone),
                    Some((number, created)) => Ok(Reply::Message(Message {
                        number: MessageNumber::new(number)?,
                        body: body.clone(),
                        created_at: from_micros(created),
                        updated_at: at,
                    })),
                });
            }
            Op::DeleteMessage { id } => {
                replies[i] = Some(delete_message(conn, *id)?);
            }
            Op::DeleteChat { chat_id } => {
                replies[i] = Some(delete_chat(conn, *chat_id)?);
            }
            Op::DeleteApp { app_id } => {
                replies[i] = Some(delete_app(conn, *app_id)?);
            }
        }
    }

    // Chats: one counter bump per application, then multi-row inserts.
    let mut chat_rows: Vec<(i64, u32)> = Vec::new();
    let groups: Vec<(i64, &Vec<usize>)> = chats_by_app.iter().map(|(k, v)| (*k, v)).collect();
    let lasts = bump(conn, Counter::Chats, &groups)?;
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
        |s, p, &(app, number)| {
            s.raw_bind_parameter(p, app)?;
            s.raw_bind_parameter(p + 1, number)
        },
    )?;

    // Messages: one counter bump per chat, then multi-row inserts into the table and the backlog.
    let mut message_rows: Vec<NewMessage<'_>> = Vec::new();
    let groups: Vec<(i64, &Vec<usize>)> = messages_by_chat.iter().map(|(k, v)| (*k, v)).collect();
    let lasts = bump(conn, Counter::Messages, &groups)?;
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
    insert(conn, InsertKind::Messages, now, &message_rows, |s, p, m| {
        s.raw_bind_parameter(p, message_id(m.chat_id, m.number))?;
        s.raw_bind_parameter(p + 1, m.chat_id)?;
        s.raw_bind_parameter(p + 2, m.number)?;
        s.raw_bind_parameter(p + 3, m.body.as_str())
    })?;
    // Searchable at once through the backlog; the index is filled from it in bulk (indexer.rs).
    insert(conn, InsertKind::Backlog, now, &message_rows, |s, p, m| {
        s.raw_bind_parameter(p, message_id(m.chat_id, m.number))
    })?;
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
fn delete_message(conn: &Connection, id: i64) -> Result<Result<Reply>> {
    let chat: Option<i64> = conn
        .prepare_cached("DELETE FROM messages WHERE id = ? RETURNING chat_id")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    let Some(chat_id) = chat else {
        return Ok(Ok(Reply::Gone));
    };
    conn.prepare_cached(
        "UPDATE chats SET messages_count = max(messages_count - 1, 0) WHERE id = ?",
    )?
    .execute([chat_id])?;
    // A message never indexed has no entry: deleting none is fine.
    for sql in [
        "DELETE FROM messages_fts WHERE rowid = ?",
        "DELETE FROM search_backlog WHERE message_id = ?",
        "INSERT INTO message_edits (message_id, deleted) VALUES (?, 1)",
    ] {
        conn.prepare_cached(sql)?.execute([id])?;
    }
    conn.prepare_cached("DELETE FROM message_edits WHERE seq <= last_insert_rowid() - 10000")?
        .execute([])?;
    Ok(Ok(Reply::Deleted))
}

/// Deletes a chat's messages (rows, index entries, backlog records: one range of ids each)
/// and the chat, and takes one from its application's count. Its number stays taken: the
/// application's counter does not move back.
fn delete_chat(conn: &Connection, chat_id: i64) -> Result<Result<Reply>> {
    let app: Option<i64> = conn
        .prepare_cached("SELECT application_id FROM chats WHERE id = ?")?
        .query_row([chat_id], |r| r.get(0))
        .optional()?;
    let Some(app_id) = app else {
        return Ok(Ok(Reply::Gone));
    };
    delete_chat_rows(conn, chat_id)?;
    conn.prepare_cached(
        "UPDATE applications SET chats_count = max(chats_count - 1, 0) WHERE id = ?",
    )?
    .execute([app_id])?;
    Ok(Ok(Reply::Deleted))
}

/// Deletes an application, its chats and their messages.
fn delete_app(conn: &Connection, app_id: i64) -> Result<Result<Reply>> {
    let chats: Vec<i64> = conn
        .prepare_cached("SELECT id FROM chats WHERE application_id = ?")?
        .query_map([app_id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for chat_id in chats {
        delete_chat_rows(conn, chat_id)?;
    }
    let gone = conn
        .prepare_cached("DELETE FROM applications WHERE id = ?")?
        .execute([app_id])?;
    Ok(Ok(if gone == 0 {
        Reply::Gone
    } else {
        Reply::Deleted
    }))
}

fn delete_chat_rows(conn: &Connection, chat_id: i64) -> Result<()> {
    let (lo, hi) = (message_id(chat_id, 0), message_id(chat_id, u32::MAX));
    for sql in [
        "DELETE FROM messages_fts WHERE rowid BETWEEN ?1 AND ?2",
        "DELETE FROM search_backlog WHERE message_id BETWEEN ?1 AND ?2",
        "DELETE FROM messages WHERE id BETWEEN ?1 AND ?2",
    ] {
        conn.prepare_cached(sql)?.execute([lo, hi])?;
    }
    conn.prepare_cached("DELETE FROM chats WHERE id = ?")?
        .execute([chat_id])?;
    Ok(())
}

/// A message numbered in this batch, and the request it answers.
struct NewMessage<'a> {
    chat_id: i64,
    number: u32,
    body: &'a String,
    slot: usize,
}
