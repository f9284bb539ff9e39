//! The queue's wire format: one stream field `j` holding a job's JSON (put together by the
//! write path and completed by the Lua scripts), and the pending records reads consult until a
//! worker has persisted a job.
//!
//! A job: `k` its kind (`c` chat, `m` message, `e` edit; `dm`, `dc`, `da` the delete of a
//! message, a chat, an application), `a` the application id, `c` the chat (0 for `da`), `n` the
//! message's number, `b` the body, `t` the creation time (of a delete: its time), `u` the edit
//! time (absent: `t`), `ca` the chat's creation time (written by earlier versions; the worker
//! now looks it up).
//! A pending record: `e` the entry id of the job that wrote it (first, so a worker can compare
//! it without decoding), `c` the creation time, `u` the edit time (absent: `c`), `b` the body.
//!
//! Timestamps and ids travel as decimal strings: Lua numbers are doubles and `cjson` prints
//! them with 14 significant digits, too few for microseconds.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::store::distributed::mysql::Job;
use crate::store::distributed::search::Doc;

#[derive(Deserialize)]
struct Wire {
    k: String,
    a: String,
    c: u32,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    b: Option<String>,
    t: String,
    #[serde(default)]
    u: Option<String>,
    #[serde(default)]
    ca: Option<String>,
}

fn int(s: &str, what: &str) -> Result<i64> {
    s.parse()
        .map_err(|_| Error::Internal(format!("queued job has a bad {what}: {s:?}")))
}

/// Decodes one entry's `j` field.
pub(crate) fn decode(json: &str) -> Result<Job> {
    let w: Wire = serde_json::from_str(json)
        .map_err(|e| Error::Internal(format!("undecodable queued job: {e}")))?;
    let app = int(&w.a, "application id")?;
    let created_at = int(&w.t, "timestamp")?;
    match w.k.as_str() {
        "c" => Ok(Job::Chat {
            app,
            number: w.c,
            at: created_at,
        }),
        "m" | "e" => {
            let missing = |f: &str| Error::Internal(format!("queued message job lacks `{f}`"));
            Ok(Job::Message {
                app,
                chat: w.c,
                number: w.n.ok_or_else(|| missing("n"))?,
                body: w.b.ok_or_else(|| missing("b"))?,
                created_at,
                updated_at: match &w.u {
                    Some(u) => int(u, "timestamp")?,
                    None => created_at,
                },
                chat_at: w.ca.as_deref().map(|t| int(t, "timestamp")).transpose()?,
                edit: w.k == "e",
            })
        }
        "dm" => Ok(Job::DeleteMessage {
            app,
            chat: w.c,
            number: w
                .n
                .ok_or_else(|| Error::Internal("queued delete job lacks `n`".into()))?,
        }),
        "dc" => Ok(Job::DeleteChat { app, chat: w.c }),
        "da" => Ok(Job::DeleteApp { app }),
        other => Err(Error::Internal(format!(
            "unknown queued job kind {other:?}"
        ))),
    }
}

/// A chat not yet persisted.
#[derive(Debug, Deserialize)]
pub(crate) struct PendingChat {
    c: String,
}

impl PendingChat {
    pub(crate) fn created_at(&self) -> Result<i64> {
        int(&self.c, "timestamp")
    }
}

/// A message created or edited but not yet persisted.
#[derive(Debug, Deserialize)]
pub(crate) struct PendingMessage {
    pub b: String,
    c: String,
    #[serde(default)]
    u: Option<String>,
}

impl PendingMessage {
    pub(crate) fn created_at(&self) -> Result<i64> {
        int(&self.c, "timestamp")
    }

    pub(crate) fn updated_at(&self) -> Result<i64> {
        int(self.u.as_deref().unwrap_or(&self.c), "timestamp")
    }
}

/// An indexed message as a job that writes it again (an edit job carrying the whole message:
/// persisting it again changes nothing, and indexing it again is the point), for the
/// dead-letter stream, from which an operator's retry re-enqueues it.
pub(crate) fn encode_doc(doc: &Doc) -> String {
    serde_json::json!({
        "k": "e",
        "a": doc.app.to_string(),
        "c": doc.chat,
        "n": doc.number,
        "t": doc.created_at.to_string(),
        "u": doc.updated_at.to_string(),
        "b": doc.body,
    })
    .to_string()
}

/// Parses a pending record.
pub(crate) fn pending<T: serde::de::DeserializeOwned>(json: &str) -> Result<T> {
    serde_json::from_str(json)
        .map_err(|e| Error::Internal(format!("undecodable pending record: {e}")))
}

