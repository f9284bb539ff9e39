//! Live: following a chat as it happens.
//!
//! A backend feeds a `Hub`: one bounded broadcast channel per followed chat, present only
//! while someone follows it. The embedded profile's watcher reads what is new in the SQLite
//! file (written by this process or any other) and publishes it; the distributed profile
//! relays the Redis Pub/Sub messages its create and edit scripts publish. Each source publishes
//! a chat's events in number order.
//!
//! `follow` turns a subscription into the stream callers see. It subscribes *before* reading
//! anything, replays the messages after the resume point from the store page by page, then
//! goes live: a created event at or below the last number delivered is dropped (it was in the
//! replay), and one beyond the next expected number first has the gap read from the store. So
//! the stream has no gap and no duplicate at the seam, whatever the timing, and created events
//! come in number order. A follower too slow for its chat's channel is cut off with
//! [`Error::Unavailable`] (backend `live`) and resumes after the last number it received.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::error::{Error, Result};
use crate::model::{Message, MessageNumber, Page, PageRequest};

/// Events each followed chat's channel holds for its slowest follower before cutting it off.
pub const CHANNEL_CAPACITY: usize = 4096;

/// Messages read from the store per replay page.
const REPLAY_PAGE: u32 = 1000;

/// One thing that happened to a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", content = "message", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LiveEvent {
    /// A message was created; its number is the resume point.
    Created(Message),
    /// A message's body was replaced (the message as it is now).
    Edited(Message),
    /// A message was deleted. Sent to followers that may have received it: it is never
    /// replayed, and numbers are never reused.
    Deleted {
        /// The deleted message's number.
        number: MessageNumber,
    },
}

impl LiveEvent {
    /// The event's name on the wire: `created`, `edited` or `deleted`.
    pub fn kind(&self) -> &'static str {
        match self {
            LiveEvent::Created(_) => "created",
            LiveEvent::Edited(_) => "edited",
            LiveEvent::Deleted { .. } => "deleted",
        }
    }

    /// The message the event carries: `None` for a deletion, which carries only its number.
    pub fn message(&self) -> Option<&Message> {
        match self {
            LiveEvent::Created(m) | LiveEvent::Edited(m) => Some(m),
            LiveEvent::Deleted { .. } => None,
        }
    }

    /// The number of the message the event is about.
    pub fn number(&self) -> MessageNumber {
        match self {
            LiveEvent::Created(m) | LiveEvent::Edited(m) => m.number,
            LiveEvent::Deleted { number } => *number,
        }
    }

    /// The resume point this event moves a follower to: the number of a created message;
    /// `None` for other events.
    pub fn resume_id(&self) -> Option<MessageNumber> {
        match self {
            LiveEvent::Created(m) => Some(m.number),
            LiveEvent::Edited(_) | LiveEvent::Deleted { .. } => None,
        }
    }
}

/// A stream of a chat's events, as [`crate::ChatApi::follow`] returns it.
pub type LiveStream = Pin<Box<dyn Stream<Item = Result<LiveEvent>> + Send>>;

#[cfg(any(feature = "sqlite", feature = "distributed"))]
mod hub;
#[cfg(any(feature = "sqlite", feature = "distributed"))]
pub(crate) use hub::Hub;
#[cfg(feature = "sqlite")]
pub(crate) use hub::{Feed, Published};

/// A follower's place in a chat's channel; leaving it (dropping) unfollows.
pub struct Subscription {
    // Declared first so the receiver is gone when the lease counts the remaining ones.
    rx: broadcast::Receiver<Arc<LiveEvent>>,
    _lease: Box<dyn Send + Sync>,
}

