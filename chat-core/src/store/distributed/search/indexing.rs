//! Indexing on the write path of the distributed profile: after a worker persisted a batch, its
//! messages go to the search engine (and to the index a running reindex builds). The batch
//! never fails because of the engine: documents it did not take for a reason that may pass
//! (the engine down or overloaded: no answer, a 5xx, a 429) are recorded in Redis (`unindexed`)
//! and sent again by the catch-up, which runs every few seconds while any wait. A document the
//! engine rejects for good (any other 4xx: the mapping refuses it, the index is closed to
//! writes) is not sent again: it goes to the dead-letter stream with the engine's reason, where
//! `chatctl queue status` counts it and `chatctl queue retry-dead` re-enqueues it.
//!
//! Deletes remove their documents by id in `_bulk`, with their chat's routing: a deleted
//! message's id is known; a deleted chat's (or application's) ids are read from the index
//! itself, a page at a time (a search of the chat reads its one shard), and deleted page by
//! page. Only `_search` and `_bulk` are used, which every engine's server has (no
//! `_delete_by_query`, a module some builds leave out). That is housekeeping: search drops
//! every result a delete's tombstone covers whether or not its document is still there, so a
//! delete the engine did not take (it was down) is only logged, and a full reindex (from MySQL,
//! which no longer has the rows) leaves it out for good.

use std::io::Write as _;
use std::time::{Duration, Instant};

use elasticsearch::http::request::JsonBody;
use elasticsearch::{BulkParts, SearchParts};
use redis::AsyncTypedCommands;
use serde_json::{json, Value};

use super::{check, doc_id, routing, unavailable, Doc, ElasticSearch};
use crate::error::{Error, Result};
use crate::store::distributed::mysql::Job;
use crate::store::distributed::redis::conn::Conn;
use crate::store::distributed::redis::queue::encode_doc;
use crate::store::distributed::redis::Keys;
use crate::store::lock;

/// A document the engine refused for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejected {
    /// Its position in the bulk.
    pub position: usize,
    /// The engine's status and reason.
    pub reason: String,
}

/// Bytes of a message body, on average, when sizing a bulk request's buffer.
const BODY_GUESS: usize = 96;

/// Whether a document's status in a bulk answer is a refusal for good: a 4xx other than 409 (a
/// newer version is already indexed: the outcome we want) and 429 (too many requests: later).
fn rejected_for_good(status: u64) -> bool {
    (400..500).contains(&status) && status != 409 && status != 429
}

