//! Reads: MySQL for what is persisted, the pending records for what is still queued (so a
//! read right after a create finds it), and the counters for the counts (the number of
//! acknowledged creations less the deleted ones, exact at once; MySQL's columns catch up when
//! the queue drains). The tombstones of deletes (see `redis`) hide at once what a delete job
//! has not yet removed from MySQL: lists drop the deleted numbers of each page they read and
//! read on until the page is full.

use std::collections::{BTreeMap, HashMap};

use super::redis::queue::{pending, PendingChat, PendingMessage};
use super::redis::Key;
use super::DistributedBackend;
use crate::error::Result;
use crate::model::{
    Application, Chat, ChatNumber, Message, MessageNumber, Page, PageRequest, Query, Token,
};
use crate::store::{from_micros, paginate, SearchSpec};
use crate::store::{not_app, not_chat, not_message};

pub(super) fn counter(v: Option<String>) -> Option<u64> {
    v.and_then(|s| s.parse().ok())
}

fn pending_chat(number: ChatNumber, json: &str) -> Result<Chat> {
    let at = from_micros(pending::<PendingChat>(json)?.created_at()?);
    Ok(Chat {
        number,
        messages_count: 0,
        created_at: at,
        updated_at: at,
    })
}

fn pending_message(number: MessageNumber, json: &str) -> Result<Message> {
    let p: PendingMessage = pending(json)?;
    Ok(Message {
        number,
        created_at: from_micros(p.created_at()?),
        updated_at: from_micros(p.updated_at()?),
        body: p.b,
    })
}

impl DistributedBackend {
    /// Which of `numbers` the deleted set `set` holds (one `SMISMEMBER`).
    pub(super) async fn deleted(&self, set: Key<'_>, numbers: &[u32]) -> Result<Vec<bool>> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn();
        Ok(redis::cmd("SMISMEMBER")
            .arg(set)
            .arg(numbers)
            .query_async(&mut conn)
            .await?)
    }

    pub(super) async fn get_application(&self, token: &Token) -> Result<Application> {
        let row = self
            .store
            .application(token)
            .await?
            .ok_or_else(|| not_app(token))?;
        let mut conn = self.conn();
        let (chats, deleted, gone): (Option<String>, bool, u64) = redis::pipe()
            .cmd("GET")
            .arg(self.keys.chat_counter(row.id))
            .cmd("EXISTS")
            .arg(self.keys.deleted_app(row.id))
            .cmd("SCARD")
            .arg(self.keys.deleted_chats(row.id))
            .query_async(&mut conn)
            .await?;
        if deleted {
            return Err(self.gone(token));
        }
        let mut app = row.app;
        if let Some(n) = counter(chats) {
            app.chats_count = n.saturating_sub(gone);
        }
        Ok(app)
    }

    pub(super) async fn list_applications(
        &self,
        page: &PageRequest<Token>,
    ) -> Result<Page<Application, Token>> {
        let mut after = match &page.after {
            Some(token) => self.app_id(token).await?,
            None => 0,
        };
        let want = page.limit as usize + 1;
        let mut apps = Vec::with_capacity(want);
        let conn = self.conn();
        loop {
            let rows = self.store.applications(after, page.limit + 1).await?;
            let (Some(last), read) = (rows.last().map(|r| r.id), rows.len()) else {
                break;
            };
            after = last;
            let counters: Vec<_> = rows.iter().map(|r| self.keys.chat_counter(r.id)).collect();
            let markers: Vec<_> = rows.iter().map(|r| self.keys.deleted_app(r.id)).collect();
            let (counts, deleted): (Vec<Option<String>>, Vec<Option<String>>) = conn
                .split(
                    redis::pipe()
                        .cmd("MGET")
                        .arg(&counters)
                        .cmd("MGET")
                        .arg(&markers),
                )
                .await?;
            let mut scards = redis::pipe();
            for r in &rows {
                scards.cmd("SCARD").arg(self.keys.deleted_chats(r.id));
            }
            let gone: Vec<u64> = conn.split(&scards).await?;
            for (((row, n), deleted), gone) in rows.into_iter().zip(counts).zip(deleted).zip(gone) {
                if deleted.is_some() {
                    continue;
                }
                let mut app = row.app;
                if let Some(n) = counter(n) {
                    app.chats_count = n.saturating_sub(gone);
                }
                apps.push(app);
            }
            if apps.len() >= want || read < want {
                break;
            }
        }
        apps.truncate(want);
        Ok(paginate(apps, page.limit, |a| a.token.clone()))
    }

