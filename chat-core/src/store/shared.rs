//! Helpers every backend shares: timestamps, paging, id caches, locks, health probes and
//! recount's corrections.

use chrono::{DateTime, Utc};

#[cfg(feature = "distributed")]
use super::BackendHealth;
use crate::api::{Correction, RecountSummary, MAX_REPORTED_CORRECTIONS};
use crate::error::{Error, Missing};
use crate::model::{ChatNumber, MessageNumber, Page, Token};

/// Unix microseconds now.
pub(crate) fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// Unix microseconds → timestamp (out-of-range values clamp to the epoch).
pub(crate) fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// Splits a fetched `limit + 1` rows into a page and the next cursor.
pub(crate) fn paginate<T, C>(
    mut items: Vec<T>,
    limit: u32,
    cursor: impl Fn(&T) -> C,
) -> Page<T, C> {
    let limit = limit as usize;
    if items.len() > limit {
        items.truncate(limit);
        let next = items.last().map(&cursor);
        Page { items, next }
    } else {
        Page { items, next: None }
    }
}

/// A cache of internal ids (application by token, chat by application and number). Ids are
/// never reused, so a cached entry can only turn stale by a delete, never point at another
/// row: a deleted parent is found missing by the query that uses its id (the backend then
/// forgets the entry), so every process may keep its own cache of a shared database.
#[derive(Debug)]
pub(crate) struct IdCache<K> {
    ids: std::sync::RwLock<std::collections::HashMap<K, i64>>,
}

impl<K: std::hash::Hash + Eq> Default for IdCache<K> {
    fn default() -> Self {
        IdCache {
            ids: std::sync::RwLock::default(),
        }
    }
}

impl<K: std::hash::Hash + Eq> IdCache<K> {
    /// The cached id of `key`.
    pub(crate) fn get(&self, key: &K) -> Option<i64> {
        read(&self.ids).get(key).copied()
    }

    /// Remembers the id of `key`.
    pub(crate) fn insert(&self, key: K, id: i64) {
        write(&self.ids).insert(key, id);
    }

    /// Forgets `key` (its row was deleted).
    pub(crate) fn remove(&self, key: &K) {
        write(&self.ids).remove(key);
    }

    #[cfg(feature = "sqlite")]
    /// Forgets every entry `gone` says is deleted.
    pub(crate) fn forget(&self, gone: impl Fn(&K) -> bool) {
        write(&self.ids).retain(|k, _| !gone(k));
    }
}

/// Reads a lock even if a panicking thread poisoned it: the guarded maps hold plain values,
/// always in a consistent state between two statements.
pub(crate) fn read<T>(lock: &std::sync::RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

/// Writes a lock even if it was poisoned (see [`read`]).
pub(crate) fn write<T>(lock: &std::sync::RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

/// Locks a mutex even if it was poisoned (see [`read`]).
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A count read from a database column (signed there) as the API's unsigned count; a negative
/// value, which only a hand-edited row could hold, reads as 0.
pub(crate) fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// How long `/ready` waits for each backend to answer.
pub(crate) const HEALTH_PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

#[cfg(feature = "distributed")]
/// The state of `backend` from a probe, given at most [`HEALTH_PROBE_TIMEOUT`] to answer.
pub(crate) async fn probe<T, E: std::fmt::Display>(
    backend: &str,
    check: impl std::future::Future<Output = std::result::Result<T, E>>,
) -> BackendHealth {
    let error = match tokio::time::timeout(HEALTH_PROBE_TIMEOUT, check).await {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!(
            "no answer within {} s",
            HEALTH_PROBE_TIMEOUT.as_secs()
        )),
    };
    BackendHealth {
        backend: backend.to_owned(),
        ok: error.is_none(),
        error,
        search_backlog: None,
    }
}

/// Records one count that recount corrected (all of them are counted; the first
/// [`MAX_REPORTED_CORRECTIONS`] are listed).
pub(crate) fn note_correction(
    summary: &mut RecountSummary,
    token: &Token,
    chat: Option<ChatNumber>,
    field: &str,
    was: i64,
    now: i64,
) {
    summary.corrected += 1;
    if summary.corrections.len() < MAX_REPORTED_CORRECTIONS {
        summary.corrections.push(Correction {
            application: token.clone(),
            chat,
            field: field.to_owned(),
            was: count(was),
            now: count(now),
        });
    }
}

/// An application that is not there.
pub(crate) fn not_app(token: &Token) -> Error {
    Error::NotFound(Missing::Application {
        token: token.clone(),
    })
}

/// A chat that is not there.
pub(crate) fn not_chat(token: &Token, chat: ChatNumber) -> Error {
    Error::NotFound(Missing::Chat {
        token: token.clone(),
        chat,
    })
}

/// A message that is not there.
pub(crate) fn not_message(token: &Token, chat: ChatNumber, message: MessageNumber) -> Error {
    Error::NotFound(Missing::Message {
        token: token.clone(),
        chat,
        message,
    })
}
