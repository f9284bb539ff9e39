//! `chatctl bench`: a load generator for the chat system, pointed like every other command at
//! a chat-server (`--server`) or straight at the stores (embedded or distributed profile).
//!
//! It seeds what the scenario needs (an application, chats, messages to read and search),
//! optionally warms up, then drives the load: closed loop (`-c` workers, each sending its next
//! request when the last one answered) or open loop (`--rate`: requests scheduled at fixed
//! times, latency counted from the scheduled time so a stalled target cannot hide its queue).
//! A live line shows the pace; the end prints a table (or JSON) of throughput, percentiles and
//! errors by kind, checks that every acknowledged creation exists with gapless numbers, and
//! can draw the run as an SVG chart.
//!
//! `load` drives the requests and records them, `report` prints the outcome, `plot` draws it,
//! `verify` checks the created numbers.

mod cpu;
mod load;
mod plot;
mod report;
mod text;
mod verify;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chat_core::{ChatApi, ChatNumber, Progress, Query, SearchSort, Token};
use clap::{Args, ValueEnum};
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::context::{Context, Target};
use crate::exit::{CliError, CliResult};
use load::{Plan, Recorder, Stop, Workload};

/// Arguments of `bench`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  chatctl bench -d 10s -c 64                                  create messages for 10 s, 64 at a time
  chatctl --server http://127.0.0.1:3000 bench --scenario read -n 10000
  chatctl bench --scenario mixed --mix create-message=70,read=25,search=5 --rate 2000 -d 30s
  chatctl bench -d 10s --plot run.svg --output json           chart and machine-readable figures
  chatctl --server URL bench -d 10s --cpu server=4242 --cpu redis=$(pgrep -n redis-server)
                                                              CPU per request of those processes")]
pub struct BenchArgs {
    /// What each request does
    #[arg(long, value_enum, default_value_t = Scenario::CreateMessage)]
    pub scenario: Scenario,
    /// Shares of a mixed scenario, e.g. create-message=70,read=25,search=5
    #[arg(long, value_name = "OP=WEIGHT,…", value_parser = parse_mix)]
    pub mix: Option<Mix>,
    /// Requests in flight at once (workers)
    #[arg(short = 'c', long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// How long to drive the load, e.g. 10s, 500ms, 2m [default: 10s unless -n is given]
    #[arg(short = 'd', long, value_name = "TIME", value_parser = parse_duration,
          conflicts_with = "requests")]
    pub duration: Option<Duration>,
    /// How many requests to send, instead of a duration
    #[arg(short = 'n', long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub requests: Option<u64>,
    /// Open loop: send this many requests per second on a fixed schedule, whatever the
    /// answers' pace (latency then counts from each request's scheduled time)
    #[arg(long, value_name = "PER_SECOND", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Drive the same load this long first, uncounted
    #[arg(long, value_name = "TIME", value_parser = parse_duration, default_value = "0s")]
    pub warmup: Duration,
    /// Work in this application instead of creating one
    #[arg(long = "app", value_name = "TOKEN")]
    pub app: Option<String>,
    /// Chats to create and spread the load over
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub chats: u32,
    /// Messages per chat seeded for read and search
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub seed: u32,
    /// Characters per created message (generated sentences)
    #[arg(long, value_name = "N", default_value_t = 70,
          value_parser = clap::value_parser!(u32).range(1..=16_000))]
    pub body_size: u32,
    /// Search order: newest, oldest or relevance
    #[arg(long, value_name = "ORDER", default_value = "newest", hide_possible_values = true,
          value_parser = super::search::SORTS)]
    pub sort: String,
    /// Search text instead of the built-in mix; repeatable
    ///
    /// The built-in mix is common, rare and absent substrings of the seeded messages; several
    /// texts are taken in turn.
    #[arg(long = "query", value_name = "TEXT")]
    pub queries: Vec<String>,
    /// Exit with code 1 when more requests than this failed
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_errors: u64,
    /// Write an SVG chart of the run: latency percentiles and throughput over time, and a
    /// latency histogram
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Skip the check that every acknowledged creation exists with gapless numbers
    #[arg(long)]
    pub no_verify: bool,
    /// Also report the CPU time this process (e.g. the server, Redis; `self`: this load
    /// generator) spent during the measured run, and per successful request, from
    /// /proc/PID/stat; repeatable
    #[arg(long = "cpu", value_name = "NAME=PID", value_parser = cpu::parse)]
    pub cpu: Vec<cpu::Watched>,
}

/// A bench scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Scenario {
    /// `create_message` in the seeded chats, round robin
    CreateMessage,
    /// `create_chat` in the application
    CreateChat,
    /// `get_message` of a random seeded message
    Read,
    /// `search_messages` in a random chat, for a substring of the seeded text (limit 20)
    Search,
    /// The server's `GET /health` (with --server only): the trivial route, as a ceiling
    Health,
    /// Several of the above in the proportions of --mix
    Mixed,
}

