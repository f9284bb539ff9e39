//! The queue's wire format: one stream field `j` holding JSON written by the Lua scripts, and
//! the pending records reads consult until a worker has persisted a job.
//!
//! Timestamps and ids travel as decimal strings: Lua numbers are doubles and `cjson` prints
//! them with 14 significant digits, too few for microseconds.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::store::distributed::mysql::Job;

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
    u: String,
}

impl PendingMessage {
    pub(crate) fn created_at(&self) -> Result<i64> {
        int(&self.c, "timestamp")
    }

    pub(crate) fn updated_at(&self) -> Result<i64> {
        int(&self.u, "timestamp")
    }
}

/// Parses a pending record.
pub(crate) fn pending<T: serde::de::DeserializeOwned>(json: &str) -> Result<T> {
    serde_json::from_str(json)
        .map_err(|e| Error::Internal(format!("undecodable pending record: {e}")))
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
    }
}