    pub(super) async fn get_chat(&self, token: &Token, chat: ChatNumber) -> Result<Chat> {
        let app = self.live_app(token).await?;
        let (queued, messages, deleted, gone): (Option<String>, Option<String>, bool, u64) = self
            .conn()
            .split(
                redis::pipe()
                    .cmd("HGET")
                    .arg(self.keys.pending_chats(app))
                    .arg(chat.get())
                    .cmd("GET")
                    .arg(self.keys.message_counter(app, chat.get()))
                    .cmd("SISMEMBER")
                    .arg(self.keys.deleted_chats(app))
                    .arg(chat.get())
                    .cmd("SCARD")
                    .arg(self.keys.deleted_messages(app, chat.get())),
            )
            .await?;
        if deleted {
            return Err(not_chat(token, chat));
        }
        let mut found = match queued {
            Some(json) => pending_chat(chat, &json)?,
            None => self
                .store
                .chat(app, chat)
                .await?
                .ok_or_else(|| not_chat(token, chat))?,
        };
        if let Some(n) = counter(messages) {
            found.messages_count = n.saturating_sub(gone);
        }
        Ok(found)
    }

    pub(super) async fn list_chats(
        &self,
        token: &Token,
        page: &PageRequest<ChatNumber>,
    ) -> Result<Page<Chat, ChatNumber>> {
        let app = self.live_app(token).await?;
        let want = page.limit as usize + 1;
        let mut conn = self.conn();
        let queued: HashMap<u32, String> = redis::cmd("HGETALL")
            .arg(self.keys.pending_chats(app))
            .query_async(&mut conn)
            .await?;
        let mut cursor = page.after.map(ChatNumber::get);
        let mut items: Vec<Chat> = Vec::with_capacity(want);
        loop {
            let stored = self
                .store
                .chats(app, cursor, page.limit + 1, page.newest)
                .await?;
            let mut merged: BTreeMap<u32, Chat> =
                stored.into_iter().map(|c| (c.number.get(), c)).collect();
            for (n, json) in queued
                .iter()
                .filter(|(n, _)| past(**n, cursor, page.newest))
            {
                if let std::collections::btree_map::Entry::Vacant(slot) = merged.entry(*n) {
                    slot.insert(pending_chat(ChatNumber::new(*n)?, json)?);
                }
            }
            let candidates = in_order(merged, page.newest, want);
            let read = candidates.len();
            cursor = candidates.last().map(|c| c.number.get());
            let numbers: Vec<u32> = candidates.iter().map(|c| c.number.get()).collect();
            let deleted = self.deleted(self.keys.deleted_chats(app), &numbers).await?;
            items.extend(
                candidates
                    .into_iter()
                    .zip(deleted)
                    .filter(|(_, d)| !d)
                    .map(|(c, _)| c),
            );
            if items.len() >= want || read < want {
                break;
            }
        }
        items.truncate(want);
        if !items.is_empty() {
            let keys: Vec<_> = items
                .iter()
                .map(|c| self.keys.message_counter(app, c.number.get()))
                .collect();
            let counts: Vec<Option<String>> =
                redis::cmd("MGET").arg(&keys).query_async(&mut conn).await?;
            let mut scards = redis::pipe();
            for c in &items {
                scards
                    .cmd("SCARD")
                    .arg(self.keys.deleted_messages(app, c.number.get()));
            }
            let gone: Vec<u64> = conn.split(&scards).await?;
            for ((chat, n), gone) in items.iter_mut().zip(counts).zip(gone) {
                if let Some(n) = counter(n) {
                    chat.messages_count = n.saturating_sub(gone);
                }
            }
        }
        Ok(paginate(items, page.limit, |c| c.number))
    }

    pub(super) async fn get_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<Message> {
        // Whether the application is deleted is asked in the same pipeline (one round trip).
        let app = self.app_id(token).await?;
        let (app_deleted, queued, deleted, chat_deleted): (bool, Option<String>, bool, bool) = self
            .conn()
            .split(
                redis::pipe()
                    .cmd("EXISTS")
                    .arg(self.keys.deleted_app(app))
                    .cmd("HGET")
                    .arg(self.keys.pending_messages(app, chat.get()))
                    .arg(message.get())
                    .cmd("SISMEMBER")
                    .arg(self.keys.deleted_messages(app, chat.get()))
                    .arg(message.get())
                    .cmd("EXISTS")
                    .arg(self.keys.chat_deleted(app, chat.get())),
            )
            .await?;
        if app_deleted {
            return Err(self.gone(token));
        }
        if chat_deleted {
            return Err(not_chat(token, chat));
        }
        if deleted {
            return Err(not_message(token, chat, message));
        }
        if let Some(json) = queued {
            return pending_message(message, &json);
        }
        match self.store.message(app, chat, message).await? {
            Some(m) => Ok(m),
            None if self.chat_exists(app, chat).await? => Err(not_message(token, chat, message)),
            None => Err(not_chat(token, chat)),
        }
    }

