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

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::{mpsc, watch, Mutex};

use super::queue::decode;
use crate::error::{Error, Result};
use crate::live::{Hub, LiveEvent, Subscription};
use crate::model::{Message, MessageNumber};
use crate::store::distributed::mysql::Job;
use crate::store::from_micros;

/// The process's side of the live channels.
pub(crate) struct RedisLive {
    client: redis::Client,
    hub: Hub<String>,
    sink: Mutex<Option<PubSubSink>>,
    streams: mpsc::UnboundedSender<PubSubStream>,
}

impl RedisLive {
    /// The feed and the relay task to spawn (it runs until `stop` turns true).
    pub(crate) fn new(
        client: redis::Client,
        stop: watch::Receiver<bool>,
    ) -> (Arc<Self>, impl std::future::Future<Output = ()> + Send) {
        let (streams, rx) = mpsc::unbounded_channel();
        let live = Arc::new(RedisLive {
            client,
            hub: Hub::default(),
            sink: Mutex::new(None),
            streams,
        });
        let relay = relay(Arc::clone(&live), rx, stop);
        (live, relay)
    }

    /// Follows `channel`: returns once Redis confirmed the subscription.
    pub(crate) async fn subscribe(&self, channel: String) -> Result<Subscription> {
        let (sub, _) = self.hub.subscribe(channel.clone());
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
        let (sink, stream) = self.client.get_async_pubsub().await?.split();
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
            match live.hub.feed(&channel) {
                Some(feed) => match msg.get_payload::<String>() {
                    // The chat is deleted: its followers' streams end.
                    Ok(json) if matches!(decode(&json), Ok(Job::DeleteChat { .. })) => {
                        live.hub.end(&channel)
                    }
                    Ok(json) => match event(&json) {
                        Ok(e) => feed.send(e),
                        Err(e) => tracing::warn!(error = %e, "undecodable live message"),
                    },
                    Err(e) => tracing::warn!(error = %e, "undecodable live message"),
                },
                None => {
                    // Nobody follows this chat here any more.
                    if let Some(mut sink) = live.sink.lock().await.clone() {
                        let _ = sink.unsubscribe(&channel).await;
                    }
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
