//! [`ChatApi`]: the one list of operations of the system, implemented in-process by
//! [`crate::ChatService`] and over HTTP by `HttpClient` (feature `client`), plus the progress reporting
//! and summaries of the long-running admin jobs.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::live::LiveStream;
use crate::model::{
    Application, Chat, ChatNumber, Message, MessageNumber, Page, PageRequest, SearchPage,
    SearchRequest, Token,
};

/// Every operation of the chat system.
///
/// Inputs are plain strings where a person types them (names, bodies, queries) so that every
/// implementation validates them the same way and answers bad input with [`crate::Error`];
/// tokens and numbers are parsed first by their types.
#[async_trait]
pub trait ChatApi: Send + Sync {
    /// Creates an application with a fresh token.
    async fn create_application(&self, name: &str) -> Result<Application>;
    /// Reads one application.
    async fn get_application(&self, token: &Token) -> Result<Application>;
    /// Renames an application.
    async fn update_application(&self, token: &Token, name: &str) -> Result<Application>;
    /// Lists applications in creation order (an admin operation over HTTP).
    async fn list_applications(&self, page: PageRequest<Token>)
        -> Result<Page<Application, Token>>;

    /// Creates the application's next chat.
    async fn create_chat(&self, token: &Token) -> Result<Chat>;
    /// Reads one chat.
    async fn get_chat(&self, token: &Token, chat: ChatNumber) -> Result<Chat>;
    /// Lists an application's chats by number.
    async fn list_chats(
        &self,
        token: &Token,
        page: PageRequest<ChatNumber>,
    ) -> Result<Page<Chat, ChatNumber>>;

    /// Creates the chat's next message.
    async fn create_message(&self, token: &Token, chat: ChatNumber, body: &str) -> Result<Message>;
    /// Creates messages in the order given: their numbers increase in that order (they are
    /// consecutive unless other clients create messages in the same chat meanwhile), whatever
    /// the profile and over HTTP, and the call answers once all are durable.
    ///
    /// Every body is checked first, and at most [`crate::model::MAX_BATCH`] go in one call: a bad
    /// body or too many fail the call with [`Error::Invalid`](crate::Error::Invalid) and create
    /// nothing. A backend failing part-way may leave the first ones created, in order.
    async fn create_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        bodies: &[String],
    ) -> Result<Vec<Message>>;
    /// Reads one message.
    async fn get_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<Message>;
    /// Replaces a message's body (and re-indexes it for search).
    async fn update_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
        body: &str,
    ) -> Result<Message>;
    /// Lists a chat's messages by number.
    async fn list_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        page: PageRequest<MessageNumber>,
    ) -> Result<Page<Message, MessageNumber>>;
    /// Searches one chat's messages for a substring (literally, ignoring case), in the order
    /// of `request.sort`: `newest` (highest number first) or `oldest`, paged with `after`, whose
    /// cost does not grow with the number of matches; or `relevance`, the chat's newest
    /// [`crate::model::RELEVANCE_WINDOW`] matches best first, paged with `offset`. The page's
    /// `next` is the request for the following page when more remain.
    async fn search_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        request: &SearchRequest,
    ) -> Result<SearchPage>;

    /// Deletes an application with all its chats and messages (an admin operation over HTTP).
    /// Its token is never given out again; an unknown token (or one already deleted) is
    /// [`crate::Error::NotFound`].
    async fn delete_application(&self, token: &Token) -> Result<()>;
    /// Deletes a chat with all its messages; the application's `chats_count` drops at once.
    /// Chat numbers are never reused: the application's next chat gets the next number.
    async fn delete_chat(&self, token: &Token, chat: ChatNumber) -> Result<()>;
    /// Deletes a message: it is gone from reads, lists and search at once, the chat's
    /// `messages_count` drops, and followers of the chat get [`crate::LiveEvent::Deleted`].
    /// Message numbers are never reused. Deleting it again is [`crate::Error::NotFound`].
    async fn delete_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<()>;

    /// Follows a chat as it happens: the messages after `after` (all when `None`) as they are
    /// now, then every creation, edit and deletion as it happens, created messages exactly once
    /// and in number order, with no gap between the two. Writes of every process are seen
    /// (other processes on the same SQLite file; every API process of the distributed
    /// profile). Fails at once for an unknown chat; the stream ends when the chat is deleted
    /// (on the distributed profile: the chat itself, not its application). A follower too slow
    /// to keep up gets [`crate::Error::Unavailable`] (backend `live`) and can follow again
    /// after the last number it received; `HttpClient` (feature `client`) does that by itself.
    async fn follow(
        &self,
        token: &Token,
        chat: ChatNumber,
        after: Option<MessageNumber>,
    ) -> Result<LiveStream>;

    /// Recomputes `chats_count` / `messages_count` from the stored rows (one application or all)
    /// and reports what it corrected.
    async fn recount(
        &self,
        scope: Option<&Token>,
        progress: Arc<dyn Progress>,
    ) -> Result<RecountSummary>;
    /// Rebuilds the search index from the stored messages (one application or all).
    async fn reindex(
        &self,
        scope: Option<&Token>,
        progress: Arc<dyn Progress>,
    ) -> Result<ReindexSummary>;

    /// The write queue of the distributed profile: depth, pending, dead, oldest age. The
    /// embedded profile has no queue (every write commits before it is acknowledged) and
    /// answers [`crate::Error::BadRequest`].
    async fn queue_status(&self) -> Result<QueueStatus>;
    /// Moves every entry of the dead-letter stream back to the queue, for the workers to try
    /// again (after the cause of their failure is fixed). Embedded profile: as
    /// [`ChatApi::queue_status`].
    async fn retry_dead(&self) -> Result<RetrySummary>;
}