impl Scenario {
    /// The name used on the command line, in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::CreateMessage => "create-message",
            Scenario::CreateChat => "create-chat",
            Scenario::Read => "read",
            Scenario::Search => "search",
            Scenario::Health => "health",
            Scenario::Mixed => "mixed",
        }
    }
}

/// The shares of a mixed scenario: each operation and its weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix(pub Vec<(Scenario, u32)>);

fn parse_mix(s: &str) -> Result<Mix, String> {
    let mut shares = BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?}: expected OPERATION=WEIGHT"))?;
        let op = Scenario::from_str(name.trim(), true).map_err(|_| {
            format!(
                "{name:?}: not an operation (create-message, create-chat, read, search, health)"
            )
        })?;
        if op == Scenario::Mixed {
            return Err("a mix cannot contain `mixed`".into());
        }
        let weight: u32 = weight
            .trim()
            .parse()
            .map_err(|_| format!("{part:?}: the weight must be a whole number"))?;
        if shares.insert(op, weight).is_some() {
            return Err(format!("{name} is given twice"));
        }
    }
    let mix: Vec<_> = shares.into_iter().filter(|(_, w)| *w > 0).collect();
    if mix.is_empty() {
        return Err("the mix gives no operation a weight above 0".into());
    }
    Ok(Mix(mix))
}

/// `10s`, `500ms`, `2m`, `1.5s`, or a plain number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: expected a time like 10s, 500ms or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    if !(0.0..=86_400.0).contains(&seconds) {
        return Err(format!("{s:?}: must be between 0 and 24 hours"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r > 0.0 && r <= 10_000_000.0 => Ok(r),
        _ => Err(format!(
            "{s:?}: expected requests per second, above 0 and at most 10,000,000"
        )),
    }
}

