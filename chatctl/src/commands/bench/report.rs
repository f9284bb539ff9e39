//! The outcome of a run: one value holding every figure, printed as tables for people or as
//! JSON for scripts (the same fields either way).

use std::collections::BTreeMap;

use chat_core::Token;
use comfy_table::Cell;
use hdrhistogram::Histogram;
use serde::Serialize;

use super::cpu::CpuUse;
use super::load::{ms, Driven, Point, Recorder};
use super::verify::Verification;
use super::{BenchArgs, Mix, Scenario};
use crate::cli::Format;
use crate::context::{Context, Target};
use crate::exit::CliResult;
use crate::output::count;
use crate::progress::thousands;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        Latency {
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p99_9: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// The figures of one operation.
#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    pub operation: &'static str,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub per_second: f64,
    pub latency_ms: Latency,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub scenario: &'static str,
    /// `server URL` or `direct DATABASE` (password redacted).
    pub target: String,
    /// `closed` (each worker waits for its answer) or `open` (fixed arrival rate).
    pub mode: &'static str,
    pub concurrency: u32,
    pub rate: Option<f64>,
    pub mix: Option<BTreeMap<&'static str, u32>>,
    pub warmup_s: f64,
    /// The application the load went to (absent for the health route alone).
    pub application: Option<String>,
    /// Seconds from the first request to the last answer.
    pub duration_s: f64,
    /// Requests sent (open loop: scheduled) and answered.
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    /// Answers per second over the run.
    pub per_second: f64,
    pub latency_ms: Latency,
    pub operations: Vec<Operation>,
    pub errors_by_kind: BTreeMap<String, u64>,
    /// The run in windows of half a second.
    pub timeline: Vec<Point>,
    /// The check of acknowledged creations (absent when nothing was created or --no-verify).
    pub verification: Option<Verification>,
    /// CPU spent by the processes of `--cpu` during the measured run (empty without it).
    pub cpu: Vec<CpuUse>,
}

impl Outcome {
    /// Gathers the figures.
    pub fn new(
        args: &BenchArgs,
        mix: &Mix,
        ctx: &Context,
        token: Option<&Token>,
        driven: &Driven,
        recorder: &Recorder,
        verification: Option<Verification>,
    ) -> Self {
        let secs = driven.elapsed.as_secs_f64().max(1e-6);
        recorder.with(|f| Outcome {
            scenario: args.scenario.name(),
            target: match &ctx.target {
                Target::Server(url) => format!("server {url}"),
                Target::Direct(db) => format!("direct {db}"),
            },
            mode: if args.rate.is_some() {
                "open"
            } else {
                "closed"
            },
            concurrency: args.concurrency,
            rate: args.rate,
            mix: (args.scenario == Scenario::Mixed)
                .then(|| mix.0.iter().map(|(op, w)| (op.name(), *w)).collect()),
            warmup_s: args.warmup.as_secs_f64(),
            application: token.map(Token::to_string),
            duration_s: secs,
            requests: driven.sent,
            ok: f.total.len() - f.failed,
            errors: f.failed,
            per_second: f.total.len() as f64 / secs,
            latency_ms: Latency::of(f.total),
            operations: f
                .ops
                .iter()
                .map(|(op, s)| Operation {
                    operation: op.name(),
                    requests: s.latency.len(),
                    ok: s.latency.len() - s.errors,
                    errors: s.errors,
                    per_second: s.latency.len() as f64 / secs,
                    latency_ms: Latency::of(&s.latency),
                })
                .collect(),
            errors_by_kind: f.errors.clone(),
            timeline: f.timeline.to_vec(),
            verification,
            cpu: Vec::new(),
        })
    }
}

/// Prints the outcome in the chosen format.
pub fn print(ctx: &Context, o: &Outcome) -> CliResult {
    if ctx.out.format() == Format::Json {
        return ctx.out.json(o);
    }
    let shape = match o.rate {
        Some(r) => format!(
            "open loop at {} req/s, up to {} in flight",
            thousands(r.round() as u64),
            o.concurrency
        ),
        None => format!("closed loop, {} concurrent", o.concurrency),
    };
    ctx.out.heading(&format!(
        "bench {}: {shape}, {:.2} s against {}",
        o.scenario, o.duration_s, o.target
    ))?;
    let mut t = ctx.out.table(&[
        "operation",
        "requests",
        "errors",
        "req/s",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
    ]);
    let mut rows: Vec<(&str, u64, u64, f64, &Latency)> = o
        .operations
        .iter()
        .map(|op| {
            (
                op.operation,
                op.requests,
                op.errors,
                op.per_second,
                &op.latency_ms,
            )
        })
        .collect();
    if rows.len() > 1 {
        rows.push(("all", o.requests, o.errors, o.per_second, &o.latency_ms));
    }
    for (name, requests, errors, rate, l) in rows {
        t.add_row(vec![
            Cell::new(name),
            count(requests),
            count(errors),
            count(rate.round() as u64),
            millis(l.p50),
            millis(l.p90),
            millis(l.p99),
            millis(l.p99_9),
            millis(l.max),
        ]);
    }
    ctx.out.print_table(&t)?;
    if !o.errors_by_kind.is_empty() {
        let mut t = ctx.out.table(&["error", "count"]);
        for (kind, n) in &o.errors_by_kind {
            t.add_row(vec![Cell::new(kind), count(*n)]);
        }
        ctx.out.print_table(&t)?;
    }
    if !o.cpu.is_empty() {
        let mut t = ctx
            .out
            .table(&["process", "pid", "CPU", "cores busy", "CPU per request"]);
        for c in &o.cpu {
            t.add_row(vec![
                Cell::new(&c.name),
                Cell::new(c.pid),
                Cell::new(format!("{:.2} s", c.cpu_s))
                    .set_alignment(comfy_table::CellAlignment::Right),
                Cell::new(format!("{:.2}", c.cores))
                    .set_alignment(comfy_table::CellAlignment::Right),
                Cell::new(format!("{:.1} µs", c.per_request_us))
                    .set_alignment(comfy_table::CellAlignment::Right),
            ]);
        }
        ctx.out.print_table(&t)?;
    }
    if let Some(v) = &o.verification {
        ctx.out.write(&format!("{}\n", v.summary()))?;
    }
    Ok(())
}

fn millis(v: f64) -> Cell {
    let text = if v >= 100.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.2} ms")
    };
    Cell::new(text).set_alignment(comfy_table::CellAlignment::Right)
}
