//! Driving the load and recording it: the workload (which operation each request does, with
//! what input), the workers of the closed and open loop, and the [`Recorder`] that keeps the
//! run's histograms, its timeline in fixed windows, the errors by kind and the acknowledged
//! creations.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chat_core::{ChatApi, ChatNumber, MessageNumber, SearchRequest, SearchSort, Token};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::text::{spread, Text, QUERIES};
use super::verify::{Ack, Acks};
use super::{Mix, Scenario};
use crate::exit::{CliError, CliResult};

/// Width of one point of the timeline.
pub const WINDOW: Duration = Duration::from_millis(500);
/// Latencies are recorded in microseconds, up to ten minutes.
const HIGHEST_US: u64 = 600_000_000;

/// A `GET /health` client of the server.
pub struct Health {
    http: reqwest::Client,
    url: String,
}

/// The health route of the server at `url`.
pub fn health_client(url: &str) -> CliResult<Health> {
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(600))
        .build()
        .map_err(|e| CliError::failed(format!("cannot build the HTTP client: {e}")))?;
    Ok(Health {
        http,
        url: format!("{}/health", url.trim_end_matches('/')),
    })
}

/// What the requests do.
pub struct Workload {
    api: Arc<dyn ChatApi>,
    token: Token,
    chats: Vec<ChatNumber>,
    seeded: u32,
    body_size: usize,
    /// Operations with their cumulative weights.
    mix: Vec<(Scenario, u64)>,
    total_weight: u64,
    health: Option<Health>,
    /// The search scenario's order.
    sort: SearchSort,
    /// The search scenario's texts, in turn (the built-in [`QUERIES`] when empty).
    queries: Vec<String>,
}

impl Workload {
    /// The workload of a mix over these chats, each holding messages `1..=seeded`.
    pub fn new(
        api: Arc<dyn ChatApi>,
        token: Token,
        chats: Vec<ChatNumber>,
        seeded: u32,
        body_size: usize,
        mix: &Mix,
        health: Option<Health>,
    ) -> Self {
        let mut total = 0;
        let mix = mix
            .0
            .iter()
            .map(|(op, w)| {
                total += u64::from(*w);
                (*op, total)
            })
            .collect();
        Workload {
            api,
            token,
            chats,
            seeded,
            body_size,
            mix,
            total_weight: total,
            health,
            sort: SearchSort::Newest,
            queries: Vec::new(),
        }
    }

    /// The same workload, its searches in this order and for these texts (the built-in mix of
    /// common, rare and absent substrings when `queries` is empty).
    pub fn searching(mut self, sort: SearchSort, queries: Vec<String>) -> Self {
        self.sort = sort;
        self.queries = queries;
        self
    }

    /// The search of request `r`: its order, and the texts in turn.
    fn search_request(&self, r: u64) -> SearchRequest {
        let query = if self.queries.is_empty() {
            QUERIES[(r % QUERIES.len() as u64) as usize].to_owned()
        } else {
            self.queries[(r % self.queries.len() as u64) as usize].clone()
        };
        SearchRequest {
            limit: 20,
            sort: self.sort,
            ..SearchRequest::new(query)
        }
    }

    /// The operation of request `i`.
    fn pick(&self, i: u64) -> Scenario {
        let x = spread(i) % self.total_weight.max(1);
        self.mix
            .iter()
            .find(|(_, upto)| x < *upto)
            .map_or(Scenario::Health, |(op, _)| *op)
    }

    fn chat(&self, i: u64) -> ChatNumber {
        self.chats[(i % self.chats.len() as u64) as usize]
    }

