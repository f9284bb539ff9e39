//! Search on Elasticsearch / OpenSearch for the distributed profile.
//!
//! One index holds every message, behind an alias (`{prefix}-messages`) so a full reindex can
//! build a new index and swap the alias atomically. The mapping is explicit (`dynamic: false`):
//! `app` and `chat` filter, `number` sorts, the timestamps are only stored, and `body` is `text`
//! (standard analyzer, for relevance) with a `body.grams` subfield analysed by a 3-gram
//! tokenizer over every character followed by `lowercase`. A query of three or more characters
//! is run as `match_phrase` on `body.grams` — the query's grams must appear contiguously and in
//! order, which is exactly "contains this substring", case-insensitively — and the standard
//! field only adds to the score. Shorter queries have no gram and are answered by the database.
//! User text only ever goes into `match_phrase` / `match` as a value, never parsed as syntax.
//!
//! Writes carry `version = updated_at` with `version_type = external_gte`: whichever order
//! workers, catch-up and a reindex deliver documents in, the newest body wins. Documents are
//! identified by (application id, chat, number), so every retry and reindex is idempotent.
//!
//! Documents are **routed by chat**: every write, delete and search of a chat's messages carries
//! the routing value `{application id}-{chat}` (see [`routing`]), so a chat's messages live on
//! one shard and a search reads that shard only, however many the index has (`--index-shards`).
//! The mapping requires the routing value, so a write without one fails rather than landing on
//! another shard.
//!
//! The client takes one node or a comma-separated list of them (round-robin). A request that
//! gets no answer from one node (refused, reset, timed out) is sent to the next, up to once per
//! node, so a cluster that lost a node keeps answering through the others. A search that
//! reaches fewer shards than it asked for is an error (503), never a partial answer.

mod index;
pub(crate) mod indexing;
mod reindex;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use elasticsearch::http::response::Response;
use elasticsearch::http::transport::{
    MultiNodeConnectionPool, SingleNodeConnectionPool, TransportBuilder,
};
use elasticsearch::http::Url;
use elasticsearch::indices::IndicesRefreshParts;
use elasticsearch::{Elasticsearch, SearchParts};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::{Message, MessageNumber, Query, SearchSort, RELEVANCE_WINDOW};
use crate::store::{from_micros, SearchSpec};

/// Most primary shards of the message index (the engines' own limit is 1024).
pub const MAX_SHARDS: u32 = 1024;