impl ElasticSearch {
    /// Indexes documents into the alias (or `index`) in one `_bulk`. Answers the documents the
    /// engine refused for good; fails (unavailable) when the engine did not answer or any
    /// document failed for a reason that may pass, so the caller sends them again later.
    pub(crate) async fn bulk(&self, docs: &[Doc], index: Option<&str>) -> Result<Vec<Rejected>> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        if index.is_none() {
            self.ensure_index().await?;
        }
        let target = index.unwrap_or(&self.alias);
        // The NDJSON written straight from the documents (no JSON tree per line): ids and
        // routing values are digits and dashes, which JSON writes as they are.
        let mut body: Vec<u8> = Vec::with_capacity(docs.len() * (160 + BODY_GUESS));
        for d in docs {
            let _ = writeln!(
                body,
                r#"{{"index":{{"_id":"{}","routing":"{}","version":{},"version_type":"external_gte"}}}}"#,
                d.id(),
                d.routing(),
                d.updated_at
            );
            serde_json::to_writer(&mut body, d).map_err(|e| Error::Internal(e.to_string()))?;
            body.push(b'\n');
        }
        let answer = self.send_ndjson(target, &body, "bulk indexing").await?;
        if answer["errors"] != true {
            return Ok(Vec::new());
        }
        let mut rejected = Vec::new();
        let mut transient = None;
        for (position, item) in answer["items"].as_array().into_iter().flatten().enumerate() {
            let status = item["index"]["status"].as_u64().unwrap_or(0);
            if (200..300).contains(&status) || status == 409 {
                continue;
            }
            let reason = format!("HTTP {status}: {}", item["index"]["error"]);
            if rejected_for_good(status) {
                rejected.push(Rejected { position, reason });
            } else {
                transient.get_or_insert(reason);
            }
        }
        match transient {
            Some(reason) => Err(unavailable(format!(
                "documents were not indexed, e.g. {reason}"
            ))),
            None => Ok(rejected),
        }
    }

    /// Sends one `_bulk` of NDJSON bytes to `target`; answers the engine's answer.
    async fn send_ndjson(&self, target: &str, body: &[u8], what: &str) -> Result<Value> {
        let response = self
            .send_to_any(|| async move {
                self.client
                    .bulk(BulkParts::Index(target))
                    .body(vec![body])
                    .send()
                    .await
            })
            .await?;
        check(response, what).await
    }

    /// Sends one `_bulk` (action and source lines) to `target`; answers the engine's answer.
    async fn send_bulk(&self, target: &str, lines: &[Value], what: &str) -> Result<Value> {
        let response = self
            .send_to_any(|| async move {
                let body: Vec<JsonBody<Value>> =
                    lines.iter().cloned().map(JsonBody::from).collect();
                self.client
                    .bulk(BulkParts::Index(target))
                    .body(body)
                    .send()
                    .await
            })
            .await?;
        check(response, what).await
    }

    /// Deletes documents (id, routing) from the alias in one `_bulk`; a document already gone
    /// is no error.
    async fn delete_docs(&self, docs: &[(String, String)]) -> Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        let lines: Vec<Value> = docs
            .iter()
            .map(|(id, routing)| json!({"delete": {"_id": id, "routing": routing}}))
            .collect();
        let answer = self
            .send_bulk(&self.alias, &lines, "deleting documents")
            .await?;
        if answer["errors"] != true {
            return Ok(());
        }
        let failed = answer["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| &item["delete"])
            .find(|d| !matches!(d["status"].as_u64(), Some(200..=299 | 404)));
        match failed {
            Some(d) => Err(unavailable(format!(
                "deleting documents: HTTP {}: {}",
                d["status"], d["error"]
            ))),
            None => Ok(()),
        }
    }

    /// Deletes every document `filter` matches, a page at a time: reads the page's ids (and
    /// routings) in (chat, number) order, deletes them, and goes on after the last. With
    /// `routing`, only that chat's shard is read.
    async fn delete_matching(&self, filter: Value, routing: Option<&str>) -> Result<u64> {
        let mut after: Option<Value> = None;
        let mut deleted = 0u64;
        loop {
            let mut body = json!({
                "query": {"bool": {"filter": filter}},
                "sort": [{"chat": "asc"}, {"number": "asc"}],
                "size": DELETE_PAGE,
                "_source": false,
                "track_total_hits": false
            });
            if let Some(after) = &after {
                body["search_after"] = after.clone();
            }
            let (alias, body) = (self.alias.as_str(), &body);
            let response = self
                .send_to_any(|| async move {
                    let routings: Vec<&str> = routing.into_iter().collect();
                    let indices = [alias];
                    let mut request = self.client.search(SearchParts::Index(&indices));
                    if !routings.is_empty() {
                        request = request.routing(&routings);
                    }
                    request.body(body.clone()).send().await
                })
                .await?;
            let answer = check(response, "reading the documents to delete").await?;
            let hits = answer["hits"]["hits"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let docs: Vec<(String, String)> = hits
                .iter()
                .filter_map(|h| {
                    Some((
                        h["_id"].as_str()?.to_owned(),
                        h["_routing"].as_str()?.to_owned(),
                    ))
                })
                .collect();
            self.delete_docs(&docs).await?;
            deleted += docs.len() as u64;
            match hits.last() {
                Some(last) if hits.len() == DELETE_PAGE => after = Some(last["sort"].clone()),
                _ => return Ok(deleted),
            }
        }
    }
}

