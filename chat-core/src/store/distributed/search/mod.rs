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

pub(crate) mod indexing;
mod reindex;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{StatusCode, Url};
use elasticsearch::indices::{
    IndicesCreateParts, IndicesDeleteParts, IndicesGetAliasParts, IndicesRefreshParts,
};
use elasticsearch::{Elasticsearch, SearchParts};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::{Message, MessageNumber, Query, SearchSort, RELEVANCE_WINDOW};
use crate::store::{from_micros, SearchSpec};

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
        format!("{}-{}-{}", self.app, self.chat, self.number)
    }
}

/// The search backend.
#[derive(Clone)]
pub struct ElasticSearch {
    client: Elasticsearch,
    alias: String,
    replicas: u32,
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
    /// Connects to `url` and makes sure the alias points at an index (creating one, with its
    /// mapping, when missing). `prefix` names the alias `{prefix}-messages`.
    pub async fn open(url: &str, prefix: &str, replicas: u32) -> Result<Self> {
        let parsed = Url::parse(url).map_err(|e| {
            Error::BadRequest(format!(
                "invalid Elasticsearch URL {}: {e}",
                crate::config::redact_url(url)
            ))
        })?;
        let transport = TransportBuilder::new(SingleNodeConnectionPool::new(parsed))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::BadRequest(format!("Elasticsearch client: {e}")))?;
        let search = ElasticSearch {
            client: Elasticsearch::new(transport),
            alias: format!("{prefix}-messages"),
            replicas,
            ready: Arc::default(),
        };
        // The engine being down must not keep the service from starting: persistence goes on
        // and indexing catches up once it answers.
        if let Err(e) = search.ensure_index().await {
            tracing::warn!(error = %e, "the search engine does not answer yet; indexing will catch up");
        }
        Ok(search)
    }

    /// The alias searches and writes go through.
    #[cfg(feature = "test-support")]
    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// The indices the alias points at now.
    pub async fn indices(&self) -> Result<Vec<String>> {
        let response = self
            .client
            .indices()
            .get_alias(IndicesGetAliasParts::Name(&[&self.alias]))
            .send()
            .await?;
        if response.status_code() == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let body = check(response, "reading the alias").await?;
        Ok(body
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default())
    }

    /// Creates an index with the mapping and the alias when the alias points nowhere.
    async fn ensure_index(&self) -> Result<()> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        if !self.indices().await?.is_empty() {
            self.ready.store(true, Ordering::Release);
            return Ok(());
        }
        let index = self.new_index_name();
        let response = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(&index))
            .body(self.definition(true))
            .send()
            .await?;
        let status = response.status_code();
        if status == StatusCode::BAD_REQUEST {
            // Another process created it at the same moment: fine if the alias exists now.
            if !self.indices().await?.is_empty() {
                self.ready.store(true, Ordering::Release);
                return Ok(());
            }
        }
        check(response, "creating the search index").await?;
        self.ready.store(true, Ordering::Release);
        tracing::info!(index, alias = self.alias, "created the search index");
        Ok(())
    }

    fn new_index_name(&self) -> String {
        format!(
            "{}-{}",
            self.alias,
            chrono::Utc::now().format("%Y%m%d%H%M%S%6f")
        )
    }

    /// Settings and mapping of a message index; with its alias when `aliased`.
    fn definition(&self, aliased: bool) -> Value {
        let mut definition = json!({
            "settings": {
                "number_of_shards": 1,
                "number_of_replicas": self.replicas,
                // Segments keep their documents by number, highest first: a `newest` search
                // (sorted the same way, no total hit count) stops once its page is full
                // instead of collecting and sorting every match of the chat.
                "sort.field": ["number"],
                "sort.order": ["desc"],
                "analysis": {
                    "tokenizer": {
                        // Every character counts: grams span spaces and punctuation, so any
                        // substring of three or more characters is a run of grams.
                        "chat_trigram": {"type": "ngram", "min_gram": 3, "max_gram": 3, "token_chars": []}
                    },
                    "analyzer": {
                        "chat_substring": {"type": "custom", "tokenizer": "chat_trigram", "filter": ["lowercase"]}
                    }
                }
            },
            "mappings": {
                "dynamic": false,
                "properties": {
                    "app": {"type": "long"},
                    "chat": {"type": "integer"},
                    "number": {"type": "integer"},
                    "created_at": {"type": "long", "index": false},
                    "updated_at": {"type": "long", "index": false},
                    "body": {
                        "type": "text",
                        "analyzer": "standard",
                        "fields": {
                            "grams": {"type": "text", "analyzer": "chat_substring", "search_analyzer": "chat_substring"}
                        }
                    }
                }
            }
        });
        if aliased {
            definition["aliases"] = json!({ self.alias.clone(): {} });
        }
        definition
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
            .client
            .indices()
            .refresh(IndicesRefreshParts::Index(&[target]))
            .send()
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
                self.run(json!({
                    "query": {"bool": {"filter": filter}},
                    "sort": [{"number": if newest { "desc" } else { "asc" }}],
                    "from": spec.offset,
                    "size": spec.limit,
                    "track_total_hits": false
                }))
                .await?
            }
            SearchSort::Relevance => {
                let ranked = |filter: &[Value]| {
                    json!({
                        "query": {"bool": {
                            "filter": filter,
                            "must": [phrase.clone()],
                            "should": [{"match": {"body": {"query": query.as_str()}}}]
                        }},
                        "sort": [{"_score": "desc"}, {"number": "desc"}],
                        "from": spec.offset,
                        "size": spec.limit,
                        "track_total_hits": RELEVANCE_WINDOW
                    })
                };
                let answer = self.run(ranked(&filter)).await?;
                if answer["hits"]["total"]["relation"] == "eq" {
                    answer
                } else {
                    // More matches than the window: rank only the newest ones, from the
                    // window's oldest number up.
                    let mut window = filter.clone();
                    window.push(phrase.clone());
                    let edge = self
                        .run(json!({
                            "query": {"bool": {"filter": window}},
                            "sort": [{"number": "desc"}],
                            "from": RELEVANCE_WINDOW - 1,
                            "size": 1,
                            "_source": false,
                            "track_total_hits": false
                        }))
                        .await?;
                    match edge["hits"]["hits"][0]["sort"][0].as_u64() {
                        Some(oldest) => {
                            filter.push(json!({"range": {"number": {"gte": oldest}}}));
                            self.run(ranked(&filter)).await?
                        }
                        None => answer,
                    }
                }
            }
        };
        let hits = answer["hits"]["hits"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        hits.into_iter()
            .map(|h| {
                let doc: Doc = serde_json::from_value(h["_source"].clone())
                    .map_err(|e| Error::Internal(format!("unreadable search hit: {e}")))?;
                Ok(Message {
                    number: MessageNumber::new(doc.number)?,
                    body: doc.body,
                    created_at: from_micros(doc.created_at),
                    updated_at: from_micros(doc.updated_at),
                })
            })
            .collect()
    }

    /// Runs one search request on the alias.
    async fn run(&self, body: Value) -> Result<Value> {
        let response = self
            .client
            .search(SearchParts::Index(&[&self.alias]))
            .body(body)
            .request_timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| search_down(&e))?;
        check(response, "searching")
            .await
            .map_err(|e| search_down(&e))
    }

    /// Answers when the cluster does.
    pub async fn ping(&self) -> Result<()> {
        let response = self.client.ping().send().await?;
        if response.status_code().is_success() {
            Ok(())
        } else {
            Err(unavailable(format!(
                "ping: HTTP {}",
                response.status_code()
            )))
        }
    }

    /// Creates a new, unaliased index for a full reindex; returns its name.
    pub(crate) async fn create_unaliased(&self) -> Result<String> {
        let index = self.new_index_name();
        let response = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(&index))
            .body(self.definition(false))
            .send()
            .await?;
        check(response, "creating the new index").await?;
        Ok(index)
    }

    /// Points the alias at `index` alone, in one atomic step, then deletes the old indices.
    pub(crate) async fn swap_to(&self, index: &str) -> Result<()> {
        let old = self.indices().await?;
        let mut actions = vec![json!({"add": {"index": index, "alias": self.alias}})];
        for o in old.iter().filter(|o| o.as_str() != index) {
            actions.push(json!({"remove": {"index": o, "alias": self.alias}}));
        }
        let response = self
            .client
            .indices()
            .update_aliases()
            .body(json!({ "actions": actions }))
            .send()
            .await?;
        check(response, "swapping the alias").await?;
        // The swap is done; an old index that cannot be deleted now only takes space.
        for o in old.iter().filter(|o| o.as_str() != index) {
            if let Err(e) = self.delete_index(o).await {
                tracing::warn!(index = o, error = %e, "could not delete the replaced index");
            }
        }
        Ok(())
    }

    /// Deletes an index (a failed reindex's, or one the alias left).
    pub async fn delete_index(&self, index: &str) -> Result<()> {
        let response = self
            .client
            .indices()
            .delete(IndicesDeleteParts::Index(&[index]))
            .send()
            .await?;
        if response.status_code() != StatusCode::NOT_FOUND {
            check(response, "deleting an index").await?;
        }
        Ok(())
    }
}

/// The error a search answers while the engine is down: 503, naming the backend.
fn search_down(e: &dyn std::fmt::Display) -> Error {
    Error::unavailable(
        "elasticsearch",
        format!("search is unavailable until the search engine answers again ({e})"),
    )
}