#[cfg(test)]
impl Subscription {
    /// The next event of the channel, waiting at most `wait`.
    pub(crate) async fn next_within(&mut self, wait: std::time::Duration) -> Option<LiveEvent> {
        match tokio::time::timeout(wait, self.rx.recv()).await {
            Ok(Ok(event)) => Some((*event).clone()),
            _ => None,
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

/// Reads a page of the followed chat's messages from the store: the follower's only way to the
/// data, given by whoever starts it, so this file needs nothing of the stores.
pub(crate) type ReadPage = Box<
    dyn Fn(PageRequest<MessageNumber>) -> BoxFuture<'static, Result<Page<Message, MessageNumber>>>
        + Send
        + Sync,
>;

struct Follower {
    read: ReadPage,
    /// The highest number delivered (or the resume point).
    last: u32,
    queue: VecDeque<LiveEvent>,
    sub: Subscription,
    replaying: bool,
    done: bool,
}

impl Follower {
    /// Reads one page after `last` into the queue, stopping before `until`; returns how many
    /// messages it queued and whether the store has more.
    async fn read_page(&mut self, until: Option<u32>) -> Result<(usize, bool)> {
        let page = PageRequest {
            limit: REPLAY_PAGE,
            after: MessageNumber::new(self.last).ok(),
            newest: false,
        };
        let page = (self.read)(page).await?;
        let mut queued = 0;
        for m in page.items {
            let n = m.number.get();
            if until.is_some_and(|u| n >= u) {
                return Ok((queued, false));
            }
            if n > self.last {
                self.last = n;
                self.queue.push_back(LiveEvent::Created(m));
                queued += 1;
            }
        }
        Ok((queued, page.next.is_some()))
    }

    /// Handles one live event.
    async fn live(&mut self, event: &LiveEvent) -> Result<()> {
        match event {
            LiveEvent::Created(m) => {
                let n = m.number.get();
                if n <= self.last {
                    return Ok(());
                }
                // Published before this follower subscribed, or lost on the way: read the
                // gap from the store first.
                while n > self.last + 1 {
                    let (queued, more) = self.read_page(Some(n)).await?;
                    if queued == 0 || !more {
                        break;
                    }
                }
                self.last = n;
                self.queue.push_back(event.clone());
            }
            // A message above the resume point is delivered as it is when its creation
            // comes (or is read): an edit of it before then is already in it.
            LiveEvent::Edited(m) if m.number.get() <= self.last => {
                self.queue.push_back(event.clone());
            }
            LiveEvent::Edited(_) => {}
            // Likewise a deletion matters only to a follower that may have received the
            // message; one above the resume point is simply never read.
            LiveEvent::Deleted { number } if number.get() <= self.last => {
                self.queue.push_back(event.clone());
            }
            LiveEvent::Deleted { .. } => {}
        }
        Ok(())
    }

    async fn next(&mut self) -> Option<Result<LiveEvent>> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            let step = if self.replaying {
                match self.read_page(None).await {
                    Ok((_, more)) => {
                        self.replaying = more;
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            } else {
                match self.sub.rx.recv().await {
                    Ok(event) => self.live(&event).await,
                    Err(broadcast::error::RecvError::Lagged(missed)) => Err(Error::unavailable(
                        "live",
                        format!(
                            "this follower fell {missed} events behind its chat and was cut \
                             off: follow again after message {}",
                            self.last
                        ),
                    )),
                    Err(broadcast::error::RecvError::Closed) => {
                        self.done = true;
                        Ok(())
                    }
                }
            };
            if let Err(e) = step {
                self.done = true;
                self.queue.clear();
                return Some(Err(e));
            }
        }
    }
}

/// The stream of a chat's events after message `after` (0: from the first), over a
/// subscription taken before this call. The first replay page is read before it returns, so a
/// store that cannot answer fails the call rather than the stream, and a follower whose replay
/// fits one page needs nothing but the live feed afterwards.
pub(crate) async fn follow(read: ReadPage, after: u32, sub: Subscription) -> Result<LiveStream> {
    let mut follower = Follower {
        read,
        last: after,
        queue: VecDeque::new(),
        sub,
        replaying: true,
        done: false,
    };
    let (_, more) = follower.read_page(None).await?;
    follower.replaying = more;
    Ok(Box::pin(futures::stream::unfold(
        follower,
        |mut f| async move { f.next().await.map(|item| (item, f)) },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chats_channel_lives_while_it_has_followers() {
        let hub: Hub<i64> = Hub::default();
        let (a, first) = hub.subscribe(7);
        assert!(first);
        let (b, first) = hub.subscribe(7);
        assert!(!first);
        assert_eq!(hub.feeds().len(), 1);
        drop(a);
        assert!(hub.feed(&7).is_some());
        drop(b);
        assert!(hub.feed(&7).is_none() && hub.is_empty());
    }
}