/// Documents read and deleted per step of a chat's or application's delete.
const DELETE_PAGE: usize = 1000;

/// Documents re-sent to the search engine per catch-up step.
const CATCH_UP_CHUNK: usize = 500;

/// How long after a failed send the engine is taken to be down (batches then record their
/// documents at once instead of waiting for it).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// Sends persisted messages to the search engine; shared by a process's workers.
pub(crate) struct Indexer {
    search: ElasticSearch,
    redis: Conn,
    keys: Keys,
    /// When sending to the engine last failed (to retry every few seconds, not every round).
    catch_up_failed: std::sync::Mutex<Option<Instant>>,
}

impl Indexer {
    pub(crate) fn new(search: ElasticSearch, redis: Conn, keys: Keys) -> Self {
        Indexer {
            search,
            redis,
            keys,
            catch_up_failed: std::sync::Mutex::new(None),
        }
    }

    /// Removes the documents of deleted messages, chats and applications (`deletes` holds
    /// delete jobs; others are ignored).
    pub(crate) async fn unindex(&self, deletes: &[&Job]) {
        if let Err(e) = self.try_unindex(deletes).await {
            tracing::warn!(error = %e, deletes = deletes.len(),
                "deleted messages stay in the search index (search leaves them out all the same)");
        }
    }

