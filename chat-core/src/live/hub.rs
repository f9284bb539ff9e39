//! The followed chats of one process (what a backend publishes into): one bounded broadcast
//! channel per followed chat, present only while someone follows it. Only the backends use it,
//! so a build with neither `sqlite` nor `distributed` (the HTTP client alone) leaves it out.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, Notify};

use super::{LiveEvent, Subscription, CHANNEL_CAPACITY};

/// Where the embedded watcher stands in one followed chat: what it has published.
#[cfg(feature = "sqlite")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Published {
    /// The highest message number published.
    pub(crate) number: u32,
    /// The highest `message_edits` sequence number looked at.
    pub(crate) edit: i64,
}

/// One followed chat's channel, and the publisher's high-water mark for it.
pub(crate) struct Feed {
    tx: broadcast::Sender<Arc<LiveEvent>>,
    /// The embedded watcher's cursor. The first follower sets it from the store *before* it
    /// replays anything (so every later change is either in its replay or published); the
    /// watcher leaves a chat alone while it is `None`.
    #[cfg(feature = "sqlite")]
    pub(crate) published: Mutex<Option<Published>>,
}

impl Feed {
    /// Sends an event to every follower of the chat (none is fine).
    pub(crate) fn send(&self, event: LiveEvent) {
        let _ = self.tx.send(Arc::new(event));
    }
}

type Feeds<K> = Arc<Mutex<HashMap<K, Arc<Feed>>>>;

/// The followed chats of one process, keyed by whatever names a chat in the backend.
pub(crate) struct Hub<K> {
    feeds: Feeds<K>,
    /// Woken when a chat gets its first follower.
    pub(crate) followed: Arc<Notify>,
}

impl<K> Default for Hub<K> {
    fn default() -> Self {
        Hub {
            feeds: Arc::default(),
            followed: Arc::default(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> Hub<K> {
    /// Follows `key`. The second value says whether it was not followed before.
    pub(crate) fn subscribe(&self, key: K) -> (Subscription, bool) {
        let mut feeds = lock(&self.feeds);
        let mut first = false;
        let feed = feeds.entry(key.clone()).or_insert_with(|| {
            first = true;
            let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
            Arc::new(Feed {
                tx,
                #[cfg(feature = "sqlite")]
                published: Mutex::new(None),
            })
        });
        let rx = feed.tx.subscribe();
        drop(feeds);
        if first {
            self.followed.notify_one();
        }
        let lease = Lease {
            feeds: Arc::clone(&self.feeds),
            key: Some(key),
        };
        (
            Subscription {
                rx,
                _lease: Box::new(lease),
            },
            first,
        )
    }

    /// The channel of `key`, when someone follows it.
    pub(crate) fn feed(&self, key: &K) -> Option<Arc<Feed>> {
        lock(&self.feeds).get(key).cloned()
    }

    /// Every followed chat.
    pub(crate) fn feeds(&self) -> Vec<(K, Arc<Feed>)> {
        lock(&self.feeds)
            .iter()
            .map(|(k, f)| (k.clone(), Arc::clone(f)))
            .collect()
    }

    /// Ends the streams of `key`'s followers (its chat is deleted): they get what the channel
    /// still holds, then the end.
    pub(crate) fn end(&self, key: &K) {
        lock(&self.feeds).remove(key);
    }

    /// Whether nobody follows anything.
    pub(crate) fn is_empty(&self) -> bool {
        lock(&self.feeds).is_empty()
    }

    /// Drops every channel: their followers' streams end.
    pub(crate) fn close(&self) {
        lock(&self.feeds).clear();
    }
}

/// Removes a chat's channel when its last follower leaves.
struct Lease<K: Hash + Eq> {
    feeds: Feeds<K>,
    key: Option<K>,
}

impl<K: Hash + Eq> Drop for Lease<K> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut feeds = lock(&self.feeds);
        if feeds.get(&key).is_some_and(|f| f.tx.receiver_count() == 0) {
            feeds.remove(&key);
        }
    }
}