/// The nodes of `list` (comma-separated URLs).
fn parse_urls(list: &str) -> Result<Vec<Url>> {
    let urls = list
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            Url::parse(u).map_err(|e| {
                Error::BadRequest(format!(
                    "invalid Elasticsearch URL {}: {e}",
                    crate::config::redact_url(u)
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if urls.is_empty() {
        return Err(Error::BadRequest(
            "the Elasticsearch URL list names no node".to_owned(),
        ));
    }
    Ok(urls)
}

/// One message as indexed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Doc {
    /// The application's internal id (1:1 with its token, which stays out of the index).
    pub app: i64,
    /// The chat's number.
    pub chat: u32,
    /// The message's number.
    pub number: u32,
    /// The text.
    pub body: String,
    /// Microseconds since the epoch.
    pub created_at: i64,
    /// Microseconds since the epoch; also the document's version.
    pub updated_at: i64,
}

impl Doc {
    fn id(&self) -> String {
        doc_id(self.app, self.chat, self.number)
    }

    fn routing(&self) -> String {
        routing(self.app, self.chat)
    }
}

/// The id of a message's document.
fn doc_id(app: i64, chat: u32, number: u32) -> String {
    format!("{app}-{chat}-{number}")
}

/// The routing value of a chat's documents: the engine puts every document with the same value
/// on one shard, and a search given the value reads only that shard.
pub fn routing(app: i64, chat: u32) -> String {
    format!("{app}-{chat}")
}

/// The search backend.
#[derive(Clone)]
pub struct ElasticSearch {
    client: Elasticsearch,
    alias: String,
    shards: u32,
    replicas: u32,
    /// How many nodes the client knows: a request without an answer is tried on each once.
    nodes: usize,
    /// Whether the alias is known to point at an index with our mapping. Until it is, every
    /// write first makes sure of it: a bulk to a missing alias would create an index with a
    /// guessed mapping.
    ready: Arc<AtomicBool>,
}

impl std::fmt::Debug for ElasticSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElasticSearch")
            .field("alias", &self.alias)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::unavailable("elasticsearch", e)
}

impl From<elasticsearch::Error> for Error {
    fn from(e: elasticsearch::Error) -> Self {
        unavailable(e)
    }
}

/// Fails with the server's own words unless the answer is a success.
async fn check(response: elasticsearch::http::response::Response, what: &str) -> Result<Value> {
    let status = response.status_code();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        Ok(body)
    } else {
        let reason = body["error"]["reason"]
            .as_str()
            .map_or_else(|| body.to_string(), str::to_owned);
        Err(unavailable(format!("{what}: HTTP {status}: {reason}")))
    }
}

impl ElasticSearch {
    /// Connects to `url` (one node, or a comma-separated list of nodes of one cluster) and
    /// makes sure the alias points at an index (creating one, with its mapping, `shards`
    /// primary shards and `replicas` replicas of each, when missing). `prefix` names the alias
    /// `{prefix}-messages`. The shard and replica counts apply to indices created from now on
    /// (a full reindex creates one).
    pub async fn open(url: &str, prefix: &str, shards: u32, replicas: u32) -> Result<Self> {
        if shards == 0 || shards > MAX_SHARDS {
            return Err(Error::BadRequest(format!(
                "the search index needs 1 to {MAX_SHARDS} shards, not {shards}"
            )));
        }
        let urls = parse_urls(url)?;
        let nodes = urls.len();
        let builder = match <[Url; 1]>::try_from(urls) {
            Ok([one]) => TransportBuilder::new(SingleNodeConnectionPool::new(one)),
            Err(many) => TransportBuilder::new(MultiNodeConnectionPool::round_robin(many, None)),
        };
        // Answers uncompressed: on the local network between the service and its engine,
        // inflating every answer cost the service more CPU than its bytes cost the network
        // (and the engine spared compressing them).
        let transport = builder
            .header(
                elasticsearch::http::headers::ACCEPT_ENCODING,
                elasticsearch::http::headers::HeaderValue::from_static("identity"),
            )
            .enable_meta_header(false)
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::BadRequest(format!("Elasticsearch client: {e}")))?;
        let search = ElasticSearch {
            client: Elasticsearch::new(transport),
            alias: format!("{prefix}-messages"),
            shards,
            replicas,
            nodes,
            ready: Arc::default(),
        };
        // The engine being down must not keep the service from starting: persistence goes on
        // and indexing catches up once it answers.
        if let Err(e) = search.ensure_index().await {
            tracing::warn!(error = %e, "the search engine does not answer yet; indexing will catch up");
        }
        Ok(search)
    }

    /// Sends a request built by `send`, again to the next node when one gives no answer at all
    /// (refused, reset, timed out), up to once per node. An answer, even an error status, is
    /// returned as is.
    async fn send_to_any<F, Fut>(
        &self,
        send: F,
    ) -> std::result::Result<Response, elasticsearch::Error>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<Response, elasticsearch::Error>>,
    {
        let mut tries = 1;
        loop {
            match send().await {
                Err(e) if tries < self.nodes && e.status_code().is_none() => {
                    tracing::debug!(error = %e, "a search node did not answer; trying the next");
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    /// Indexes documents into the alias (or `index`) in one `_bulk`. Older versions than what
    /// is indexed are skipped, not errors; any document not taken is an error (see
    /// [`ElasticSearch::bulk`] for the per-document outcome).
    pub async fn index(&self, docs: &[Doc], index: Option<&str>) -> Result<()> {
        let rejected = self.bulk(docs, index).await?;
        match rejected.first() {
            None => Ok(()),
            Some(first) => Err(unavailable(format!(
                "{} of {} documents were not indexed, e.g. {}",
                rejected.len(),
                docs.len(),
                first.reason
            ))),
        }
    }

    /// Makes everything indexed so far searchable now (tests; a reindex before the swap).
    pub async fn refresh(&self, index: Option<&str>) -> Result<()> {
        let target = index.unwrap_or(&self.alias);
        let response = self
            .send_to_any(|| async move {
                self.client
                    .indices()
                    .refresh(IndicesRefreshParts::Index(&[target]))
                    .send()
                    .await
            })
            .await?;
        check(response, "refreshing the index").await?;
        Ok(())
    }

    /// One chat's messages containing `query` (three or more characters), in the order of
    /// `spec`. `newest`/`oldest` sort on `number` with no total hit tracking, so the engine stops
    /// once the page is full (a range on `number` continues after the previous page);
    /// `relevance` scores the chat's newest [`RELEVANCE_WINDOW`] matches, best first.
    pub async fn search(
        &self,
        app: i64,
        chat: u32,
        query: &Query,
        spec: &SearchSpec,
    ) -> Result<Vec<Message>> {
        self.ensure_index().await.map_err(|e| search_down(&e))?;
        let routing = routing(app, chat);
        let mut filter = vec![
            json!({"term": {"app": app}}),
            json!({"term": {"chat": chat}}),
        ];
        let phrase = json!({"match_phrase": {"body.grams": {"query": query.as_str()}}});
        if let Some(after) = spec.after {
            let bound = if spec.sort == SearchSort::Oldest {
                "gt"
            } else {
                "lt"
            };
            filter.push(json!({"range": {"number": {bound: after}}}));
        }
        let answer = match spec.sort {
            SearchSort::Newest | SearchSort::Oldest => {
                let newest = spec.sort == SearchSort::Newest;
                filter.push(phrase);
                self.run(
                    &routing,
                    json!({
                        "query": {"bool": {"filter": filter}},
                        "sort": [{"number": if newest { "desc" } else { "asc" }}],
                        "from": spec.offset,
                        "size": spec.limit,
                        "track_total_hits": false
                    }),
                )
                .await?
            }
            SearchSort::Relevance => {
                // The window's edge first: the number of its oldest match (the
                // RELEVANCE_WINDOW-th newest), from a walk in number order that scores nothing;
                // then one ranked query over the matches from that number up. A chat with
                // fewer matches has no edge and is ranked whole. (Ranking first and finding the
                // edge only when the window overflowed scored every match of a common word.)
                let mut walk = filter.clone();
                walk.push(phrase.clone());
                let edge = self
                    .run(
                        &routing,
                        json!({
                            "query": {"bool": {"filter": walk}},
                            "sort": [{"number": "desc"}],
                            "from": RELEVANCE_WINDOW - 1,
                            "size": 1,
                            "_source": false,
                            "track_total_hits": false
                        }),
                    )
                    .await?;
                if let Some(oldest) = edge.hits.hits.first().and_then(|h| h.sort.first()) {
                    filter.push(json!({"range": {"number": {"gte": oldest}}}));
                }
                self.run(
                    &routing,
                    json!({
                        "query": {"bool": {
                            "filter": filter,
                            "must": [phrase],
                            "should": [{"match": {"body": {"query": query.as_str()}}}]
                        }},
                        "sort": [{"_score": "desc"}, {"number": "desc"}],
                        "from": spec.offset,
                        "size": spec.limit,
                        "track_total_hits": false
                    }),
                )
                .await?
            }
        };
        answer
            .hits
            .hits
            .into_iter()
            .map(|h| {
                let doc = h
                    .source
                    .ok_or_else(|| Error::Internal("a search hit without its document".into()))?;
                Ok(Message {
                    number: MessageNumber::new(doc.number)?,
                    body: doc.body,
                    created_at: from_micros(doc.created_at),
                    updated_at: from_micros(doc.updated_at),
                })
            })
            .collect()
    }

    /// Sends one search request to the alias, routed to the shard of `routing` only.
    async fn send_search(&self, routing: &str, body: &Value) -> Result<Response> {
        let alias = self.alias.as_str();
        self.send_to_any(|| async move {
            self.client
                .search(SearchParts::Index(&[alias]))
                .routing(&[routing])
                .body(body.clone())
                .request_timeout(Duration::from_secs(5))
                .send()
                .await
        })
        .await
        .map_err(|e| search_down(&e))
    }

    /// Runs one search request on the alias, on the shard of `routing` only. An answer from
    /// fewer shards than asked is an error, not a partial result.
    async fn run(&self, routing: &str, body: Value) -> Result<SearchAnswer> {
        let response = self.send_search(routing, &body).await?;
        if !response.status_code().is_success() {
            return Err(match check(response, "searching").await {
                Err(e) => search_down(&e),
                Ok(_) => search_down(&"an unexpected answer"),
            });
        }
        // Read into typed structs: only the fields used are kept, no tree is built.
        let bytes = response.bytes().await.map_err(|e| search_down(&e))?;
        let answer: SearchAnswer = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Internal(format!("unreadable search answer: {e}")))?;
        if answer.shards.successful != answer.shards.total {
            return Err(search_down(&format!(
                "{} of {} shards answered",
                answer.shards.successful, answer.shards.total
            )));
        }
        Ok(answer)
    }

    /// Answers when the cluster does.
    pub async fn ping(&self) -> Result<()> {
        let response = self.send_to_any(|| self.client.ping().send()).await?;
        if response.status_code().is_success() {
            Ok(())
        } else {
            Err(unavailable(format!(
                "ping: HTTP {}",
                response.status_code()
            )))
        }
    }
}

/// The parts of a search answer that are read.
#[derive(Debug, Deserialize)]
struct SearchAnswer {
    #[serde(rename = "_shards")]
    shards: Shards,
    hits: Hits,
}

/// How many shards a search asked and how many answered.
#[derive(Debug, Deserialize)]
struct Shards {
    total: u64,
    successful: u64,
}

#[derive(Debug, Deserialize)]
struct Hits {
    hits: Vec<Hit>,
}

/// One hit: its document (absent when `_source: false`) and its sort values.
#[derive(Debug, Deserialize)]
struct Hit {
    #[serde(rename = "_source")]
    source: Option<Doc>,
    #[serde(default)]
    sort: Vec<Value>,
}

/// The error a search answers while the engine is down: 503, naming the backend.
fn search_down(e: &dyn std::fmt::Display) -> Error {
    Error::unavailable(
        "elasticsearch",
        format!("search is unavailable until the search engine answers again ({e})"),
    )
}

#[cfg(feature = "test-support")]
impl ElasticSearch {
    /// The alias searches and writes go through.
    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// The raw answer of a search of one chat for `query`, for tests that look at what the
    /// engine did (`_shards`).
    pub async fn raw_search(&self, app: i64, chat: u32, query: &str) -> Result<Value> {
        let body = json!({"query": {"bool": {"filter": [
            {"term": {"app": app}}, {"term": {"chat": chat}},
            {"match_phrase": {"body.grams": {"query": query}}}
        ]}}});
        let response = self.send_search(&routing(app, chat), &body).await?;
        check(response, "searching").await
    }
}

#[cfg(test)]
mod tests;
