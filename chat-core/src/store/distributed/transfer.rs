//! Export, restore and backup of the distributed profile.
//!
//! **Export.** Writes are acknowledged once queued, so the export first waits until the queue
//! holds no entry older than the moment the export started (every write acknowledged before it
//! is then persisted, or dead-lettered), then reads MySQL in one consistent-snapshot
//! transaction. Writes that arrive during the export go on as usual: those the workers commit
//! before the snapshot opens are in it, later ones are not (the next export has them). The
//! highest-number marks are the greater of MySQL's and Redis's counters, read as each
//! application is exported, so they may count numbers handed out during the export, never fewer
//! than those in the snapshot: a restored deployment can skip numbers, never reuse one.
//!
//! **Restore.** One MySQL transaction (multi-row inserts for messages); the counters and the
//! tombstones of numbers the stream lacks (deleted before the export) are set in Redis, and the
//! documents are bulk-indexed, while it runs (the index refreshing every
//! [`RESTORE_REFRESH`] meanwhile instead of every second). Both are keyed by the new application ids, which
//! nothing can reach before the commit; the commit happens only once the stream ended well,
//! indexing included, then the index is refreshed. A refused stream rolls the transaction
//! back: the ids it took are never used again, so what went to Redis and the index for them
//! stays unreachable.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::mysql::MysqlStore;
use super::redis::transfer::{counters, missing, set_marks, Marks};
use super::search::{Doc, ElasticSearch};
use super::DistributedBackend;
use crate::api::Progress;
use crate::error::{Error, Result};
use crate::model::{ChatNumber, MessageNumber, Token};
use crate::store::{from_micros, now_micros};
use crate::transfer::{
    target_not_empty, token_taken, ApplicationRecord, ChatRecord, ExportSender, Header,
    MessageRecord, Record, RecordStream, RestoreOptions, RestoreSummary, EXPORT_CHUNK, FORMAT,
    VERSION,
};

/// How often the export looks at the queue while waiting for it to drain.
const DRAIN_POLL: Duration = Duration::from_millis(50);

/// Messages per multi-row insert of a restore.
const RESTORE_ROWS: usize = 1000;

/// Documents per bulk request of a restore, and bulk requests in flight.
const INDEX_ROWS: usize = 5000;
const INDEX_IN_FLIGHT: usize = 3;

/// The index's refresh interval while a restore loads it (instead of every second; set back
/// when the restore ends, whichever way). Should a restore die before that, the index still
/// refreshes, only this much later.
const RESTORE_REFRESH: &str = "30s";

/// Counters and tombstones set in Redis per pipeline.
const MARKS_CHUNK: usize = 500;

impl DistributedBackend {
    /// Waits until no queue entry is older than `started`: the entry times are Redis's, the
    /// wait is measured here, so only durations are compared (no clock needs to agree). An
    /// entry queued before `started` is at least as old as the time elapsed when the status
    /// was asked for, so it is never taken for a later one.
    async fn wait_drained(&self, started: Instant, timeout: Duration) -> Result<()> {
        loop {
            let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let status = self.queue_status().await?;
            let drained = status.depth == 0
                || status
                    .oldest_age_ms
                    .is_some_and(|age| age.saturating_add(5) < elapsed);
            if drained {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                return Err(Error::unavailable(
                    "redis",
                    format!(
                        "the queue still holds writes acknowledged before the export started \
                         after {} s ({} entries): are the workers running? (`chatctl queue \
                         status` shows the queue)",
                        timeout.as_secs(),
                        status.depth
                    ),
                ));
            }
            tokio::time::sleep(DRAIN_POLL).await;
        }
    }

