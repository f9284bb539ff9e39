//! Second-by-second request statistics: how many requests each route served in the last
//! second and their p50 / p99 / max latency, kept for the last two minutes and broadcast to
//! the followers of `GET /api/v1/stats/stream` (the console's performance panel).
//!
//! Every request is recorded into the current second's histograms (one short lock, like the
//! Prometheus counters). A ticker task, started with the server, closes the second once a
//! second; it holds only a weak reference, so it ends with the last state that uses it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::broadcast;

/// Seconds of history a new follower receives first.
pub const HISTORY_SECONDS: usize = 120;

/// Latencies are recorded in microseconds, up to a minute (longer ones count as a minute).
const MAX_MICROS: u64 = 60_000_000;

/// One closed second of traffic.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Second {
    /// End of the second, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Requests answered in that second, every route together.
    pub requests: u64,
    /// Each route that answered at least one request, by method and route template.
    pub routes: Vec<RouteSecond>,
}

/// One route's requests in one second.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RouteSecond {
    /// Method and route template, e.g. `POST /api/v1/applications/{token}/chats`.
    pub route: String,
    /// Requests answered.
    pub requests: u64,
    /// Median latency, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, in milliseconds.
    pub p99_ms: f64,
    /// Slowest request, in milliseconds.
    pub max_ms: f64,
}

/// The current second's histograms, the recent seconds and their followers.
pub struct Stats {
    /// By method, then route template: a request of a route already seen this second
    /// allocates nothing.
    current: Mutex<BTreeMap<&'static str, BTreeMap<String, Histogram<u64>>>>,
    history: Mutex<VecDeque<Arc<Second>>>,
    tx: broadcast::Sender<Arc<Second>>,
    ticking: AtomicBool,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            current: Mutex::default(),
            history: Mutex::new(VecDeque::with_capacity(HISTORY_SECONDS)),
            tx: broadcast::channel(16).0,
            ticking: AtomicBool::new(false),
        }
    }
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stats").finish_non_exhaustive()
    }
}

impl Stats {
    /// Records one request of `method route` (the route template, never a real path).
    pub fn record(&self, method: &str, route: &str, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(MAX_MICROS)
            .clamp(1, MAX_MICROS);
        let method = crate::metrics::known_method(method);
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let routes = current.entry(method).or_default();
        if !routes.contains_key(route) {
            match Histogram::new_with_bounds(1, MAX_MICROS, 2) {
                Ok(h) => routes.insert(route.to_owned(), h),
                Err(_) => return,
            };
        }
        if let Some(h) = routes.get_mut(route) {
            let _ = h.record(micros);
        }
    }

    /// Starts the once-a-second ticker (once; later calls do nothing). Needs a Tokio runtime.
    pub fn start(self: &Arc<Self>) {
        if self.ticking.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak: Weak<Stats> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(stats) = weak.upgrade() else { break };
                stats.close_second();
            }
        });
    }

    /// Closes the current second: summarises it, keeps it and sends it to the followers.
    pub fn close_second(&self) -> Arc<Second> {
        let taken = std::mem::take(&mut *self.current.lock().unwrap_or_else(|e| e.into_inner()));
        let ms = |micros: u64| micros as f64 / 1000.0;
        let routes: Vec<RouteSecond> = taken
            .into_iter()
            .flat_map(|(method, routes)| {
                routes
                    .into_iter()
                    .map(move |(route, h)| (format!("{method} {route}"), h))
            })
            .map(|(route, h)| RouteSecond {
                route,
                requests: h.len(),
                p50_ms: ms(h.value_at_quantile(0.5)),
                p99_ms: ms(h.value_at_quantile(0.99)),
                max_ms: ms(h.max()),
            })
            .collect();
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let second = Arc::new(Second {
            at_ms,
            requests: routes.iter().map(|r| r.requests).sum(),
            routes,
        });
        {
            let mut history = self.history.lock().unwrap_or_else(|e| e.into_inner());
            if history.len() == HISTORY_SECONDS {
                history.pop_front();
            }
            history.push_back(Arc::clone(&second));
            // Sent under the history's lock (see `follow`); no follower is not an error.
            let _ = self.tx.send(Arc::clone(&second));
        }
        second
    }

    /// The recent seconds (oldest first) and a receiver of the next ones, taken together so
    /// that no second is missed or repeated between them.
    pub fn follow(&self) -> (Vec<Arc<Second>>, broadcast::Receiver<Arc<Second>>) {
        let history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        // `close_second` pushes and sends under this lock, so a second is either in the
        // history or received, never both and never neither.
        let rx = self.tx.subscribe();
        (history.iter().cloned().collect(), rx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_closed_second_summarises_each_route_and_starts_the_next_empty() {
        let stats = Stats::default();
        for ms in 1..=100 {
            stats.record("GET", "/a", Duration::from_millis(ms));
        }
        stats.record("POST", "/b", Duration::from_micros(250));
        let s = stats.close_second();
        assert_eq!(s.requests, 101);
        let a = s.routes.iter().find(|r| r.route == "GET /a").unwrap();
        assert_eq!(a.requests, 100);
        assert!((a.p50_ms - 50.0).abs() < 1.0, "{a:?}");
        assert!((a.p99_ms - 99.0).abs() < 1.5, "{a:?}");
        assert!((a.max_ms - 100.0).abs() < 1.5, "{a:?}");
        let b = s.routes.iter().find(|r| r.route == "POST /b").unwrap();
        assert!((b.p50_ms - 0.25).abs() < 0.01, "{b:?}");
        let next = stats.close_second();
        assert_eq!((next.requests, next.routes.len()), (0, 0));
        let (history, _) = stats.follow();
        assert_eq!(history.len(), 2);
    }

    #[test]
    fn history_keeps_the_last_two_minutes() {
        let stats = Stats::default();
        for _ in 0..HISTORY_SECONDS + 5 {
            stats.close_second();
        }
        assert_eq!(stats.follow().0.len(), HISTORY_SECONDS);
    }
}