/// Records S on first use; refuses a process configured with another S (chats would move to
/// other shards, out of order with their queued jobs).
pub(crate) async fn check_shards(redis: &super::conn::Conn, keys: &super::Keys) -> Result<()> {
    let mut conn = redis.clone();
    ::redis::cmd("SET")
        .arg(keys.shard_count())
        .arg(keys.shards())
        .arg("NX")
        .query_async::<Option<String>>(&mut conn)
        .await?;
    let recorded: Option<String> = ::redis::cmd("GET")
        .arg(keys.shard_count())
        .query_async(&mut conn)
        .await?;
    match recorded.as_deref().map(str::parse::<usize>) {
        Some(Ok(n)) if n == keys.shards() => Ok(()),
        Some(Ok(n)) => Err(Error::BadRequest(format!(
            "this deployment's queue has {n} shards (recorded in Redis at {}); this process \
             is configured with {}: set --redis-shards / CHAT_REDIS_SHARDS to {n} (changing \
             the number of shards of a live deployment is not supported)",
            keys.shard_count(),
            keys.shards()
        ))),
        _ => Err(Error::Internal(format!(
            "Redis key {} does not hold a number of shards",
            keys.shard_count()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_written_by_the_scripts_decode() {
        let chat = decode(r#"{"k":"c","a":"7","c":3,"t":"1790000000123456"}"#).unwrap();
        assert_eq!(
            chat,
            Job::Chat {
                app: 7,
                number: 3,
                at: 1_790_000_000_123_456
            }
        );
        let edit =
            decode(r#"{"k":"e","a":"7","c":3,"n":2,"b":"a\/b \u00e9","t":"1","u":"2","ca":"0"}"#)
                .unwrap();
        assert_eq!(
            edit,
            Job::Message {
                app: 7,
                chat: 3,
                number: 2,
                body: "a/b é".into(),
                created_at: 1,
                updated_at: 2,
                chat_at: Some(0),
                edit: true
            }
        );
        assert!(decode(r#"{"k":"m","a":"x","c":1,"t":"1"}"#).is_err());
        // As the write path and create_message.lua put it together: no `u`, no `ca`.
        let created = decode(r#"{"k":"m","a":"7","c":3,"t":"5","b":"hi \"you\"","n":12}"#).unwrap();
        assert_eq!(
            created,
            Job::Message {
                app: 7,
                chat: 3,
                number: 12,
                body: "hi \"you\"".into(),
                created_at: 5,
                updated_at: 5,
                chat_at: None,
                edit: false
            }
        );
    }

    #[test]
    fn delete_jobs_as_the_scripts_write_them_decode() {
        assert_eq!(
            decode(r#"{"k":"dm","a":"7","c":3,"n":2,"t":"9"}"#).unwrap(),
            Job::DeleteMessage {
                app: 7,
                chat: 3,
                number: 2
            }
        );
        assert_eq!(
            decode(r#"{"k":"dc","a":"7","c":3,"t":"9"}"#).unwrap(),
            Job::DeleteChat { app: 7, chat: 3 }
        );
        assert_eq!(
            decode(r#"{"k":"da","a":"7","c":0,"t":"9"}"#).unwrap(),
            Job::DeleteApp { app: 7 }
        );
        assert!(decode(r#"{"k":"dm","a":"7","c":3,"t":"9"}"#).is_err());
    }

    #[test]
    fn pending_records_with_and_without_an_edit_time_read() {
        let created: PendingMessage = pending(r#"{"e":"1-0","c":"5","b":"x"}"#).unwrap();
        assert_eq!(
            (created.created_at().unwrap(), created.updated_at().unwrap()),
            (5, 5)
        );
        let edited: PendingMessage = pending(r#"{"e":"2-0","c":"5","u":"9","b":"y"}"#).unwrap();
        assert_eq!(
            (edited.created_at().unwrap(), edited.updated_at().unwrap()),
            (5, 9)
        );
    }

    #[test]
    fn a_document_encodes_as_an_edit_job_that_decodes_back() {
        let doc = Doc {
            app: 7,
            chat: 3,
            number: 2,
            body: "é \"q\"".into(),
            created_at: 1,
            updated_at: 4,
        };
        assert_eq!(
            decode(&encode_doc(&doc)).unwrap(),
            Job::Message {
                app: 7,
                chat: 3,
                number: 2,
                body: doc.body.clone(),
                created_at: 1,
                updated_at: 4,
                chat_at: None,
                edit: true
            }
        );
    }
}
