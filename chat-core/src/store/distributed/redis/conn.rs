//! One Redis, or a Redis Cluster, behind one connection type.
//!
//! `--redis-url` names one node (`redis://HOST:PORT`: a single Redis, through a connection
//! manager that reconnects) or a comma-separated list of nodes (a Redis Cluster, through the
//! cluster client: one connection per node, commands routed by their keys' slot, `MOVED`/`ASK`
//! and failovers followed by the client). [`Conn`] is either, and every command of the profile
//! goes through it.
//!
//! On a cluster a pipeline must stay within one slot (the client sends it to one node), so
//! commands that read several slots at once go through [`Conn::split`], which sends them one by
//! one, concurrently (on one Redis, as the pipeline they were built as).

use std::time::Duration;

use futures::future::join_all;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, RedisResult, Value};

use crate::config::redact_url;
use crate::error::{Error, Result};

/// The node URLs of a `--redis-url`: more than one means a cluster.
pub(crate) fn node_urls(url: &str) -> Vec<&str> {
    url.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect()
}

/// A connection to one Redis or to a Redis Cluster (cheap to clone: clones share it).
#[derive(Clone)]
pub(crate) enum Conn {
    /// One Redis.
    Single(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

impl Conn {
    /// Connects to `url` (one node, or a comma-separated list: a cluster), waiting at most
    /// `response_timeout` for any answer.
    pub(crate) async fn open(url: &str, response_timeout: Duration) -> Result<Conn> {
        let nodes = node_urls(url);
        let bad = |e: redis::RedisError| {
            Error::BadRequest(format!("invalid Redis URL {}: {e}", redact_url(url)))
        };
        match nodes.as_slice() {
            [] => Err(Error::BadRequest(
                "the Redis URL is empty: set CHAT_REDIS_URL (or --redis-url) to \
                 redis://HOST:PORT, or to a comma-separated list of a cluster's nodes"
                    .to_owned(),
            )),
            [one] => {
                let client = redis::Client::open(*one).map_err(bad)?;
                let config =
                    ConnectionManagerConfig::new().set_response_timeout(Some(response_timeout));
                Ok(Conn::Single(
                    ConnectionManager::new_with_config(client, config).await?,
                ))
            }
            many => {
                let client = ClusterClientBuilder::new(many.to_vec())
                    .response_timeout(response_timeout)
                    .connection_timeout(Duration::from_secs(2))
                    .retries(12)
                    .min_retry_wait(50)
                    .max_retry_wait(1000)
                    .build()
                    .map_err(bad)?;
                Ok(Conn::Cluster(client.get_async_connection().await?))
            }
        }
    }

    /// Whether this is a cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }

    /// Runs the commands of `pipe`: as one pipeline on one Redis; one by one, concurrently,
    /// on a cluster (their keys may live in different slots). The answers in order, as a
    /// pipeline gives them.
    pub(crate) async fn split<T: FromRedisValue>(&self, pipe: &Pipeline) -> RedisResult<T> {
        match self {
            Conn::Single(m) => pipe.query_async(&mut m.clone()).await,
            Conn::Cluster(c) => {
                let answers = join_all(pipe.cmd_iter().map(|cmd| {
                    let mut conn = c.clone();
                    async move { cmd.query_async::<Value>(&mut conn).await }
                }))
                .await;
                let values = answers.into_iter().collect::<RedisResult<Vec<Value>>>()?;
                Ok(T::from_redis_value(Value::Array(values))?)
            }
        }
    }

    /// Runs `cmd` and then `WAIT replicas timeout` on the same node (a pipeline of the two:
    /// on a cluster it goes to the node of `cmd`'s slot). The command's answer, and how many
    /// replicas acknowledged every write of the connection so far.
    pub(crate) async fn query_acked(
        &self,
        cmd: &Cmd,
        replicas: u32,
        timeout: Duration,
    ) -> RedisResult<(Value, i64)> {
        let mut pipe = redis::pipe();
        pipe.add_command(cmd.clone());
        pipe.add_command(wait_cmd(replicas, timeout));
        let (value, acked): (Value, i64) = pipe.query_async(&mut self.clone()).await?;
        Ok((value, acked))
    }
}

/// `WAIT replicas timeout-ms`.
pub(crate) fn wait_cmd(replicas: u32, timeout: Duration) -> Cmd {
    let mut cmd = redis::cmd("WAIT");
    cmd.arg(replicas).arg(
        u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1),
    );
    cmd
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(m) => m.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(m) => m.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(m) => m.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// The cluster slot of a key (CRC16/XMODEM of its hash tag, or of the whole key, mod 16384),
/// as Redis computes it.
pub(crate) fn slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            key[open + 1..]
                .iter()
                .position(|&b| b == b'}')
                .filter(|&len| len > 0)
                .map(|len| &key[open + 1..open + 1 + len])
        })
        .unwrap_or(key);
    crc16(tagged) % 16384
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_those_redis_gives() {
        // `CLUSTER KEYSLOT` of these keys.
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"bar"), 5061);
        assert_eq!(slot(b"{foo}.x"), 12182);
        assert_eq!(slot(b"a{foo}b{bar}"), 12182);
        // An empty tag does not count: the whole key is hashed.
        assert_eq!(slot(b"{}foo"), slot(b"{}foo"));
        assert_ne!(slot(b"{}foo"), slot(b"foo"));
    }

    #[test]
    fn a_list_of_urls_is_a_cluster() {
        assert_eq!(node_urls("redis://a:1"), vec!["redis://a:1"]);
        assert_eq!(
            node_urls("redis://a:1, redis://b:2,"),
            vec!["redis://a:1", "redis://b:2"]
        );
        assert!(node_urls(" , ").is_empty());
    }
}
