//! Moving data between deployments: the export stream, its records, and restore.
//!
//! An export is one NDJSON stream: a [`Header`] (format, version, source profile, time,
//! totals), then each application followed by its chats, each chat followed by its messages,
//! all in number order, and an [`End`] line with the totals and a SHA-256 checksum of every
//! line in between. Applications and chats carry the highest number they ever handed out,
//! deleted ones included, so a restored deployment never hands a number out twice.
//!
//! * [`crate::ChatService::export`] produces the records of a consistent snapshot: one read
//!   transaction on SQLite; on the distributed profile, the queue drained of every write
//!   acknowledged before the export started, then one MySQL consistent-snapshot transaction.
//! * [`crate::ChatService::restore`] loads records into any profile in bulk, in one
//!   transaction that commits only after the end line checked out (a stream refused half-way
//!   leaves the target as it was).
//! * [`read_records`] and [`write_records`] turn records into NDJSON bytes and back;
//!   [`Validator`] is the one set of rules both directions check.
//!
//! ```no_run
//! use chat_core::transfer::{read_records, ExportOptions, RestoreOptions};
//! use chat_core::{ChatService, Config, NoProgress};
//!
//! # async fn demo() -> chat_core::Result<()> {
//! let from = ChatService::open(&Config::with_database_url("sqlite://old/chat.db")).await?;
//! let to = ChatService::open(&Config::with_database_url("sqlite://new/chat.db")).await?;
//! let records = from.export(&ExportOptions::default()).await?;
//! let summary = to.restore(records, &RestoreOptions::default(), NoProgress::arc()).await?;
//! println!("{} messages moved", summary.messages);
//! # let _ = read_records(tokio::io::empty());
//! # Ok(())
//! # }
//! ```

mod ndjson;
mod record;
mod validate;

use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

#[cfg(feature = "client")]
pub(crate) use self::ndjson::ChunkReader;
pub use self::ndjson::{read_records, read_records_blocking, write_records, MAX_LINE_BYTES};
pub use self::record::{
    ApplicationRecord, ChatRecord, End, Header, MessageRecord, Record, RecordStream, Totals,
    FORMAT, VERSION,
};
pub use self::validate::Validator;
use crate::error::{Error, Result};
use crate::model::Token;

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Only this application (all of them when `None`).
    pub scope: Option<Token>,
    /// Distributed profile: how long to wait for the workers to persist every write
    /// acknowledged before the export started.
    pub drain_timeout: Duration,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            scope: None,
            drain_timeout: Duration::from_secs(120),
        }
    }
}

/// How to restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Add the stream's applications to a target that already holds others. Without it the
    /// target must hold no application at all. Either way, a token the target already holds
    /// refuses the whole stream.
    pub merge: bool,
}