    /// Sends request `i`; returns what it created, or the kind of its failure.
    async fn send(&self, op: Scenario, i: u64) -> Result<Option<Ack>, String> {
        let r = spread(i ^ 0xA5A5);
        match op {
            Scenario::CreateMessage => {
                let body = Text::new(r).body(self.body_size);
                let chat = self.chat(i);
                let m = self
                    .api
                    .create_message(&self.token, chat, &body)
                    .await
                    .map_err(|e| kind(&e))?;
                Ok(Some(Ack::Message(chat.get(), m.number.get())))
            }
            Scenario::CreateChat => {
                let c = self
                    .api
                    .create_chat(&self.token)
                    .await
                    .map_err(|e| kind(&e))?;
                Ok(Some(Ack::Chat(c.number.get())))
            }
            Scenario::Read => {
                let n = (r % u64::from(self.seeded.max(1))) as u32 + 1;
                let number = MessageNumber::new(n).map_err(|e| kind(&e))?;
                self.api
                    .get_message(&self.token, self.chat(r >> 20), number)
                    .await
                    .map_err(|e| kind(&e))?;
                Ok(None)
            }
            Scenario::Search => {
                let request = self.search_request(r);
                self.api
                    .search_messages(&self.token, self.chat(r >> 20), &request)
                    .await
                    .map_err(|e| kind(&e))?;
                Ok(None)
            }
            Scenario::Health | Scenario::Mixed => {
                let health = self.health.as_ref().ok_or("internal")?;
                let response = health
                    .http
                    .get(&health.url)
                    .send()
                    .await
                    .map_err(|_| "unavailable (server)".to_owned())?;
                let status = response.status();
                response
                    .bytes()
                    .await
                    .map_err(|_| "unavailable (server)".to_owned())?;
                if status.is_success() {
                    Ok(None)
                } else {
                    Err(format!("status {}", status.as_u16()))
                }
            }
        }
    }
}

/// A failure's kind, as counted in the report: the error's stable code, with the backend for
/// an unavailable one and the status for an unexpected answer.
fn kind(e: &chat_core::Error) -> String {
    match e {
        chat_core::Error::Unavailable { backend, .. } => format!("unavailable ({backend})"),
        chat_core::Error::Internal(m) => match m.strip_prefix("server answered ") {
            Some(rest) => format!("status {}", rest.split(' ').next().unwrap_or("?")),
            None => "internal".to_owned(),
        },
        other => other.code().to_owned(),
    }
}

/// How the load is shaped.
pub struct Plan {
    /// Workers, so requests in flight at most.
    pub concurrency: u32,
    /// Open loop at this many requests per second; closed loop without.
    pub rate: Option<f64>,
}

/// When the load stops.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// After this long (open loop: no request scheduled at or after it).
    Duration(Duration),
    /// After this many requests.
    Requests(u64),
}

/// What one drive did.
pub struct Driven {
    /// From the first request's start to the last answer.
    pub elapsed: Duration,
    /// Requests sent (in open loop, the requests scheduled).
    pub sent: u64,
}

