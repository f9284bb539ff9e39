//! HTTP metrics (requests by route, method and status; latency histograms by route) and their
//! Prometheus text rendering together with the library's write-path counters.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use chat_core::metrics::MetricsSnapshot;
use chat_core::QueueStatus;

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Latency {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request counters; one short lock per request.
#[derive(Default)]
pub struct HttpMetrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// By route template: a request of a route already seen allocates nothing.
    routes: BTreeMap<String, Route>,
}

/// One route's counters.
#[derive(Default)]
struct Route {
    /// Requests by method and status.
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: Latency,
}

/// The methods the API knows, as themselves; anything else as `OTHER`, so no request can add
/// keys to the counters.
pub(crate) fn known_method(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        _ => "OTHER",
    }
}

impl HttpMetrics {
    /// Records one request: `route` is the matched path template (never a real token).
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let method = known_method(method);
        let secs = elapsed.as_secs_f64();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !inner.routes.contains_key(route) {
            inner.routes.insert(route.to_owned(), Route::default());
        }
        let Some(r) = inner.routes.get_mut(route) else {
            return;
        };
        *r.requests.entry((method, status)).or_default() += 1;
        let l = &mut r.latency;
        l.count += 1;
        l.sum += secs;
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&b| secs <= b) {
            l.buckets[i] += 1;
        }
    }

    /// Prometheus text of the HTTP metrics, the write path's counters and (distributed
    /// profile) the queue.
    pub fn render(&self, writes: &MetricsSnapshot, queue: Option<&QueueStatus>) -> String {
        let mut out = String::new();
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str(
            "# HELP chat_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE chat_http_requests_total counter\n");
        let requests = inner
            .routes
            .iter()
            .flat_map(|(route, r)| r.requests.iter().map(move |(k, n)| (route, k, n)));
        for (route, (method, status), n) in requests {
            let _ = writeln!(
                out,
                "chat_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP chat_http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE chat_http_request_duration_seconds histogram\n");
        for (route, l) in inner.routes.iter().map(|(route, r)| (route, &r.latency)) {
            let mut cumulative = 0;
            for (le, n) in LATENCY_BUCKETS.iter().zip(l.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "chat_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "chat_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 chat_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 chat_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                l.count, l.sum, l.count
            );
        }
        drop(inner);
        let _ = write!(
            out,
            "# HELP chat_write_batches_total Committed write transactions.\n\
             # TYPE chat_write_batches_total counter\n\
             chat_write_batches_total {}\n\
             # HELP chat_write_failed_batches_total Write transactions rolled back.\n\
             # TYPE chat_write_failed_batches_total counter\n\
             chat_write_failed_batches_total {}\n\
             # HELP chat_write_queue_depth Write requests waiting for the writer.\n\
             # TYPE chat_write_queue_depth gauge\n\
             chat_write_queue_depth {}\n\
             # HELP chat_search_backlog Embedded profile: messages awaiting their search-index entry (found meanwhile by the backlog scan).\n\
             # TYPE chat_search_backlog gauge\n\
             chat_search_backlog {}\n\
             # HELP chat_search_indexed_total Embedded profile: messages this process indexed from the backlog.\n\
             # TYPE chat_search_indexed_total counter\n\
             chat_search_indexed_total {}\n\
             # HELP chat_search_indexing_seconds_total Embedded profile: time this process spent indexing the backlog.\n\
             # TYPE chat_search_indexing_seconds_total counter\n\
             chat_search_indexing_seconds_total {}\n\
             # HELP chat_write_batch_size Write requests committed per transaction.\n\
             # TYPE chat_write_batch_size histogram\n",
            writes.batches,
            writes.failed_batches,
            writes.queue_depth,
            writes.search_backlog,
            writes.indexed,
            writes.indexing_micros as f64 / 1e6
        );
        for (le, n) in &writes.batch_size_buckets {
            let _ = writeln!(out, "chat_write_batch_size_bucket{{le=\"{le}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "chat_write_batch_size_bucket{{le=\"+Inf\"}} {}\nchat_write_batch_size_sum {}\nchat_write_batch_size_count {}",
            writes.batches, writes.operations, writes.batches
        );
        if let Some(q) = queue {
            let _ = write!(
                out,
                "# HELP chat_queue_depth Entries in the write queue (waiting or held by a worker).\n\
                 # TYPE chat_queue_depth gauge\n\
                 chat_queue_depth {}\n\
                 # HELP chat_queue_pending Entries delivered to a worker and not yet acknowledged.\n\
                 # TYPE chat_queue_pending gauge\n\
                 chat_queue_pending {}\n\
                 # HELP chat_queue_dead Entries in the dead-letter stream.\n\
                 # TYPE chat_queue_dead gauge\n\
                 chat_queue_dead {}\n\
                 # HELP chat_queue_oldest_age_seconds Age of the oldest queued entry (0 when empty).\n\
                 # TYPE chat_queue_oldest_age_seconds gauge\n\
                 chat_queue_oldest_age_seconds {}\n",
                q.depth,
                q.pending,
                q.dead,
                q.oldest_age_ms.unwrap_or(0) as f64 / 1000.0
            );
            if !q.shards.is_empty() {
                let _ = write!(
                    out,
                    "# HELP chat_queue_shard_depth Entries in one shard of the write queue.\n\
                     # TYPE chat_queue_shard_depth gauge\n"
                );
                for s in &q.shards {
                    let _ = writeln!(
                        out,
                        "chat_queue_shard_depth{{shard=\"{}\"}} {}",
                        s.shard, s.depth
                    );
                }
                let _ = write!(
                    out,
                    "# HELP chat_queue_shard_pending Entries of one shard held by a worker.\n\
                     # TYPE chat_queue_shard_pending gauge\n"
                );
                for s in &q.shards {
                    let _ = writeln!(
                        out,
                        "chat_queue_shard_pending{{shard=\"{}\"}} {}",
                        s.shard, s.pending
                    );
                }
                let _ = write!(
                    out,
                    "# HELP chat_queue_shard_dead Entries in one shard's dead-letter stream.\n\
                     # TYPE chat_queue_shard_dead gauge\n"
                );
                for s in &q.shards {
                    let _ = writeln!(
                        out,
                        "chat_queue_shard_dead{{shard=\"{}\"}} {}",
                        s.shard, s.dead
                    );
                }
            }
        }
        out
    }
}
