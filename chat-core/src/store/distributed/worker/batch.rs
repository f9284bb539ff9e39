//! One batch of the worker: which of its writes a tombstone covers, the chats' creation times
//! its messages need, the MySQL transaction, the search documents, and finishing the entries
//! (acknowledge, delete, drop their pending records).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::*;

impl Worker {
    /// The positions of the creates and edits that a delete's tombstone covers: their
    /// application, chat or message is deleted (one round trip for the batch).
    pub(super) async fn covered(&self, jobs: &[(String, Job)]) -> Result<BTreeSet<usize>> {
        let mut apps: BTreeSet<i64> = BTreeSet::new();
        let mut chats: BTreeMap<i64, BTreeSet<u32>> = BTreeMap::new();
        let mut messages: BTreeMap<(i64, u32), BTreeSet<u32>> = BTreeMap::new();
        for (_, job) in jobs {
            match job {
                Job::Chat { app, number, .. } => {
                    apps.insert(*app);
                    chats.entry(*app).or_default().insert(*number);
                }
                Job::Message {
                    app, chat, number, ..
                } => {
                    apps.insert(*app);
                    chats.entry(*app).or_default().insert(*chat);
                    messages.entry((*app, *chat)).or_default().insert(*number);
                }
                _ => {}
            }
        }
        if apps.is_empty() {
            return Ok(BTreeSet::new());
        }
        let mut pipe = redis::pipe();
        let apps: Vec<i64> = apps.into_iter().collect();
        let markers: Vec<_> = apps.iter().map(|a| self.keys.deleted_app(*a)).collect();
        pipe.cmd("MGET").arg(&markers);
        for (app, numbers) in &chats {
            pipe.cmd("SMISMEMBER")
                .arg(self.keys.deleted_chats(*app))
                .arg(numbers);
        }
        for ((app, chat), numbers) in &messages {
            pipe.cmd("SMISMEMBER")
                .arg(self.keys.deleted_messages(*app, *chat))
                .arg(numbers);
        }
        let mut replies: Vec<redis::Value> = self.redis.split(&pipe).await?;
        let mut replies = replies.drain(..);
        fn typed<T: redis::FromRedisValue>(v: Option<redis::Value>) -> Result<T> {
            let v = v.ok_or_else(|| Error::Internal("a pipeline reply is missing".into()))?;
            redis::from_redis_value(v)
                .map_err(|e| Error::Internal(format!("unexpected reply of Redis: {e}")))
        }
        let flags = |v: Option<redis::Value>| typed::<Vec<bool>>(v);
        let markers: Vec<Option<String>> = typed(replies.next())?;
        let gone_apps: BTreeSet<i64> = apps
            .iter()
            .zip(markers)
            .filter(|(_, m)| m.is_some())
            .map(|(a, _)| *a)
            .collect();
        let mut gone_chats: BTreeSet<(i64, u32)> = BTreeSet::new();
        for (app, numbers) in &chats {
            for (n, gone) in numbers.iter().zip(flags(replies.next())?) {
                if gone {
                    gone_chats.insert((*app, *n));
                }
            }
        }
        let mut gone_messages: BTreeSet<(i64, u32, u32)> = BTreeSet::new();
        for ((app, chat), numbers) in &messages {
            for (n, gone) in numbers.iter().zip(flags(replies.next())?) {
                if gone {
                    gone_messages.insert((*app, *chat, *n));
                }
            }
        }
        Ok(jobs
            .iter()
            .enumerate()
            .filter(|(_, (_, job))| match job {
                Job::Chat { app, number, .. } => {
                    gone_apps.contains(app) || gone_chats.contains(&(*app, *number))
                }
                Job::Message {
                    app, chat, number, ..
                } => {
                    gone_apps.contains(app)
                        || gone_chats.contains(&(*app, *chat))
                        || gone_messages.contains(&(*app, *chat, *number))
                }
                _ => false,
            })
            .map(|(i, _)| i)
            .collect())
    }