    async fn try_unindex(&self, deletes: &[&Job]) -> Result<()> {
        let messages: Vec<(String, String)> = deletes
            .iter()
            .filter_map(|job| match job {
                Job::DeleteMessage { app, chat, number } => {
                    Some((doc_id(*app, *chat, *number), routing(*app, *chat)))
                }
                _ => None,
            })
            .collect();
        self.search.delete_docs(&messages).await?;
        for job in deletes {
            match job {
                Job::DeleteChat { app, chat } => {
                    let filter = json!([{"term": {"app": app}}, {"term": {"chat": chat}}]);
                    self.search
                        .delete_matching(filter, Some(&routing(*app, *chat)))
                        .await?;
                }
                Job::DeleteApp { app } => {
                    self.search
                        .delete_matching(json!([{"term": {"app": app}}]), None)
                        .await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Sends the persisted messages of a batch (with their entry ids) to the search engine.
    /// Never fails the batch: when the engine does not take them, they are recorded for
    /// [`Indexer::catch_up`]; those it rejects for good go to the dead-letter stream.
    pub(crate) async fn index(&self, jobs: &[(String, Job)]) {
        let (entries, docs): (Vec<&str>, Vec<Doc>) = jobs
            .iter()
            .filter_map(|(id, job)| match job {
                Job::Message {
                    app,
                    chat,
                    number,
                    body,
                    created_at,
                    updated_at,
                    ..
                } => Some((
                    id.as_str(),
                    Doc {
                        app: *app,
                        chat: *chat,
                        number: *number,
                        body: body.clone(),
                        created_at: *created_at,
                        updated_at: *updated_at,
                    },
                )),
                _ => None,
            })
            .unzip();
        if docs.is_empty() {
            return;
        }
        // While the engine is known to be down (the last catch-up failed a moment ago), do not
        // wait for it on every batch: record at once, the catch-up retries every few seconds.
        let result = if self.catch_up_due() {
            self.send_docs(&docs).await
        } else {
            Err(Error::unavailable("elasticsearch", "down a moment ago"))
        };
        match result {
            Ok(rejected) => self.bury(&docs, Some(&entries), &rejected).await,
            Err(e) => {
                self.mark_catch_up_failed();
                tracing::warn!(error = %e, documents = docs.len(), "search indexing failed; recorded for catch-up");
                if let Err(e) = self.record_unindexed(&docs).await {
                    tracing::error!(error = %e, documents = docs.len(),
                        "could not record unindexed documents: run a reindex once the search engine is back");
                }
            }
        }
    }

    /// Indexes into the alias, and into the index a running reindex builds; answers the
    /// documents either refused for good. The reindex target is read after the batch
    /// committed: a reindex that starts later scans the rows.
    async fn send_docs(&self, docs: &[Doc]) -> Result<Vec<Rejected>> {
        let mut conn = self.redis.clone();
        let target = conn.get(self.keys.reindex_target()).await?;
        let mut rejected = self.search.bulk(docs, None).await?;
        if let Some(target) = target {
            for r in self.search.bulk(docs, Some(&target)).await? {
                if !rejected.iter().any(|known| known.position == r.position) {
                    rejected.push(r);
                }
            }
        }
        Ok(rejected)
    }

    /// Moves the documents the engine refused for good to the dead-letter stream, each as a
    /// job that writes it again, with the stream entry it came from (when known) and the
    /// engine's reason.
    async fn bury(&self, docs: &[Doc], entries: Option<&[&str]>, rejected: &[Rejected]) {
        if rejected.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for r in rejected {
            let Some(doc) = docs.get(r.position) else {
                continue;
            };
            let entry = entries
                .and_then(|e| e.get(r.position))
                .copied()
                .unwrap_or("");
            let error = format!("the search engine rejected the document: {}", r.reason);
            tracing::error!(
                entry,
                app = doc.app,
                chat = doc.chat,
                number = doc.number,
                error,
                "document moved to the dead-letter stream"
            );
            pipe.xadd(
                self.keys.dead(self.keys.chat_shard(doc.app, doc.chat)),
                "*",
                &[
                    ("j", encode_doc(doc)),
                    ("entry", entry.to_owned()),
                    ("error", error),
                ],
            )
            .ignore();
        }
        if let Err(e) = self.redis.split::<()>(&pipe).await {
            tracing::error!(error = %e, documents = rejected.len(),
                "could not record documents the search engine rejected");
        }
    }

    async fn record_unindexed(&self, docs: &[Doc]) -> Result<()> {
        let encoded: Vec<String> = docs
            .iter()
            .map(serde_json::to_string)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let mut conn = self.redis.clone();
        conn.rpush(self.keys.unindexed(), encoded).await?;
        Ok(())
    }

    fn mark_catch_up_failed(&self) {
        *lock(&self.catch_up_failed) = Some(Instant::now());
    }

    pub(crate) fn catch_up_due(&self) -> bool {
        let failed = lock(&self.catch_up_failed);
        failed.is_none_or(|at| at.elapsed() >= RETRY_AFTER_FAILURE)
    }

    /// Sends the documents recorded while the search engine was down; returns how many. On
    /// failure they go back to the record.
    pub(crate) async fn catch_up(&self) -> Result<u64> {
        let mut sent = 0u64;
        let mut conn = self.redis.clone();
        loop {
            let popped: Option<Vec<String>> = redis::cmd("LPOP")
                .arg(self.keys.unindexed())
                .arg(CATCH_UP_CHUNK)
                .query_async(&mut conn)
                .await?;
            let Some(popped) = popped.filter(|p| !p.is_empty()) else {
                *lock(&self.catch_up_failed) = None;
                if sent > 0 {
                    tracing::info!(documents = sent, "search index caught up");
                }
                return Ok(sent);
            };
            let docs: Vec<Doc> = popped
                .iter()
                .filter_map(|j| serde_json::from_str(j).ok())
                .collect();
            match self.send_docs(&docs).await {
                Ok(rejected) => {
                    self.bury(&docs, None, &rejected).await;
                    sent += (docs.len() - rejected.len()) as u64;
                }
                Err(e) => {
                    self.mark_catch_up_failed();
                    conn.rpush(self.keys.unindexed(), &popped).await?;
                    return Err(e);
                }
            }
        }
    }
}
