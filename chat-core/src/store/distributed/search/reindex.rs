//! Rebuilding the search index from MySQL.
//!
//! A whole reindex builds a fresh index beside the live one and swaps the alias in one atomic
//! step, so searches always have an index with results. While it runs, its name is kept in
//! Redis and workers write every batch to it as well as to the alias; a worker reads that name
//! after its batch committed, so a batch either precedes the scan (which then reads its rows)
//! or is written to the new index directly. Documents carry their `updated_at` as version, so
//! the scan and the workers may deliver in any order and the newest body stays.
//!
//! A reindex of one application re-sends its messages into the live index in place: the same
//! document ids, versions that keep the newest — no moment without results either.

use std::time::{Duration, Instant};

use super::ElasticSearch;
use crate::api::{Progress, ReindexSummary};
use crate::error::Result;
use crate::model::Token;
use crate::store::distributed::DistributedBackend;

/// Messages read from MySQL and sent in one `_bulk`.
const PAGE: u32 = 5000;

impl DistributedBackend {
    pub(in crate::store::distributed) async fn rebuild_index(
        &self,
        search: &ElasticSearch,
        scope: Option<&Token>,
        apps: &[(i64, Token)],
        progress: &dyn Progress,
    ) -> Result<ReindexSummary> {
        let started = Instant::now();
        // The counts first, for the progress bar and the summary.
        let mut summary = self
            .store
            .reindex_summary(apps, &crate::api::NoProgress)
            .await?;
        let app = match scope {
            Some(_) => apps.first().map(|(id, _)| *id),
            None => None,
        };
        let target = match scope {
            Some(_) => None,
            None => Some(search.create_unaliased().await?),
        };
        let result = self
            .fill(search, app, target.as_deref(), summary.messages, progress)
            .await;
        let swapped = match (&result, &target) {
            (Ok(_), Some(target)) => match search.refresh(Some(target)).await {
                Ok(()) => search.swap_to(target).await,
                Err(e) => Err(e),
            },
            _ => Ok(()),
        };
        // Only now may workers stop writing to the new index: until the swap, the alias still
        // names the old one.
        if let Some(target) = &target {
            let mut conn = self.conn();
            let _: std::result::Result<(), _> = redis::cmd("DEL")
                .arg(self.keys.reindex_target())
                .query_async(&mut conn)
                .await;
            if result.is_err() || swapped.is_err() {
                tracing::warn!(index = target, "reindex failed; its index is dropped");
                let _ = search.delete_index(target).await;
            }
        }
        let sent = result?;
        swapped?;
        if let Some(target) = &target {
            tracing::info!(
                index = target,
                documents = sent,
                "search index rebuilt and swapped in"
            );
        }
        summary.messages = sent;
        summary.duration_ms = started.elapsed().as_millis() as u64;
        Ok(summary)
    }

    /// Sends every message (of `app`, or all) to `target` (or the alias); returns how many.
    async fn fill(
        &self,
        search: &ElasticSearch,
        app: Option<i64>,
        target: Option<&str>,
        total: u64,
        progress: &dyn Progress,
    ) -> Result<u64> {
        if let Some(target) = target {
            // Workers write to the new index too from now on (the key outlives a crashed
            // reindex by at most a day; the index it names is then simply unused).
            let mut conn = self.conn();
            redis::cmd("SET")
                .arg(self.keys.reindex_target())
                .arg(target)
                .arg("EX")
                .arg(Duration::from_secs(24 * 3600).as_secs())
                .query_async::<()>(&mut conn)
                .await?;
        }
        progress.start("messages", Some(total));
        let mut sent = 0u64;
        let mut buffer = Vec::with_capacity(PAGE as usize);
        for chat in self.store.chats_to_index(app).await? {
            let mut after = 0u32;
            loop {
                let docs = self.store.index_page(chat, after, PAGE).await?;
                let Some(last) = docs.last() else { break };
                after = last.number;
                let full = docs.len() == PAGE as usize;
                buffer.extend(docs);
                if buffer.len() >= PAGE as usize {
                    search.index(&buffer, target).await?;
                    sent += buffer.len() as u64;
                    progress.advance(buffer.len() as u64);
                    buffer.clear();
                }
                if !full {
                    break;
                }
            }
        }
        search.index(&buffer, target).await?;
        sent += buffer.len() as u64;
        progress.advance(buffer.len() as u64);
        progress.finish();
        Ok(sent)
    }
}