/// What a restore loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreSummary {
    /// Applications restored.
    pub applications: u64,
    /// Chats restored.
    pub chats: u64,
    /// Messages restored.
    pub messages: u64,
}

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSummary {
    /// The file written.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The channel a backend's export fills: records in stream order, header first, without the
/// end line (the service adds it), in chunks.
pub(crate) type ExportSender = mpsc::Sender<Result<Vec<Record>>>;

/// Chunks of records in flight between a backend's export task and the stream.
pub(crate) const EXPORT_CHANNEL: usize = 8;

/// Records per chunk a backend sends.
#[cfg(any(feature = "sqlite", feature = "distributed"))]
pub(crate) const EXPORT_CHUNK: usize = 1024;

/// Turns a backend's export channel into the record stream: every record is checked by a
/// [`Validator`] (so the stream obeys the rules a restore applies), and the end line with the
/// checksum is added when the backend is done. The checking (each line serialised for the
/// checksum) runs on a task of its own, so it overlaps the backend's reads and the consumer's
/// writing; the task stops when the stream is dropped.
pub(crate) fn export_stream(mut rx: mpsc::Receiver<Result<Vec<Record>>>) -> RecordStream {
    let (tx, checked) = mpsc::channel::<Result<Vec<Record>>>(EXPORT_CHANNEL);
    tokio::spawn(async move {
        let mut validator = Validator::new();
        while let Some(item) = rx.recv().await {
            let mut chunk = match item {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            // The records before a broken one go out, then the error.
            let broken = chunk
                .iter()
                .enumerate()
                .find_map(|(i, r)| validator.check(r).err().map(|e| (i, e)));
            if let Some((at, e)) = broken {
                chunk.truncate(at);
                if !chunk.is_empty() && tx.send(Ok(chunk)).await.is_err() {
                    return;
                }
                let e = Error::Internal(format!("the export broke its own format: {e}"));
                let _ = tx.send(Err(e)).await;
                return;
            }
            if tx.send(Ok(chunk)).await.is_err() {
                return;
            }
        }
        let end = validator.end_record();
        let item = validator.check(&end).map(|()| vec![end]);
        let _ = tx.send(item).await;
    });
    let chunks = futures::stream::unfold((checked, false), |(mut checked, done)| async move {
        if done {
            return None;
        }
        match checked.recv().await? {
            Ok(chunk) => Some((
                futures::stream::iter(chunk.into_iter().map(Ok)).left_stream(),
                (checked, false),
            )),
            Err(e) => Some((
                futures::stream::iter(std::iter::once(Err(e))).right_stream(),
                (checked, true),
            )),
        }
    });
    Box::pin(chunks.flatten())
}

/// Checks `records` as they pass ([`Validator`]): the first rule broken ends the stream with
/// its error (with the line number), and a stream that stops before its end line ends with
/// "truncated". [`crate::ChatService::restore`] applies it to what it reads.
pub fn validated(records: RecordStream) -> RecordStream {
    let state = (records, Validator::new(), false);
    Box::pin(futures::stream::unfold(
        state,
        |(mut records, mut validator, done)| async move {
            if done {
                return None;
            }
            match records.next().await {
                Some(Ok(record)) => match validator.check(&record) {
                    Ok(()) => Some((Ok(record), (records, validator, false))),
                    Err(e) => Some((Err(e), (records, validator, true))),
                },
                Some(Err(e)) => Some((Err(e), (records, validator, true))),
                None => match validator.finish() {
                    Ok(()) => None,
                    Err(e) => Some((Err(e), (records, validator, true))),
                },
            }
        },
    ))
}

/// Records a restore reads and checks ahead of the backend, per chunk.
const AHEAD_CHUNK: usize = 512;

/// Chunks read and checked ahead of the backend.
const AHEAD_CHUNKS: usize = 16;

/// [`validated`] on a task of its own, a few thousand records ahead of the consumer: reading,
/// parsing and checking a stream (JSON, the checksum) then runs on another core than the
/// backend's inserts. The same items in the same order, the first error last; the task stops
/// when the returned stream is dropped.
pub(crate) fn validated_ahead(records: RecordStream) -> RecordStream {
    let (tx, rx) = mpsc::channel::<Vec<Result<Record>>>(AHEAD_CHUNKS);
    tokio::spawn(async move {
        let mut records = validated(records);
        let mut chunk = Vec::with_capacity(AHEAD_CHUNK);
        while let Some(item) = records.next().await {
            chunk.push(item);
            if chunk.len() == AHEAD_CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(AHEAD_CHUNK));
                if tx.send(full).await.is_err() {
                    return;
                }
            }
        }
        if !chunk.is_empty() {
            let _ = tx.send(chunk).await;
        }
    });
    let chunks = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (futures::stream::iter(chunk), rx))
    });
    Box::pin(chunks.flatten())
}

/// The error of a restore into a target that already holds one of the stream's tokens.
#[cfg(any(feature = "sqlite", feature = "distributed"))]
pub(crate) fn token_taken(line: u64, token: &Token) -> Error {
    Error::Conflict(format!(
        "line {line}: the target already holds application {token}; nothing was restored \
         (restore into a target without it)"
    ))
}

/// The error of a restore without `merge` into a target that holds applications.
#[cfg(any(feature = "sqlite", feature = "distributed"))]
pub(crate) fn target_not_empty() -> Error {
    Error::Conflict(
        "the target already holds applications; nothing was restored (restore into an empty \
         database, or pass --merge to add the stream's applications beside them)"
            .to_owned(),
    )
}

#[cfg(test)]
mod tests;