/// The state of the distributed profile's write queue at one moment: the totals over its
/// shards, and each shard's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueStatus {
    /// Entries in the stream: waiting, or delivered to a worker and not yet acknowledged.
    pub depth: u64,
    /// Entries delivered to a worker and not yet acknowledged.
    pub pending: u64,
    /// Entries in the dead-letter stream (failed too often; see [`ChatApi::retry_dead`]).
    pub dead: u64,
    /// Age of the oldest entry in the stream in milliseconds, when there is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub oldest_age_ms: Option<u64>,
    /// Each shard's share (the queue is several streams; a chat's jobs are all in one).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub shards: Vec<ShardStatus>,
}

/// One queue shard's state (see [`QueueStatus`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShardStatus {
    /// The shard's position, from 0.
    pub shard: u32,
    /// Entries in the shard's stream.
    pub depth: u64,
    /// Entries delivered to a worker and not yet acknowledged.
    pub pending: u64,
    /// Entries in the shard's dead-letter stream.
    pub dead: u64,
    /// Age of the shard's oldest entry in milliseconds, when there is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub oldest_age_ms: Option<u64>,
}

/// What [`ChatApi::retry_dead`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RetrySummary {
    /// Entries moved from the dead-letter stream back to the queue.
    pub retried: u64,
}

/// Receives the progress of a long job, e.g. to draw a progress bar.
pub trait Progress: Send + Sync {
    /// The job starts a phase of `total` units (`None` when unknown), e.g. "chats" or "messages".
    fn start(&self, phase: &str, total: Option<u64>);
    /// `n` more units are done.
    fn advance(&self, n: u64);
    /// The phase is over.
    fn finish(&self) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _phase: &str, _total: Option<u64>) {}
    fn advance(&self, _n: u64) {}
}

impl NoProgress {
    /// As the `Arc<dyn Progress>` the jobs take.
    pub fn arc() -> Arc<dyn Progress> {
        Arc::new(NoProgress)
    }
}

/// One count that recount found wrong and fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Correction {
    /// The application.
    #[schema(value_type = String)]
    pub application: Token,
    /// The chat, for a `messages_count` correction; absent for `chats_count`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(value_type = Option<u32>)]
    pub chat: Option<ChatNumber>,
    /// `chats_count` or `messages_count`.
    pub field: String,
    /// The stored value before.
    pub was: u64,
    /// The value counted from the rows.
    pub now: u64,
}

/// What a recount did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecountSummary {
    /// Applications examined.
    pub applications: u64,
    /// Chats examined.
    pub chats: u64,
    /// How many counts were wrong and are now fixed.
    pub corrected: u64,
    /// The corrections (the first 1,000).
    pub corrections: Vec<Correction>,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
}

/// What a reindex did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReindexSummary {
    /// Applications covered.
    pub applications: u64,
    /// Chats covered.
    pub chats: u64,
    /// Messages written to the index.
    pub messages: u64,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
}

/// Where the most corrections a summary keeps ends.
pub const MAX_REPORTED_CORRECTIONS: usize = 1000;

/// Fetches pages of a list starting at `first`: just that one, or (with `follow`) every page up
/// to the end. Returns the items and, when more remain, the cursor of the next page. Works with
/// any list of [`ChatApi`], e.g. `|p| api.list_chats(&token, p)`.
pub async fn collect_pages<T, C, F, Fut>(
    first: PageRequest<C>,
    follow: bool,
    mut fetch: F,
) -> Result<(Vec<T>, Option<C>)>
where
    F: FnMut(PageRequest<C>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T, C>>>,
{
    let (limit, newest) = (first.limit, first.newest);
    let mut request = first;
    let mut items = Vec::new();
    loop {
        let page = fetch(request).await?;
        items.extend(page.items);
        match page.next {
            Some(after) if follow => {
                request = PageRequest {
                    limit,
                    after: Some(after),
                    newest,
                }
            }
            next => return Ok((items, next)),
        }
    }
}