    pub(super) async fn list_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        page: &PageRequest<MessageNumber>,
    ) -> Result<Page<Message, MessageNumber>> {
        let app = self.live_app(token).await?;
        if !self.chat_exists(app, chat).await? {
            return Err(not_chat(token, chat));
        }
        let want = page.limit as usize + 1;
        let mut conn = self.conn();
        let queued: HashMap<u32, String> = redis::cmd("HGETALL")
            .arg(self.keys.pending_messages(app, chat.get()))
            .query_async(&mut conn)
            .await?;
        let mut cursor = page.after.map(MessageNumber::get);
        let mut items: Vec<Message> = Vec::with_capacity(want);
        loop {
            let stored = self
                .store
                .messages(app, chat, cursor, page.limit + 1, page.newest)
                .await?;
            let mut merged: BTreeMap<u32, Message> =
                stored.into_iter().map(|m| (m.number.get(), m)).collect();
            // A pending record is at least as new as the row: it may hold an edit not yet
            // applied.
            for (n, json) in queued
                .iter()
                .filter(|(n, _)| past(**n, cursor, page.newest))
            {
                merged.insert(*n, pending_message(MessageNumber::new(*n)?, json)?);
            }
            let candidates = in_order(merged, page.newest, want);
            let read = candidates.len();
            cursor = candidates.last().map(|m| m.number.get());
            let numbers: Vec<u32> = candidates.iter().map(|m| m.number.get()).collect();
            let deleted = self
                .deleted(self.keys.deleted_messages(app, chat.get()), &numbers)
                .await?;
            items.extend(
                candidates
                    .into_iter()
                    .zip(deleted)
                    .filter(|(_, d)| !d)
                    .map(|(m, _)| m),
            );
            if items.len() >= want || read < want {
                break;
            }
        }
        items.truncate(want);
        Ok(paginate(items, page.limit, |m| m.number))
    }

    /// A page of a chat's search results. Deleted messages may still be indexed (or stored)
    /// until the worker applies their delete: each page drops them and reads on until it is
    /// full.
    pub(super) async fn search_chat(
        &self,
        token: &Token,
        chat: ChatNumber,
        query: &Query,
        spec: &SearchSpec,
    ) -> Result<Vec<Message>> {
        let live = self.live_chat(token, chat).await?;
        if !live.exists {
            return Err(not_chat(token, chat));
        }
        let app = live.app;
        let want = spec.limit as usize;
        let mut step = *spec;
        let mut found = Vec::with_capacity(want);
        loop {
            let page = self.search_once(app, chat, query, &step).await?;
            let read = page.len();
            let numbers: Vec<u32> = page.iter().map(|m| m.number.get()).collect();
            let deleted = if live.tombstones == 0 {
                // No tombstone in the chat when the search began: nothing to hide.
                vec![false; numbers.len()]
            } else {
                self.deleted(self.keys.deleted_messages(app, chat.get()), &numbers)
                    .await?
            };
            let any_deleted = deleted.iter().any(|d| *d);
            found.extend(
                page.into_iter()
                    .zip(deleted)
                    .filter(|(_, d)| !d)
                    .map(|(m, _)| m),
            );
            if read < step.limit as usize || !any_deleted || found.len() >= want {
                break;
            }
            match step.after_read(read as u32, numbers.last().copied()) {
                Some(next) => step = next,
                None => break,
            }
        }
        found.truncate(want);
        Ok(found)
    }

    /// One page of a search, as stored: only persisted messages are searchable, as with a
    /// search engine's refresh interval. The engine finds substrings of three characters or
    /// more; shorter ones have no gram and are looked for in the one chat's rows.
    async fn search_once(
        &self,
        app: i64,
        chat: ChatNumber,
        query: &Query,
        spec: &SearchSpec,
    ) -> Result<Vec<Message>> {
        if let Some(search) = &self.search {
            if query.has_trigram() {
                return search.search(app, chat.get(), query, spec).await;
            }
        }
        match self.store.chat_id(app, chat).await? {
            Some(id) => self.store.search(id, query, spec).await,
            None => Ok(Vec::new()),
        }
    }
}

/// Whether number `n` lies past the cursor `after` in the page's direction.
fn past(n: u32, after: Option<u32>, newest: bool) -> bool {
    match (after, newest) {
        (None, _) => true,
        (Some(a), true) => n < a,
        (Some(a), false) => n > a,
    }
}

/// The first `take` items of `merged` in the page's order.
fn in_order<T>(merged: BTreeMap<u32, T>, newest: bool, take: usize) -> Vec<T> {
    if newest {
        merged.into_values().rev().take(take).collect()
    } else {
        merged.into_values().take(take).collect()
    }
}