    /// Gives each message job whose chat may still be queued its chat's creation time, from
    /// the chat's pending record (one round trip for the batch), so that persisting it creates
    /// the chat's row when the chat's own job has not landed yet. A chat without a pending
    /// record is persisted: its record is dropped only after its row committed.
    pub(super) async fn add_chat_times(&self, jobs: &mut [(String, Job)]) -> Result<()> {
        let queued: BTreeSet<(i64, u32)> = jobs
            .iter()
            .filter_map(|(_, j)| match j {
                Job::Chat { app, number, .. } => Some((*app, *number)),
                _ => None,
            })
            .collect();
        let mut wanted: BTreeMap<i64, BTreeSet<u32>> = BTreeMap::new();
        for (_, job) in jobs.iter() {
            if let Job::Message {
                app,
                chat,
                chat_at: None,
                ..
            } = job
            {
                if !queued.contains(&(*app, *chat)) {
                    wanted.entry(*app).or_default().insert(*chat);
                }
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (app, chats) in &wanted {
            pipe.cmd("HMGET")
                .arg(self.keys.pending_chats(*app))
                .arg(chats);
        }
        let records: Vec<Vec<Option<String>>> = self.redis.split(&pipe).await?;
        let mut times: HashMap<(i64, u32), i64> = HashMap::new();
        for ((app, chats), records) in wanted.iter().zip(records) {
            for (chat, record) in chats.iter().zip(records) {
                if let Some(json) = record {
                    times.insert((*app, *chat), pending::<PendingChat>(&json)?.created_at()?);
                }
            }
        }
        for (_, job) in jobs.iter_mut() {
            if let Job::Message {
                app,
                chat,
                chat_at: chat_at @ None,
                ..
            } = job
            {
                *chat_at = times.get(&(*app, *chat)).copied();
            }
        }
        Ok(())
    }

    /// Persists a batch, retrying a transient failure a few times at once instead of leaving
    /// the entries to the reclaim timeout.
    pub(super) async fn persist(&self, jobs: &[Job]) -> Result<()> {
        let mut wait = PERSIST_FIRST_WAIT;
        for _ in 0..PERSIST_RETRIES {
            match self.store.persist_batch(jobs).await {
                Err(Error::Unavailable { reason, .. }) => {
                    tracing::debug!(reason, "batch failed for a transient reason; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= PERSIST_BACKOFF;
                }
                other => return other,
            }
        }
        self.store.persist_batch(jobs).await
    }

    /// Sends the persisted messages of a batch to the search engine (see [`Indexer::index`]),
    /// then removes the documents its deletes cover.
    pub(super) async fn index(&self, jobs: &[(String, Job)]) {
        if let Some(indexer) = &self.indexer {
            indexer.index(jobs).await;
            let deletes: Vec<&Job> = jobs
                .iter()
                .map(|(_, j)| j)
                .filter(|j| j.is_delete())
                .collect();
            indexer.unindex(&deletes).await;
        }
    }

    /// Acknowledges and deletes persisted entries and drops the pending records they wrote
    /// (`lua/finish.lua`: one call per shard and chunk, the records grouped by their hash,
    /// all in the shard's slot).
    pub(super) async fn finish(&self, jobs: &[(String, Job)]) -> Result<()> {
        let mut by_shard: BTreeMap<usize, Vec<&(String, Job)>> = BTreeMap::new();
        for job in jobs {
            by_shard
                .entry(self.keys.job_shard(&job.1))
                .or_default()
                .push(job);
        }
        let mut conn = self.redis.clone();
        for (shard, jobs) in by_shard {
            for chunk in jobs.chunks(FINISH_CHUNK) {
                let mut groups: BTreeMap<String, Vec<(u32, &str)>> = BTreeMap::new();
                for (id, job) in chunk.iter().copied() {
                    // A delete wrote no record: it names a field whose record (if any) another
                    // job wrote, which is therefore kept; only its entry is acknowledged.
                    let (hash, field) = match job {
                        Job::Chat { app, number, .. } => (self.keys.pending_chats(*app), *number),
                        Job::Message {
                            app, chat, number, ..
                        }
                        | Job::DeleteMessage { app, chat, number } => {
                            (self.keys.pending_messages(*app, *chat), *number)
                        }
                        Job::DeleteChat { app, chat } => {
                            (self.keys.pending_messages(*app, *chat), 0)
                        }
                        Job::DeleteApp { app } => (self.keys.pending_chats(*app), 0),
                    };
                    groups
                        .entry(hash.to_string())
                        .or_default()
                        .push((field, id.as_str()));
                }
                let lua = &self.scripts.finish;
                let mut cmd = lua.command(1);
                cmd.arg(self.keys.stream(shard)).arg(GROUP);
                for (hash, records) in &groups {
                    cmd.arg(hash).arg(records.len());
                    for (field, id) in records {
                        cmd.arg(*field).arg(*id);
                    }
                }
                let _: u64 = lua.run(&cmd, &mut conn).await?;
            }
        }
        Ok(())
    }
}
