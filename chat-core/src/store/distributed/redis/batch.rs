//! Creates written to Redis together. A task owns the API's creates: it takes every request
//! that has arrived, sends them as one pipeline (one write; Redis reads them in one read and
//! answers in one write) and hands each its own answer; the requests that arrive meanwhile form
//! the next pipeline. An idle process sends each request alone at once; a busy one shares the
//! fixed cost of a round trip — the system calls on both sides — among all the requests in
//! flight, with no timer and no wait beyond the round trip already under way. Each command keeps
//! its own answer (an error in one does not fail the others).
//!
//! When writes must reach replicas (`--redis-ack-replicas N`), the pipeline ends with one
//! `WAIT N timeout`, which covers every write before it: each answer says whether its write
//! was acknowledged by N replicas. On a Redis Cluster the commands of a pipeline must share a
//! slot, so there the task groups what has arrived by slot and sends one pipeline per slot (all
//! at once, on the nodes' connections), each ending with its `WAIT` when replicas are asked for.
//! A node then reads a round's commands of a slot in one read, and a `WAIT` — which holds its
//! connection until the replicas answer — is shared by every request of its slot and round,
//! rather than letting a node serve one create per replication round trip.

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::{Cmd, FromRedisValue, RedisError, RedisResult, Value};
use tokio::sync::{mpsc, oneshot};

use super::conn::{wait_cmd, Conn};
use super::nodes::Nodes;

/// Redis replicas a write must reach, and how long to wait for them.
pub(crate) type Ack = Option<(u32, Duration)>;

/// A command's answer, and whether the replicas asked for acknowledged it (always true when
/// none are asked for).
pub(crate) type Answer = RedisResult<(Value, bool)>;

/// Most commands in one pipeline (a bound on one write and on one answer).
const MAX_PIPELINE: usize = 256;

struct Request {
    cmd: Cmd,
    /// The command's cluster slot (0 on a single Redis, where it does not matter).
    slot: u16,
    answer: oneshot::Sender<Answer>,
}

/// The sending side; the task stops when it is dropped.
pub(crate) struct Batcher {
    requests: mpsc::UnboundedSender<Request>,
    /// On a cluster: `query_many`'s connection (its commands share a slot); `query`'s
    /// requests are grouped by slot.
    cluster: Option<Conn>,
    ack: Ack,
}

impl Batcher {
    /// The batcher and its task (to spawn).
    /// `first_url`: on a cluster, one of its node URLs (the scheme and credentials of the
    /// connections to each master).
    pub(crate) fn new(
        conn: Conn,
        ack: Ack,
        first_url: Option<&str>,
    ) -> (Self, impl std::future::Future<Output = ()> + Send) {
        let (requests, rx) = mpsc::unbounded_channel();
        let cluster = conn.is_cluster().then(|| conn.clone());
        // Long enough for a pipeline's `WAIT`, like the cluster client's own connections.
        let timeout = Duration::from_secs(5) + ack.map_or(Duration::ZERO, |(_, t)| t);
        let nodes = conn.is_cluster().then(|| Nodes::new(first_url, timeout));
        (
            Batcher {
                requests,
                cluster,
                ack,
            },
            run(conn, rx, ack, nodes),
        )
    }

    /// Sends `cmd` with the next pipeline; its answer, and whether the replicas acknowledged
    /// it. `slot` is the cluster slot of the command's keys ([`super::Keys::shard_slot`];
    /// ignored on one Redis).
    pub(crate) async fn query<T: FromRedisValue>(
        &self,
        cmd: Cmd,
        slot: u16,
    ) -> RedisResult<(T, bool)> {
        let (answer, rx) = oneshot::channel();
        let slot = if self.cluster.is_some() { slot } else { 0 };
        self.requests
            .send(Request { cmd, slot, answer })
            .map_err(|_| closed())?;
        let (value, acked) = rx.await.map_err(|_| closed())??;
        Ok((T::from_redis_value(value)?, acked))
    }

    /// Sends `cmds` in this order (Redis runs them in this order, in as many pipelines as
    /// they need; on a cluster they must share a slot); their answers, in the same order.
    pub(crate) async fn query_many<T: FromRedisValue>(
        &self,
        cmds: impl IntoIterator<Item = Cmd>,
    ) -> Vec<RedisResult<(T, bool)>> {
        let typed = |a: Answer| a.and_then(|(v, acked)| Ok((T::from_redis_value(v)?, acked)));
        if let Some(conn) = &self.cluster {
            let cmds: Vec<Cmd> = cmds.into_iter().collect();
            return pipeline(&mut conn.clone(), &cmds, self.ack)
                .await
                .into_iter()
                .map(typed)
                .collect();
        }
        let mut waiting = Vec::new();
        for cmd in cmds {
            let (answer, rx) = oneshot::channel();
            let sent = self
                .requests
                .send(Request {
                    cmd,
                    slot: 0,
                    answer,
                })
                .is_ok();
            waiting.push(sent.then_some(rx));
        }
        let mut answers = Vec::with_capacity(waiting.len());
        for rx in waiting {
            let value = match rx {
                Some(rx) => rx.await.unwrap_or_else(|_| Err(closed())),
                None => Err(closed()),
            };
            answers.push(typed(value));
        }
        answers
    }
}