    pub(super) async fn start_export(
        &self,
        scope: Option<&Token>,
        drain_timeout: Duration,
        tx: ExportSender,
    ) -> Result<()> {
        let started = Instant::now();
        let exported_at = from_micros(now_micros());
        let scope_id = match scope {
            Some(token) => Some(self.live_app(token).await?),
            None => None,
        };
        self.wait_drained(started, drain_timeout).await?;
        let conn = self.store.begin_snapshot().await?;
        let job = Export {
            redis: self.conn(),
            keys: self.keys.clone(),
            scope: scope.cloned(),
            scope_id,
            exported_at,
        };
        tokio::spawn(job.run(conn, tx));
        Ok(())
    }

    pub(super) async fn restore_stream(
        &self,
        records: RecordStream,
        options: &RestoreOptions,
        progress: &dyn Progress,
    ) -> Result<RestoreSummary> {
        let mut tx = self.store.begin_restore().await?;
        if !options.merge && MysqlStore::any_application(&mut tx).await? {
            return Err(target_not_empty());
        }
        if let Some(search) = &self.search {
            search.set_refresh_interval(Some(RESTORE_REFRESH)).await?;
        }
        let result = self.restore_in(tx, records, progress).await;
        if let Some(search) = &self.search {
            if let Err(e) = search.set_refresh_interval(None).await {
                if result.is_ok() {
                    return Err(e);
                }
                tracing::warn!(error = %e, "could not set the index's refresh interval back");
            }
        }
        result
    }

    async fn restore_in(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::MySql>,
        mut records: RecordStream,
        progress: &dyn Progress,
    ) -> Result<RestoreSummary> {
        let mut indexer = self.search.clone().map(Indexing::start);
        let mut r = Restore {
            redis: self.conn(),
            summary: RestoreSummary::default(),
            app: None,
            chat: None,
            marks: Vec::new(),
            rows: Vec::with_capacity(RESTORE_ROWS),
            docs: Vec::with_capacity(INDEX_ROWS),
        };
        let mut line = 0u64;
        let mut ended = false;
        let result: Result<()> = async {
            while let Some(record) = records.next().await {
                line += 1;
                match record? {
                    Record::Header(h) => progress.start("messages", Some(h.messages)),
                    Record::Application(a) => {
                        r.close_app(&self.keys).await?;
                        if MysqlStore::token_taken(&mut tx, a.token.as_str()).await? {
                            return Err(token_taken(line, &a.token));
                        }
                        let id = MysqlStore::restore_application(&mut tx, &a).await?;
                        r.app = Some((id, a.last_chat_number, Vec::new()));
                        r.summary.applications += 1;
                    }
                    Record::Chat(c) => {
                        r.close_chat();
                        let Some((app, _, chats)) = r.app.as_mut() else {
                            return Err(Error::Internal("a chat without its application".into()));
                        };
                        let id = MysqlStore::restore_chat(&mut tx, *app, &c).await?;
                        chats.push(c.number.get());
                        r.chat = Some((id, c.number.get(), c.last_message_number, Vec::new()));
                        r.summary.chats += 1;
                    }
                    Record::Message(m) => {
                        let (Some((app, ..)), Some((chat_id, _, _, present))) =
                            (r.app.as_ref(), r.chat.as_mut())
                        else {
                            return Err(Error::Internal("a message without its chat".into()));
                        };
                        present.push(m.number.get());
                        if indexer.is_some() {
                            r.docs.push(Doc {
                                app: *app,
                                chat: m.chat.get(),
                                number: m.number.get(),
                                body: m.body.clone(),
                                created_at: m.created_at.timestamp_micros(),
                                updated_at: m.updated_at.timestamp_micros(),
                            });
                        }
                        r.rows.push((*chat_id, m));
                        r.summary.messages += 1;
                        if r.rows.len() >= RESTORE_ROWS {
                            MysqlStore::restore_messages(&mut tx, &r.rows).await?;
                            progress.advance(r.rows.len() as u64);
                            r.rows.clear();
                        }
                        if r.docs.len() >= INDEX_ROWS {
                            if let Some(i) = indexer.as_mut() {
                                i.send(std::mem::take(&mut r.docs)).await?;
                            }
                        }
                    }
                    Record::End(_) => ended = true,
                }
                if r.marks.len() >= MARKS_CHUNK {
                    set_marks(&r.redis, &self.keys, &r.marks).await?;
                    r.marks.clear();
                }
            }
            if !ended {
                return Err(Error::invalid(
                    "stream",
                    "the stream ended without its end line",
                ));
            }
            r.close_app(&self.keys).await?;
            MysqlStore::restore_messages(&mut tx, &r.rows).await?;
            progress.advance(r.rows.len() as u64);
            set_marks(&r.redis, &self.keys, &r.marks).await?;
            progress.finish();
            if let Some(mut i) = indexer.take() {
                progress.start("indexing", None);
                i.send(std::mem::take(&mut r.docs)).await?;
                i.finish().await?;
                progress.finish();
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            if let Some(i) = indexer.take() {
                i.abort();
            }
            // Dropping the transaction rolls it back.
            return Err(e);
        }
        tx.commit().await?;
        if let Some(search) = &self.search {
            search.refresh(None).await?;
        }
        Ok(r.summary)
    }
}

/// The state of a restore between two records.
struct Restore {
    redis: super::redis::conn::Conn,
    summary: RestoreSummary,
    /// The open application: id, highest chat number, the chat numbers seen.
    app: Option<(i64, u32, Vec<u32>)>,
    /// The open chat: id, number, highest message number, the message numbers seen.
    chat: Option<(i64, u32, u32, Vec<u32>)>,
    marks: Vec<Marks>,
    rows: Vec<(i64, MessageRecord)>,
    docs: Vec<Doc>,
}

impl Restore {
    fn close_chat(&mut self) {
        if let (Some((app, ..)), Some((_, number, last, present))) =
            (self.app.as_ref(), self.chat.take())
        {
            self.marks.push(Marks {
                app: *app,
                chat: Some(number),
                last,
                deleted: missing(last, &present),
            });
        }
    }