/// Runs `bench`.
pub async fn run(ctx: &Context, args: BenchArgs) -> CliResult {
    let mix = match (args.scenario, &args.mix) {
        (Scenario::Mixed, Some(mix)) => mix.clone(),
        (Scenario::Mixed, None) => {
            return Err(CliError::input(
                "--scenario mixed needs --mix, e.g. --mix create-message=70,read=25,search=5",
            ))
        }
        (_, Some(_)) => return Err(CliError::input("--mix only goes with --scenario mixed")),
        (op, None) => Mix(vec![(op, 1)]),
    };
    let has = |op| mix.0.iter().any(|(o, _)| *o == op);
    let health = if has(Scenario::Health) {
        match &ctx.target {
            Target::Server(url) => Some(load::health_client(url)?),
            Target::Direct(_) => {
                return Err(CliError::input(
                    "the health scenario measures a server's GET /health: add --server URL",
                ))
            }
        }
    } else {
        None
    };
    // The search scenario's order and texts, checked before anything is created.
    let sort = SearchSort::parse(&args.sort)?;
    let queries = args
        .queries
        .iter()
        .map(|q| Query::parse(q).map(|_| q.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    // A process that cannot be watched is refused before anything is created.
    cpu::start(&args.cpu)?;
    let stop = match (args.requests, args.duration) {
        (Some(n), _) => Stop::Requests(n),
        (None, Some(d)) if d.is_zero() => {
            return Err(CliError::input("--duration must be above 0"))
        }
        (None, Some(d)) => Stop::Duration(d),
        (None, None) => Stop::Duration(Duration::from_secs(10)),
    };

    // Seeding: the application, its chats, and messages to read and search.
    let api: Arc<dyn ChatApi> = Arc::clone(&ctx.api);
    let only_health = mix.0.iter().all(|(o, _)| *o == Scenario::Health);
    let token = match &args.app {
        Some(t) => {
            let t = super::token(t)?;
            api.get_application(&t).await?;
            t
        }
        // The health route needs no data: leave the target untouched (a health check may run
        // this every few seconds).
        None if only_health => Token::generate(),
        None => api.create_application("bench").await?.token,
    };
    let needs_chats = mix.0.iter().any(|(o, _)| {
        matches!(
            o,
            Scenario::CreateMessage | Scenario::Read | Scenario::Search
        )
    });
    let chats = if needs_chats {
        seed_chats(ctx, &api, &token, args.chats, args.concurrency).await?
    } else {
        Vec::new()
    };
    let seeded = if has(Scenario::Read) || has(Scenario::Search) {
        seed_messages(ctx, &api, &token, &chats, &args).await?;
        args.seed
    } else {
        0
    };
    let workload = Arc::new(
        Workload::new(
            Arc::clone(&api),
            token.clone(),
            chats.clone(),
            seeded,
            args.body_size as usize,
            &mix,
            health,
        )
        .searching(sort, queries),
    );
    let plan = Plan {
        concurrency: args.concurrency,
        rate: args.rate,
    };

    let mut acks = verify::Acks::default();
    if !args.warmup.is_zero() {
        let warm = Arc::new(Recorder::new(None));
        load::drive(&plan, Stop::Duration(args.warmup), &workload, &warm, None).await;
        acks.extend(warm.take_acks());
        ctx.out.note(&format!(
            "bench: warmed up for {} ({} requests)",
            crate::progress::duration(args.warmup),
            crate::progress::thousands(warm.requests())
        ));
    }
    let line = load::live_line(ctx.out.quiet());
    let recorder = Arc::new(Recorder::new(Some(line.clone())));
    let cpu_start = cpu::start(&args.cpu)?;
    let driven = load::drive(&plan, stop, &workload, &recorder, Some(&line)).await;
    let cpu = cpu_start.finish(driven.elapsed, recorder.ok());
    line.finish_and_clear();
    acks.extend(recorder.take_acks());

    let verification = if args.no_verify || acks.is_empty() {
        None
    } else {
        Some(verify::check(api.as_ref(), &token, &acks).await)
    };
    let application = (!only_health || args.app.is_some()).then_some(&token);
    let mut outcome = report::Outcome::new(
        &args,
        &mix,
        ctx,
        application,
        &driven,
        &recorder,
        verification,
    );
    outcome.cpu = cpu;
    if let Some(path) = &args.plot {
        plot::write(path, &outcome, &recorder)?;
        ctx.out
            .note(&format!("bench: chart written to {}", path.display()));
    }
    report::print(ctx, &outcome)?;
    if outcome.errors > args.max_errors {
        return Err(CliError::failed(format!(
            "{} of {} requests failed, more than --max-errors {}",
            outcome.errors, outcome.requests, args.max_errors
        )));
    }
    match &outcome.verification {
        Some(v) if !v.ok => Err(CliError::failed(format!(
            "verification failed: {}",
            v.summary()
        ))),
        _ => Ok(()),
    }
}

async fn seed_chats(
    ctx: &Context,
    api: &Arc<dyn ChatApi>,
    token: &Token,
    n: u32,
    concurrency: u32,
) -> CliResult<Vec<ChatNumber>> {
    let bar = ctx.bar();
    bar.start("chats", Some(u64::from(n)));
    let mut chats: Vec<ChatNumber> = stream::iter(0..n)
        .map(|_| {
            let (api, bar) = (Arc::clone(api), Arc::clone(&bar));
            async move {
                let chat = api.create_chat(token).await?;
                bar.advance(1);
                Ok::<_, chat_core::Error>(chat.number)
            }
        })
        .buffer_unordered(concurrency as usize)
        .try_collect()
        .await?;
    bar.finish();
    chats.sort();
    Ok(chats)
}

async fn seed_messages(
    ctx: &Context,
    api: &Arc<dyn ChatApi>,
    token: &Token,
    chats: &[ChatNumber],
    args: &BenchArgs,
) -> CliResult {
    let total = u64::from(args.seed) * chats.len() as u64;
    let bar = ctx.bar();
    bar.start("seeding", Some(total));
    let mut text = text::Text::new(0x5EED);
    let bodies: Vec<(ChatNumber, String)> = chats
        .iter()
        .flat_map(|c| std::iter::repeat_n(*c, args.seed as usize))
        .map(|c| (c, text.body(args.body_size as usize)))
        .collect();
    stream::iter(bodies)
        .map(|(chat, body)| {
            let (api, bar) = (Arc::clone(api), Arc::clone(&bar));
            async move {
                api.create_message(token, chat, &body).await?;
                bar.advance(1);
                Ok::<_, chat_core::Error>(())
            }
        })
        .buffer_unordered(args.concurrency as usize)
        .try_collect::<()>()
        .await?;
    bar.finish();
    ctx.out.note(&format!(
        "bench: seeded {} chats with {} messages each",
        chats.len(),
        args.seed
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_their_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn a_mix_names_known_operations_with_whole_weights() {
        let mix = parse_mix("create-message=70, read=25,search=5").expect("valid");
        assert_eq!(
            mix.0,
            vec![
                (Scenario::CreateMessage, 70),
                (Scenario::Read, 25),
                (Scenario::Search, 5)
            ]
        );
        assert!(parse_mix("create-message=70,read").is_err());
        assert!(parse_mix("delete=5").is_err());
        assert!(parse_mix("read=1.5").is_err());
        assert!(parse_mix("read=1,read=2").is_err());
        assert!(parse_mix("mixed=1").is_err());
        assert!(parse_mix("read=0").is_err());
    }

    #[test]
    fn rates_must_be_positive() {
        assert_eq!(parse_rate("250"), Ok(250.0));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
    }
}