/// Runs the plan's workers until `stop`; every answer goes to `recorder`.
pub async fn drive(
    plan: &Plan,
    stop: Stop,
    workload: &Arc<Workload>,
    recorder: &Arc<Recorder>,
    line: Option<&ProgressBar>,
) -> Driven {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    recorder.start(start);
    let workers: Vec<_> = (0..plan.concurrency)
        .map(|_| {
            let (next, workload, recorder) = (
                Arc::clone(&next),
                Arc::clone(workload),
                Arc::clone(recorder),
            );
            let rate = plan.rate;
            tokio::spawn(async move {
                let mut sent = 0u64;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let scheduled = match rate {
                        Some(r) => start + Duration::from_secs_f64(i as f64 / r),
                        None => Instant::now(),
                    };
                    let over = match stop {
                        Stop::Requests(n) => i >= n,
                        Stop::Duration(d) => scheduled >= start + d,
                    };
                    if over {
                        break;
                    }
                    if rate.is_some() {
                        tokio::time::sleep_until(scheduled.into()).await;
                    }
                    let op = workload.pick(i);
                    let outcome = workload.send(op, i).await;
                    recorder.record(op, scheduled.elapsed(), outcome);
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    let ticker = {
        let (recorder, line) = (Arc::clone(recorder), line.cloned());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at((start + WINDOW).into(), WINDOW);
            loop {
                tick.tick().await;
                let text = recorder.close_window();
                if let Some(line) = &line {
                    line.set_message(text);
                }
            }
        })
    };
    let mut sent = 0;
    for w in workers {
        sent += w.await.unwrap_or(0);
    }
    ticker.abort();
    recorder.close_window();
    Driven {
        elapsed: start.elapsed(),
        sent,
    }
}

/// The live line on stderr (drawn only on a terminal, and not with --quiet).
pub fn live_line(quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let line = ProgressBar::with_draw_target(None, target).with_style(
        ProgressStyle::with_template("{spinner} bench {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    line.set_message("starting…");
    line.enable_steady_tick(Duration::from_millis(120));
    line
}

/// One point of the timeline: a window of [`WINDOW`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Point {
    /// End of the window, in seconds from the start.
    pub t_s: f64,
    /// Answers in the window.
    pub requests: u64,
    /// Failed answers in the window.
    pub errors: u64,
    /// Answers per second in the window.
    pub per_second: f64,
    /// Latency percentiles of the window's answers, in milliseconds.
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Counts of one operation.
pub struct OpStats {
    pub latency: Histogram<u64>,
    pub errors: u64,
}

struct State {
    start: Instant,
    window_start: Duration,
    window: Histogram<u64>,
    window_errors: u64,
    timeline: Vec<Point>,
    total: Histogram<u64>,
    ops: BTreeMap<Scenario, OpStats>,
    errors: BTreeMap<String, u64>,
    failed: u64,
    acks: Acks,
}

/// Everything the run measured, shared by the workers.
pub struct Recorder {
    state: Mutex<State>,
    line: Option<ProgressBar>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("constant bounds are valid")
}

/// Milliseconds of a histogram value in microseconds.
pub fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Recorder {
    /// An empty recorder; `line` shows its pace.
    pub fn new(line: Option<ProgressBar>) -> Self {
        Recorder {
            state: Mutex::new(State {
                start: Instant::now(),
                window_start: Duration::ZERO,
                window: histogram(),
                window_errors: 0,
                timeline: Vec::new(),
                total: histogram(),
                ops: BTreeMap::new(),
                errors: BTreeMap::new(),
                failed: 0,
                acks: Acks::default(),
            }),
            line,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent counters: keep using them.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn start(&self, at: Instant) {
        self.lock().start = at;
    }

    fn record(&self, op: Scenario, latency: Duration, outcome: Result<Option<Ack>, String>) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, HIGHEST_US);
        let mut s = self.lock();
        s.total.saturating_record(us);
        s.window.saturating_record(us);
        let stats = s.ops.entry(op).or_insert_with(|| OpStats {
            latency: histogram(),
            errors: 0,
        });
        stats.latency.saturating_record(us);
        match outcome {
            Ok(Some(ack)) => s.acks.push(ack),
            Ok(None) => {}
            Err(kind) => {
                stats.errors += 1;
                s.failed += 1;
                s.window_errors += 1;
                *s.errors.entry(kind).or_default() += 1;
            }
        }
    }

    /// Ends the current window: adds it to the timeline and returns the live line's text.
    fn close_window(&self) -> String {
        let mut s = self.lock();
        let now = s.start.elapsed();
        let span = (now - s.window_start).as_secs_f64();
        let w = &s.window;
        let point = Point {
            t_s: now.as_secs_f64(),
            requests: w.len(),
            errors: s.window_errors,
            per_second: if span > 0.0 {
                w.len() as f64 / span
            } else {
                0.0
            },
            p50_ms: ms(w.value_at_quantile(0.5)),
            p90_ms: ms(w.value_at_quantile(0.9)),
            p99_ms: ms(w.value_at_quantile(0.99)),
            max_ms: ms(w.max()),
        };
        let text = format!(
            "{:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}  ({} requests)",
            point.per_second,
            point.p50_ms,
            point.p99_ms,
            s.failed,
            crate::progress::thousands(s.total.len())
        );
        // A last sliver of a window (the run ended just after a tick) would show a rate
        // measured over a few milliseconds: leave it out of the timeline.
        if span >= WINDOW.as_secs_f64() / 5.0 {
            s.timeline.push(point);
        }
        s.window_start = now;
        s.window.reset();
        s.window_errors = 0;
        if let Some(line) = &self.line {
            line.tick();
        }
        text
    }

    /// Answers recorded.
    pub fn requests(&self) -> u64 {
        self.lock().total.len()
    }

    /// Answers that were not failures.
    pub fn ok(&self) -> u64 {
        let s = self.lock();
        s.total.len() - s.failed
    }

    /// The acknowledged creations, taken out.
    pub fn take_acks(&self) -> Acks {
        std::mem::take(&mut self.lock().acks)
    }

    /// Runs `f` on the figures.
    pub fn with<T>(&self, f: impl FnOnce(&Figures<'_>) -> T) -> T {
        let s = self.lock();
        f(&Figures {
            total: &s.total,
            ops: &s.ops,
            errors: &s.errors,
            failed: s.failed,
            timeline: &s.timeline,
        })
    }
}

/// A read-only view of what a [`Recorder`] holds.
pub struct Figures<'a> {
    pub total: &'a Histogram<u64>,
    pub ops: &'a BTreeMap<Scenario, OpStats>,
    pub errors: &'a BTreeMap<String, u64>,
    pub failed: u64,
    pub timeline: &'a [Point],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_asked_size_and_are_never_blank() {
        let mut t = Text::new(7);
        for size in [1, 2, 5, 70, 500] {
            let b = t.body(size);
            assert_eq!(b.len(), size);
            assert!(!b.trim().is_empty());
        }
    }

    #[test]
    fn a_mix_picks_operations_in_its_proportions() {
        let api: Arc<dyn ChatApi> =
            Arc::new(chat_core::HttpClient::new("http://127.0.0.1:9").expect("a valid URL"));
        let mix = Mix(vec![(Scenario::CreateMessage, 70), (Scenario::Read, 30)]);
        let w = Workload::new(api, Token::generate(), vec![], 1, 10, &mix, None);
        let creates = (0..10_000)
            .filter(|i| w.pick(*i) == Scenario::CreateMessage)
            .count();
        assert!((6_700..7_300).contains(&creates), "{creates} of 10,000");
    }

    #[test]
    fn searches_take_the_asked_order_and_texts_in_turn() {
        let api: Arc<dyn ChatApi> =
            Arc::new(chat_core::HttpClient::new("http://127.0.0.1:9").expect("a valid URL"));
        let mix = Mix(vec![(Scenario::Search, 1)]);
        let w = Workload::new(api, Token::generate(), vec![], 1, 10, &mix, None);
        let built_in: Vec<String> = (0..6).map(|r| w.search_request(r).query).collect();
        assert_eq!(built_in, QUERIES);
        assert_eq!(w.search_request(0).sort, SearchSort::Newest);
        let w = w.searching(SearchSort::Relevance, vec!["ocean".into(), "tide".into()]);
        let asked: Vec<(String, SearchSort)> = (0..4)
            .map(|r| {
                let s = w.search_request(r);
                (s.query, s.sort)
            })
            .collect();
        assert_eq!(
            asked,
            [
                ("ocean".to_owned(), SearchSort::Relevance),
                ("tide".to_owned(), SearchSort::Relevance),
                ("ocean".to_owned(), SearchSort::Relevance),
                ("tide".to_owned(), SearchSort::Relevance),
            ]
        );
    }

    #[test]
    fn failures_are_counted_by_kind() {
        assert_eq!(
            kind(&chat_core::Error::unavailable("server", "down")),
            "unavailable (server)"
        );
        assert_eq!(
            kind(&chat_core::Error::Internal(
                "server answered 502 Bad Gateway: x".into()
            )),
            "status 502"
        );
        assert_eq!(
            kind(&chat_core::Error::BadRequest("x".into())),
            "bad_request"
        );
    }
}
