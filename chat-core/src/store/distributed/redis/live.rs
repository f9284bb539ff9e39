//! The distributed profile's live feed: the create and edit scripts publish each job to the
//! chat's Pub/Sub channel (`live:a:c`) inside the script, so a creation reaches every API
//! process at once, before any worker persisted it, in number order, and without MySQL.
//!
//! Each process holds one Pub/Sub connection, opened when its first follower arrives; it
//! subscribes to a chat's channel while the chat has followers here (a follower's subscription
//! is confirmed before its replay starts) and relays each message to the chat's [`Hub`]
//! channel. When the connection drops it reconnects and subscribes again; creations published
//! meanwhile are read from the store by the followers' gap filling (see [`crate::live`]). A
//! chat's delete is published too: its followers' streams end (an application's delete is not:
//! the followers of its chats stay connected, and get nothing more).
//!
//! On a Redis Cluster the channels are **sharded** (`SPUBLISH`/`SSUBSCRIBE`, Redis 7): a
//! chat's channel carries the hash tag of the chat's keys, so the script publishes on the node
//! that runs it and a message never crosses the cluster bus to every node; the cluster client
//! subscribes on the node that owns the slot and subscribes again when the slot moves (a
//! failover). Creations published during the move are read by the followers' gap filling.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::{mpsc, watch, Mutex};

use super::conn::node_urls;
use super::queue::decode;
use crate::error::{Error, Result};
use crate::live::{Hub, LiveEvent, Subscription};
use crate::model::{Message, MessageNumber};
use crate::store::distributed::mysql::Job;
use crate::store::from_micros;

/// The process's side of the live channels.
pub(crate) struct RedisLive {
    client: Option<redis::Client>,
    hub: Hub<String>,
    sink: Mutex<Option<PubSubSink>>,
    streams: mpsc::UnboundedSender<PubSubStream>,
    cluster: Option<ClusterLive>,
}

/// On a cluster: one connection (RESP3) whose pushes carry the sharded messages.
struct ClusterLive {
    client: ClusterClient,
    conn: Mutex<Option<ClusterConnection>>,
}

/// The relay task of a [`RedisLive`].
type Relay = Pin<Box<dyn Future<Output = ()> + Send>>;

impl RedisLive {
    /// The feed for `url` (one node, or a cluster's list) and the relay task to spawn (it
    /// runs until `stop` turns true).
    pub(crate) fn new(url: &str, stop: watch::Receiver<bool>) -> Result<(Arc<Self>, Relay)> {
        let bad = |e: redis::RedisError| {
            Error::BadRequest(format!(
                "invalid Redis URL {}: {e}",
                crate::config::redact_url(url)
            ))
        };
        let (streams, rx) = mpsc::unbounded_channel();
        let nodes = node_urls(url);
        if nodes.len() > 1 {
            let (pushes, pushed) = mpsc::unbounded_channel::<PushInfo>();
            let client = ClusterClientBuilder::new(nodes)
                .use_protocol(redis::ProtocolVersion::RESP3)
                .push_sender(pushes)
                .connection_timeout(Duration::from_secs(2))
                .response_timeout(Duration::from_secs(5))
                .build()
                .map_err(bad)?;
            let live = Arc::new(RedisLive {
                client: None,
                hub: Hub::default(),
                sink: Mutex::new(None),
                streams,
                cluster: Some(ClusterLive {
                    client,
                    conn: Mutex::new(None),
                }),
            });
            let relay = Box::pin(relay_cluster(Arc::clone(&live), pushed, stop));
            return Ok((live, relay));
        }
        let client = redis::Client::open(url).map_err(bad)?;
        let live = Arc::new(RedisLive {
            client: Some(client),
            hub: Hub::default(),
            sink: Mutex::new(None),
            streams,
            cluster: None,
        });
        let relay = Box::pin(relay(Arc::clone(&live), rx, stop));
        Ok((live, relay))
    }

    /// Follows `channel`: returns once Redis confirmed the subscription.
    pub(crate) async fn subscribe(&self, channel: String) -> Result<Subscription> {
        let (sub, _) = self.hub.subscribe(channel.clone());
        if let Some(cluster) = &self.cluster {
            let mut slot = cluster.conn.lock().await;
            let conn = match slot.as_ref() {
                Some(conn) => conn.clone(),
                None => {
                    let conn = cluster.client.get_async_connection().await?;
                    *slot = Some(conn.clone());
                    conn
                }
            };
            drop(slot);
            conn.clone().ssubscribe(&channel).await?;
            return Ok(sub);
        }
        let mut sink = self.connect().await?;
        sink.subscribe(&channel).await?;
        Ok(sub)
    }

