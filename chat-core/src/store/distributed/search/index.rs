//! The search index's lifecycle: the indices behind the alias, the index definition (mapping,
//! analysis, sort, shards and replicas, required routing), creating one, swapping the alias to
//! a new one after a full reindex, and deleting one.

use std::sync::atomic::Ordering;

use elasticsearch::http::StatusCode;
use elasticsearch::indices::{
    IndicesCreateParts, IndicesDeleteParts, IndicesGetAliasParts, IndicesPutSettingsParts,
};
use serde_json::{json, Value};

use super::{check, ElasticSearch};
use crate::error::Result;

impl ElasticSearch {
    /// The indices the alias points at now.
    pub async fn indices(&self) -> Result<Vec<String>> {
        let alias = self.alias.as_str();
        let response = self
            .send_to_any(|| async move {
                self.client
                    .indices()
                    .get_alias(IndicesGetAliasParts::Name(&[alias]))
                    .send()
                    .await
            })
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
    pub(super) async fn ensure_index(&self) -> Result<()> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        if !self.indices().await?.is_empty() {
            self.ready.store(true, Ordering::Release);
            return Ok(());
        }
        let index = self.new_index_name();
        let response = self.create_index(&index, true).await?;
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

    /// Asks any node to create index `name` with [`Self::definition`] (with the alias when
    /// `aliased`); the engine's answer, unchecked.
    async fn create_index(
        &self,
        name: &str,
        aliased: bool,
    ) -> std::result::Result<elasticsearch::http::response::Response, elasticsearch::Error> {
        self.send_to_any(|| async move {
            self.client
                .indices()
                .create(IndicesCreateParts::Index(name))
                .body(self.definition(aliased))
                .send()
                .await
        })
        .await
    }

    pub(super) fn new_index_name(&self) -> String {
        format!(
            "{}-{}",
            self.alias,
            chrono::Utc::now().format("%Y%m%d%H%M%S%6f")
        )
    }

    /// Settings and mapping of a message index; with its alias when `aliased`.
    pub(super) fn definition(&self, aliased: bool) -> Value {
        let mut definition = json!({
            "settings": {
                "number_of_shards": self.shards,
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
                "_routing": {"required": true},
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

    /// Creates a new, unaliased index for a full reindex; returns its name.
    pub(crate) async fn create_unaliased(&self) -> Result<String> {
        let index = self.new_index_name();
        let response = self.create_index(&index, false).await?;
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
        let actions = &actions;
        let response = self
            .send_to_any(|| async move {
                self.client
                    .indices()
                    .update_aliases()
                    .body(json!({ "actions": actions }))
                    .send()
                    .await
            })
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

    /// Sets how often the alias's index makes new documents searchable (`refresh_interval`;
    /// `None`: back to the engine's default, one second). A restore slows it down while it
    /// loads: each refresh writes the documents indexed since the last one as a new segment,
    /// and small segments are merged again and again.
    pub(crate) async fn set_refresh_interval(&self, interval: Option<&str>) -> Result<()> {
        self.ensure_index().await?;
        let body = json!({"index": {"refresh_interval": interval}});
        let (body, alias) = (&body, self.alias.as_str());
        let response = self
            .send_to_any(|| async move {
                self.client
                    .indices()
                    .put_settings(IndicesPutSettingsParts::Index(&[alias]))
                    .body(body.clone())
                    .send()
                    .await
            })
            .await?;
        check(response, "setting the refresh interval").await?;
        Ok(())
    }

    /// Deletes an index (a failed reindex's, or one the alias left).
    pub async fn delete_index(&self, index: &str) -> Result<()> {
        let response = self
            .send_to_any(|| async move {
                self.client
                    .indices()
                    .delete(IndicesDeleteParts::Index(&[index]))
                    .send()
                    .await
            })
            .await?;
        if response.status_code() != StatusCode::NOT_FOUND {
            check(response, "deleting an index").await?;
        }
        Ok(())
    }
}
