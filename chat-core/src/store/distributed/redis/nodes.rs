//! The masters of a Redis Cluster, each behind a plain connection of its own, and which slots
//! each holds (as `CLUSTER SLOTS` last said): what lets the create batcher send the commands of
//! many slots as one pipeline per node, where the cluster client only pipelines within a slot.
//!
//! A plain connection never follows a redirect by itself, so nothing runs twice: a node runs
//! only the commands of the slots it holds, answers `MOVED` (or `ASK`) to the others, and the
//! batcher sends those again alone through the cluster client, which follows the redirect.
//! Every redirect or failed connection marks the map stale; it is read again at most once per
//! [`REFRESH_EVERY`].

use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisError, Value,
};

use super::conn::Conn;

/// Slots of a cluster.
const SLOTS: usize = 16384;

/// How long opening a master's connection may take (the batcher waits meanwhile).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The least time between two reads of the slot map.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// The masters and their slots.
pub(crate) struct Nodes {
    /// How to reach a node: the cluster's first URL with the node's host and port.
    template: Option<ConnectionInfo>,
    /// Slot → index in `masters` (`u16::MAX`: unknown).
    owner: Vec<u16>,
    /// Each master's address and, once opened, its connection.
    masters: Vec<(String, u16, Option<MultiplexedConnection>)>,
    stale: bool,
    read_at: Option<Instant>,
    /// The longest wait for an answer on a master's connection.
    response_timeout: Duration,
}

impl Nodes {
    /// Nothing known yet; `first_url` is one of the cluster's URLs (for its scheme and
    /// credentials).
    /// `response_timeout` bounds the wait for any answer (a pipeline's `WAIT` included).
    pub(crate) fn new(first_url: Option<&str>, response_timeout: Duration) -> Nodes {
        Nodes {
            template: first_url.and_then(|u| u.into_connection_info().ok()),
            owner: vec![u16::MAX; SLOTS],
            masters: Vec::new(),
            stale: true,
            read_at: None,
            response_timeout,
        }
    }

    /// The master holding `slot`, as far as known.
    pub(crate) fn owner(&self, slot: u16) -> Option<u16> {
        self.owner
            .get(usize::from(slot))
            .copied()
            .filter(|&n| n != u16::MAX)
    }

    /// Marks the map as possibly wrong (a redirect, a failed connection).
    pub(crate) fn mark_stale(&mut self) {
        self.stale = true;
    }

    /// Reads the slot map again when it is stale and the last read is old enough. On failure
    /// the map is emptied: every command then goes through the cluster client.
    pub(crate) async fn refresh(&mut self, conn: &Conn) {
        if !self.stale || self.read_at.is_some_and(|t| t.elapsed() < REFRESH_EVERY) {
            return;
        }
        self.read_at = Some(Instant::now());
        self.stale = false;
        let Conn::Cluster(cluster) = conn else {
            return;
        };
        let slots: Result<Value, RedisError> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(&mut cluster.clone())
            .await;
        let mut owner = vec![u16::MAX; SLOTS];
        let mut masters: Vec<(String, u16, Option<MultiplexedConnection>)> = Vec::new();
        let ranges = match slots {
            Ok(Value::Array(ranges)) => ranges,
            Ok(_) | Err(_) => {
                self.owner = owner;
                self.masters.clear();
                self.stale = true;
                return;
            }
        };
        for range in ranges {
            let Some((start, end, host, port)) = parse_range(&range) else {
                continue;
            };
            let index = match masters
                .iter()
                .position(|(h, p, _)| *h == host && *p == port)
            {
                Some(i) => i,
                None => {
                    // Keep an open connection to a node that stays a master.
                    let kept = self
                        .masters
                        .iter_mut()
                        .find(|(h, p, _)| *h == host && *p == port)
                        .and_then(|(_, _, c)| c.take());
                    masters.push((host, port, kept));
                    masters.len() - 1
                }
            };
            let Ok(index) = u16::try_from(index) else {
                continue;
            };
            if let Some(range) = owner.get_mut(start..=end.min(SLOTS - 1)) {
                range.fill(index);
            }
        }
        self.owner = owner;
        self.masters = masters;
    }

    /// The connection to master `index`, opened on first use; `None` when it cannot be
    /// opened (the map is then marked stale).
    pub(crate) async fn connection(&mut self, index: u16) -> Option<MultiplexedConnection> {
        let template = self.template.clone()?;
        let (host, port, conn) = self.masters.get_mut(usize::from(index))?;
        if let Some(c) = conn {
            return Some(c.clone());
        }
        let addr = match template.addr() {
            ConnectionAddr::Tcp(..) => ConnectionAddr::Tcp(host.clone(), *port),
            ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => ConnectionAddr::TcpTls {
                host: host.clone(),
                port: *port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            _ => return None,
        };
        let opened = match redis::Client::open(template.set_addr(addr)) {
            Ok(client) => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(self.response_timeout));
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .ok()
            }
            Err(_) => None,
        };
        match opened {
            Some(c) => {
                *conn = Some(c.clone());
                Some(c)
            }
            None => {
                self.stale = true;
                None
            }
        }
    }

    /// Forgets master `index`'s connection (it failed) and marks the map stale.
    pub(crate) fn drop_connection(&mut self, index: u16) {
        if let Some((_, _, conn)) = self.masters.get_mut(usize::from(index)) {
            *conn = None;
        }
        self.stale = true;
    }
}

/// One entry of `CLUSTER SLOTS`: its first and last slot and its master's host and port.
fn parse_range(range: &Value) -> Option<(usize, usize, String, u16)> {
    let Value::Array(fields) = range else {
        return None;
    };
    let int = |v: &Value| match v {
        Value::Int(i) => usize::try_from(*i).ok(),
        _ => None,
    };
    let start = int(fields.first()?)?;
    let end = int(fields.get(1)?)?;
    let Value::Array(master) = fields.get(2)? else {
        return None;
    };
    let host = match master.first()? {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok()?,
        Value::SimpleString(s) => s.clone(),
        _ => return None,
    };
    let port = u16::try_from(int(master.get(1)?)?).ok()?;
    Some((start, end, host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn a_slot_range_names_its_master() {
        let range = Value::Array(vec![
            Value::Int(0),
            Value::Int(5460),
            Value::Array(vec![bulk("127.0.0.1"), Value::Int(37001), bulk("id")]),
            Value::Array(vec![bulk("127.0.0.1"), Value::Int(37004), bulk("id2")]),
        ]);
        assert_eq!(
            parse_range(&range),
            Some((0, 5460, "127.0.0.1".to_owned(), 37001))
        );
        assert_eq!(parse_range(&Value::Int(1)), None);
        assert_eq!(
            parse_range(&Value::Array(vec![Value::Int(0), Value::Int(1)])),
            None
        );
    }

    #[test]
    fn nothing_is_owned_before_the_map_is_read() {
        let nodes = Nodes::new(Some("redis://127.0.0.1:37001"), Duration::from_secs(5));
        assert_eq!(nodes.owner(0), None);
        assert_eq!(nodes.owner(16383), None);
        assert!(nodes.template.is_some());
        assert!(Nodes::new(Some("not a url"), Duration::from_secs(5))
            .template
            .is_none());
    }
}