    /// The connection's sink, opening the connection when there is none.
    async fn connect(&self) -> Result<PubSubSink> {
        let mut slot = self.sink.lock().await;
        if let Some(sink) = slot.as_ref() {
            return Ok(sink.clone());
        }
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| Error::Internal("no single-Redis client".into()))?;
        let (sink, stream) = client.get_async_pubsub().await?.split();
        self.streams
            .send(stream)
            .map_err(|_| Error::unavailable("redis", "the service is shutting down"))?;
        *slot = Some(sink.clone());
        Ok(sink)
    }

    /// Ends every follower's stream.
    pub(crate) fn close(&self) {
        self.hub.close();
    }
}

/// Relays a message published on `channel` to the chat's followers here.
async fn deliver(live: &RedisLive, channel: &String, payload: Option<String>) -> bool {
    let Some(feed) = live.hub.feed(channel) else {
        return false;
    };
    match payload {
        // The chat is deleted: its followers' streams end.
        Some(json) if matches!(decode(&json), Ok(Job::DeleteChat { .. })) => live.hub.end(channel),
        Some(json) => match event(&json) {
            Ok(e) => feed.send(e),
            Err(e) => tracing::warn!(error = %e, "undecodable live message"),
        },
        None => tracing::warn!("undecodable live message"),
    }
    true
}

/// On a cluster: relays the sharded messages pushed on the cluster connection (the client
/// subscribes again by itself after a failover or a slot move).
async fn relay_cluster(
    live: Arc<RedisLive>,
    mut pushed: mpsc::UnboundedReceiver<PushInfo>,
    mut stop: watch::Receiver<bool>,
) {
    let text = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    };
    loop {
        let push = tokio::select! {
            p = pushed.recv() => match p { Some(p) => p, None => return },
            _ = stop.changed() => return,
        };
        if push.kind != PushKind::SMessage {
            continue;
        }
        let (Some(channel), payload) = (
            push.data.first().and_then(text),
            push.data.get(1).and_then(text),
        ) else {
            continue;
        };
        if !deliver(&live, &channel, payload).await {
            // Nobody follows this chat here any more.
            let conn = live
                .cluster
                .as_ref()
                .and_then(|c| c.conn.try_lock().ok().and_then(|c| c.clone()));
            if let Some(mut conn) = conn {
                let _ = conn.sunsubscribe(&channel).await;
            }
        }
    }
}

/// Relays every message of the current connection; reconnects when it drops.
async fn relay(
    live: Arc<RedisLive>,
    mut streams: mpsc::UnboundedReceiver<PubSubStream>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let mut stream = tokio::select! {
            s = streams.recv() => match s { Some(s) => s, None => return },
            _ = stop.changed() => return,
        };
        loop {
            let msg = tokio::select! {
                m = stream.next() => m,
                _ = stop.changed() => return,
            };
            let Some(msg) = msg else { break };
            let channel = msg.get_channel_name().to_owned();
            if !deliver(&live, &channel, msg.get_payload::<String>().ok()).await {
                // Nobody follows this chat here any more.
                if let Some(mut sink) = live.sink.lock().await.clone() {
                    let _ = sink.unsubscribe(&channel).await;
                }
            }
        }
        // The connection dropped: open another for the chats still followed.
        *live.sink.lock().await = None;
        let mut delay = Duration::from_millis(50);
        while !live.hub.is_empty() {
            if resubscribe(&live).await.is_ok() {
                break;
            }
            tracing::warn!("live: Redis Pub/Sub unavailable; retrying");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stop.changed() => return,
            }
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }
}

async fn resubscribe(live: &RedisLive) -> Result<()> {
    let mut sink = live.connect().await?;
    for (channel, _) in live.hub.feeds() {
        if let Err(e) = sink.subscribe(&channel).await {
            *live.sink.lock().await = None;
            return Err(e.into());
        }
    }
    Ok(())
}

/// A published job as an event.
fn event(json: &str) -> Result<LiveEvent> {
    match decode(json)? {
        Job::Message {
            number,
            body,
            created_at,
            updated_at,
            edit,
            ..
        } => {
            let m = Message {
                number: MessageNumber::new(number)?,
                body,
                created_at: from_micros(created_at),
                updated_at: from_micros(updated_at),
            };
            Ok(if edit {
                LiveEvent::Edited(m)
            } else {
                LiveEvent::Created(m)
            })
        }
        Job::DeleteMessage { number, .. } => Ok(LiveEvent::Deleted {
            number: MessageNumber::new(number)?,
        }),
        other => Err(Error::Internal(format!(
            "a job that is not a message's on a live channel: {other:?}"
        ))),
    }
}