    async fn close_app(&mut self, _keys: &super::redis::Keys) -> Result<()> {
        self.close_chat();
        if let Some((app, last, chats)) = self.app.take() {
            self.marks.push(Marks {
                app,
                chat: None,
                last,
                deleted: missing(last, &chats),
            });
        }
        Ok(())
    }
}

/// Bulk indexing beside the restore: chunks of documents, a few requests in flight.
struct Indexing {
    tx: mpsc::Sender<Vec<Doc>>,
    task: JoinHandle<Result<()>>,
}

impl Indexing {
    fn start(search: ElasticSearch) -> Self {
        let (tx, rx) = mpsc::channel::<Vec<Doc>>(INDEX_IN_FLIGHT * 2);
        let task = tokio::spawn(async move {
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|docs| (docs, rx))
            });
            stream
                .map(|docs| {
                    let search = search.clone();
                    async move {
                        let rejected = search.bulk(&docs, None).await?;
                        match rejected.first() {
                            None => Ok(()),
                            Some(r) => Err(Error::unavailable(
                                "elasticsearch",
                                format!(
                                    "the search engine refused a restored message: {}",
                                    r.reason
                                ),
                            )),
                        }
                    }
                })
                .buffer_unordered(INDEX_IN_FLIGHT)
                .try_collect::<Vec<()>>()
                .await
                .map(drop)
        });
        Indexing { tx, task }
    }

    async fn send(&mut self, docs: Vec<Doc>) -> Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        if self.tx.send(docs).await.is_err() {
            // The task stopped early: its result says why.
            let task = std::mem::replace(&mut self.task, tokio::spawn(async { Ok(()) }));
            return Err(join(task).await.err().unwrap_or_else(|| {
                Error::Internal("indexing stopped before the restore ended".into())
            }));
        }
        Ok(())
    }

    async fn finish(self) -> Result<()> {
        drop(self.tx);
        join(self.task).await
    }

    fn abort(self) {
        self.task.abort();
    }
}

