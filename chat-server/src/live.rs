//! Live streams: the per-process limit on open streams, their counters, and the switch that
//! ends every stream when the server shuts down (graceful shutdown waits for open
//! connections, and a stream would otherwise never end).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use chat_core::Error;
use tokio::sync::watch;

use crate::error::ApiError;

/// The default most streams one process keeps open.
pub const DEFAULT_MAX_STREAMS: usize = 10_000;

/// The open streams of this process.
#[derive(Debug)]
pub struct LiveStreams {
    max: usize,
    open: AtomicUsize,
    sent: AtomicU64,
    cut_off: AtomicU64,
    stop: watch::Sender<bool>,
}

impl Default for LiveStreams {
    fn default() -> Self {
        LiveStreams::new(DEFAULT_MAX_STREAMS)
    }
}

impl LiveStreams {
    /// At most `max` streams open at once.
    pub fn new(max: usize) -> Self {
        LiveStreams {
            max,
            open: AtomicUsize::new(0),
            sent: AtomicU64::new(0),
            cut_off: AtomicU64::new(0),
            stop: watch::channel(false).0,
        }
    }

    /// A place for one more stream, or 503 (with `Retry-After`) when all are taken.
    pub fn admit(self: &Arc<Self>) -> Result<StreamGuard, ApiError> {
        let before = self.open.fetch_add(1, Ordering::AcqRel);
        if before >= self.max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::unavailable(
                "server",
                format!(
                    "this server has {} live streams open, its limit: try again shortly \
                     (or another server)",
                    self.max
                ),
            )
            .into());
        }
        Ok(StreamGuard {
            streams: Arc::clone(self),
        })
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Counts one event sent.
    pub fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one stream ended because its follower could not keep up (or its source failed).
    pub fn cut_off(&self) {
        self.cut_off.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends every stream, now and from now on.
    pub fn shut_down(&self) {
        self.stop.send_replace(true);
    }

    /// Resolves when the server shuts down.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.stop.subscribe();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }

    /// The Prometheus text of the live counters.
    pub fn render(&self) -> String {
        format!(
            "# HELP chat_live_streams_open Live streams (server-sent events) open now.\n\
             # TYPE chat_live_streams_open gauge\n\
             chat_live_streams_open {}\n\
             # HELP chat_live_events_sent_total Events sent on live streams.\n\
             # TYPE chat_live_events_sent_total counter\n\
             chat_live_events_sent_total {}\n\
             # HELP chat_live_streams_cut_off_total Live streams ended because the follower fell behind.\n\
             # TYPE chat_live_streams_cut_off_total counter\n\
             chat_live_streams_cut_off_total {}\n",
            self.open(),
            self.sent.load(Ordering::Relaxed),
            self.cut_off.load(Ordering::Relaxed),
        )
    }
}

/// One open stream's place; dropping it (the stream ended or its client left) frees it.
#[derive(Debug)]
pub struct StreamGuard {
    streams: Arc<LiveStreams>,
}

impl StreamGuard {
    /// The streams this one counts in.
    pub fn streams(&self) -> &LiveStreams {
        &self.streams
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.streams.open.fetch_sub(1, Ordering::AcqRel);
    }
}