/// Sends `cmds` as one pipeline (ending with a `WAIT` when replicas are asked for); each
/// command's answer.
async fn pipeline(conn: &mut impl ConnectionLike, cmds: &[Cmd], ack: Ack) -> Vec<Answer> {
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    for cmd in cmds {
        pipe.add_command(cmd.clone());
    }
    if let Some((replicas, timeout)) = ack {
        pipe.add_command(wait_cmd(replicas, timeout));
    }
    let expected = cmds.len() + usize::from(ack.is_some());
    match pipe.query_async::<Vec<RedisResult<Value>>>(conn).await {
        Ok(mut values) if values.len() == expected => {
            let acked = match ack {
                Some((replicas, _)) => match values.pop() {
                    Some(Ok(Value::Int(n))) => n >= i64::from(replicas),
                    _ => false,
                },
                None => true,
            };
            values.into_iter().map(|v| v.map(|v| (v, acked))).collect()
        }
        Ok(values) => {
            let e = RedisError::from(std::io::Error::other(format!(
                "a pipeline of {expected} commands got {} answers",
                values.len()
            )));
            cmds.iter().map(|_| Err(e.clone())).collect()
        }
        Err(e) => cmds.iter().map(|_| Err(e.clone())).collect(),
    }
}

fn closed() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::BrokenPipe,
        "the Redis pipeline task has stopped",
    ))
}

async fn run(
    conn: Conn,
    mut rx: mpsc::UnboundedReceiver<Request>,
    ack: Ack,
    mut nodes: Option<Nodes>,
) {
    let mut batch: Vec<Request> = Vec::with_capacity(MAX_PIPELINE);
    while rx.recv_many(&mut batch, MAX_PIPELINE).await > 0 {
        let Some(nodes) = nodes.as_mut() else {
            let (cmds, answers): (Vec<Cmd>, Vec<_>) =
                batch.drain(..).map(|r| (r.cmd, r.answer)).unzip();
            let values = pipeline(&mut conn.clone(), &cmds, ack).await;
            for (answer, value) in answers.into_iter().zip(values) {
                let _ = answer.send(value);
            }
            continue;
        };
        nodes.refresh(&conn).await;
        // One pipeline per master (through its own connection) for the slots whose master is
        // known, one per slot through the cluster client for the others; in arrival order
        // within each, all at once.
        let mut groups: HashMap<Group, Vec<Request>> = HashMap::new();
        for r in batch.drain(..) {
            let group = nodes.owner(r.slot).map_or(Group::Slot(r.slot), Group::Node);
            groups.entry(group).or_default().push(r);
        }
        let mut sends = Vec::with_capacity(groups.len());
        for (group, requests) in groups {
            match group {
                Group::Node(n) => match nodes.connection(n).await {
                    Some(c) => sends.push((Some((n, c)), requests)),
                    // The master cannot be reached now: by slot, through the cluster client.
                    None => {
                        let mut slots: HashMap<u16, Vec<Request>> = HashMap::new();
                        for r in requests {
                            slots.entry(r.slot).or_default().push(r);
                        }
                        sends.extend(slots.into_values().map(|rs| (None, rs)));
                    }
                },
                Group::Slot(_) => sends.push((None, requests)),
            }
        }
        let results = futures::future::join_all(sends.into_iter().map(|(via, requests)| {
            let mut conn = conn.clone();
            async move {
                let cmds: Vec<Cmd> = requests.iter().map(|r| r.cmd.clone()).collect();
                match via {
                    Some((n, mut node)) => {
                        let values = pipeline(&mut node, &cmds, ack).await;
                        (Some(n), requests, values)
                    }
                    None => (None, requests, pipeline(&mut conn, &cmds, ack).await),
                }
            }
        }))
        .await;
        // A node answers a command of a slot it does not hold (any more) with a redirect and
        // runs nothing: those go again alone, through the cluster client.
        let mut again = Vec::new();
        for (node, requests, values) in results {
            for (r, value) in requests.into_iter().zip(values) {
                match value {
                    Err(e) if node.is_some() && e.is_cluster_error() => {
                        nodes.mark_stale();
                        again.push(r);
                    }
                    Err(e) => {
                        if let Some(n) = node.filter(|_| e.is_io_error()) {
                            nodes.drop_connection(n);
                        }
                        let _ = r.answer.send(Err(e));
                    }
                    Ok(v) => {
                        let _ = r.answer.send(Ok(v));
                    }
                }
            }
        }
        futures::future::join_all(again.into_iter().map(|r| {
            let mut conn = conn.clone();
            async move {
                let value = pipeline(&mut conn, std::slice::from_ref(&r.cmd), ack)
                    .await
                    .pop()
                    .unwrap_or_else(|| Err(closed()));
                let _ = r.answer.send(value);
            }
        }))
        .await;
    }
}

/// Where a group of a cluster's commands goes: a master's own connection, or one slot's
/// pipeline through the cluster client.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Group {
    Node(u16),
    Slot(u16),
}