async fn join(task: JoinHandle<Result<()>>) -> Result<()> {
    task.await
        .map_err(|e| Error::Internal(format!("indexing failed: {e}")))?
}

/// One export's reading task.
struct Export {
    redis: super::redis::conn::Conn,
    keys: super::redis::Keys,
    scope: Option<Token>,
    scope_id: Option<i64>,
    exported_at: chrono::DateTime<chrono::Utc>,
}

impl Export {
    async fn run(mut self, mut conn: sqlx::pool::PoolConnection<sqlx::MySql>, tx: ExportSender) {
        let result = self.read(&mut conn, &tx).await;
        let _ = MysqlStore::end_snapshot(&mut conn).await;
        if let Err(e) = result {
            let _ = tx.send(Err(e)).await;
        }
    }

    async fn read(&mut self, conn: &mut sqlx::MySqlConnection, tx: &ExportSender) -> Result<()> {
        let totals = MysqlStore::snapshot_totals(conn, self.scope_id).await?;
        let mut chunk = vec![Record::Header(Header {
            format: FORMAT.to_owned(),
            version: VERSION,
            profile: "distributed".to_owned(),
            exported_at: self.exported_at,
            scope: self.scope.clone(),
            applications: totals.applications,
            chats: totals.chats,
            messages: totals.messages,
        })];
        for app in MysqlStore::snapshot_applications(conn, self.scope_id).await? {
            let token = Token::parse(&app.token)?;
            let chats = MysqlStore::snapshot_chats(conn, app.id).await?;
            let numbers: Vec<u32> = chats.iter().map(|c| c.number).collect();
            let (app_counter, chat_counters) =
                counters(&self.redis, &self.keys, app.id, &numbers).await?;
            chunk.push(Record::Application(ApplicationRecord {
                token: token.clone(),
                name: app.name,
                chats_count: app.chats,
                last_chat_number: highest(app.last_chat_number, app_counter),
                created_at: app.created_at,
                updated_at: app.updated_at,
            }));
            for (chat, counter) in chats.into_iter().zip(chat_counters) {
                let number = ChatNumber::new(chat.number)?;
                chunk.push(Record::Chat(ChatRecord {
                    application: token.clone(),
                    number,
                    messages_count: chat.messages,
                    last_message_number: highest(chat.last_message_number, counter),
                    created_at: chat.created_at,
                    updated_at: chat.updated_at,
                }));
                let mut messages = MysqlStore::snapshot_messages(conn, chat.id);
                while let Some(m) = messages.try_next().await? {
                    chunk.push(Record::Message(MessageRecord {
                        application: token.clone(),
                        chat: number,
                        number: MessageNumber::new(m.number)?,
                        body: m.body,
                        created_at: m.created_at,
                        updated_at: m.updated_at,
                    }));
                    if chunk.len() >= EXPORT_CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(EXPORT_CHUNK));
                        if tx.send(Ok(full)).await.is_err() {
                            return Ok(());
                        }
                    }
                }
            }
        }
        let _ = tx.send(Ok(chunk)).await;
        Ok(())
    }
}

/// The higher of MySQL's mark and Redis's counter (counters never move back, MySQL's column
/// survives a loss of Redis).
fn highest(mysql: u32, redis: Option<u64>) -> u32 {
    let redis = redis.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
    mysql.max(redis)
}

/// The answer of `backup` on this profile.
pub(super) fn no_backup() -> Error {
    Error::BadRequest(
        "backup copies the embedded profile's SQLite file; the distributed profile's data lives \
         in MySQL/MariaDB and Redis, which their own tools back up (mysqldump \
         --single-transaction or mariadb-backup for the database; Redis persistence, AOF or RDB \
         snapshots via BGSAVE, for the counters and queue). For a portable copy of everything, \
         use `chatctl export -o FILE` (restore it with `chatctl restore FILE`)"
            .to_owned(),
    )
}
