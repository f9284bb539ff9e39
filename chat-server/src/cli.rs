//! Command-line flags, each with its `CHAT_…` environment variable and default.

use std::net::SocketAddr;
use std::time::Duration;

use chat_core::config::StorageArgs;
use chat_core::Config;
use clap::{Parser, ValueEnum};

/// The chat platform's HTTP server.
///
/// With no flags it serves the embedded profile (an SQLite file under ./chat-data) on
/// 127.0.0.1:3000.
#[derive(Debug, Parser)]
#[command(name = "chat-server", version, about, long_about = None)]
pub struct Cli {
    /// Address to listen on: HOST:PORT, or :PORT for 127.0.0.1:PORT (port 0 picks a free port;
    /// the address is printed on stdout).
    #[arg(long, env = "CHAT_LISTEN", default_value_t = crate::DEFAULT_LISTEN, value_parser = parse_listen)]
    pub listen: SocketAddr,

    /// Where the data lives (shared with chatctl).
    #[command(flatten, next_help_heading = "Storage")]
    pub storage: StorageArgs,

    /// What this process does (distributed profile): `api` serves requests, `worker` persists
    /// the queue (serving only /health, /ready and /metrics), `all` both.
    #[arg(long, env = "CHAT_ROLE", value_enum, default_value_t = Role::All, help_heading = "Storage")]
    pub role: Role,

    /// Seconds between the workers' recounts of every count (distributed profile; 0 = never).
    #[arg(
        long,
        env = "CHAT_RECOUNT_INTERVAL",
        default_value_t = chat_core::config::DEFAULT_RECOUNT_INTERVAL.as_secs(),
        help_heading = "Storage"
    )]
    pub recount_interval: u64,

    /// Seconds a queue entry may stay with a worker that does not acknowledge it (it died)
    /// before another worker takes it over (distributed profile).
    #[arg(
        long,
        env = "CHAT_CLAIM_IDLE",
        default_value_t = chat_core::config::DEFAULT_CLAIM_IDLE.as_secs(),
        help_heading = "Storage"
    )]
    pub claim_idle: u64,

    /// Token that admin endpoints require as `Authorization: Bearer …`; without it they answer 403.
    #[arg(
        long,
        env = "CHAT_ADMIN_TOKEN",
        hide_env_values = true,
        help_heading = "Security"
    )]
    pub admin_token: Option<String>,

    /// Requests per second allowed per application (0 = unlimited); excess gets 429.
    #[arg(
        long,
        env = "CHAT_RATE_LIMIT",
        default_value_t = 0,
        help_heading = "Limits"
    )]
    pub rate_limit: u32,

    /// Requests served at once; excess is shed at once with 503.
    #[arg(
        long,
        env = "CHAT_MAX_CONCURRENCY",
        default_value_t = crate::Limits::default().max_concurrency,
        help_heading = "Limits"
    )]
    pub max_concurrency: usize,

    /// Live streams (server-sent events) open at once; more get 503 with Retry-After.
    #[arg(
        long,
        env = "CHAT_MAX_STREAMS",
        default_value_t = crate::live::DEFAULT_MAX_STREAMS,
        help_heading = "Limits"
    )]
    pub max_streams: usize,

    /// Expensive searches (relevance, and queries of one or two characters) run at once by this
    /// process; more wait up to --search-queue-ms, then get 503 with Retry-After. Default: half
    /// the CPU cores, at least 1.
    #[arg(
        long,
        env = "CHAT_MAX_SEARCHES",
        default_value_t = crate::default_max_searches(),
        help_heading = "Limits"
    )]
    pub max_searches: usize,

    /// Milliseconds an expensive search waits for a place under --max-searches before 503.
    #[arg(
        long,
        env = "CHAT_SEARCH_QUEUE_MS",
        default_value_t = crate::Limits::default().search_queue.as_millis() as u64,
        help_heading = "Limits"
    )]
    pub search_queue_ms: u64,

    /// Seconds before a request is abandoned with 503.
    #[arg(
        long,
        env = "CHAT_REQUEST_TIMEOUT",
        default_value_t = crate::Limits::default().request_timeout.as_secs(),
        help_heading = "Limits"
    )]
    pub request_timeout: u64,

    /// Seconds a connection may take to send a request's headers; a client that has not
    /// finished them by then (a slow or stalled client), or a keep-alive connection idle that
    /// long, is closed.
    #[arg(
        long,
        env = "CHAT_HEADER_TIMEOUT",
        default_value_t = crate::Limits::default().header_timeout.as_secs(),
        help_heading = "Limits"
    )]
    pub header_timeout: u64,

    /// Log format on stderr.
    #[arg(long, env = "CHAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, help_heading = "Logging")]
    pub log_format: LogFormat,

    /// Log one line per request (method, route, status, latency) at `info`. Without it request
    /// lines are logged at `debug` (`--log debug` shows them too).
    #[arg(long, env = "CHAT_ACCESS_LOG", help_heading = "Logging")]
    pub access_log: bool,

    /// Log filter (tracing syntax, e.g. `info`, `chat_server=debug`).
    #[arg(
        long,
        env = "CHAT_LOG",
        default_value = "info",
        help_heading = "Logging"
    )]
    pub log: String,
}

/// `HOST:PORT`, or `:PORT` for the loopback address (as the default listens there).
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let full;
    let s = match s.strip_prefix(':') {
        Some(port) => {
            full = format!("{}:{port}", crate::DEFAULT_LISTEN.ip());
            &full
        }
        None => s,
    };
    s.parse().map_err(|_| {
        format!("expected HOST:PORT (e.g. 127.0.0.1:3000, 0.0.0.0:3000) or :PORT, got '{s}'")
    })
}

/// What a process of the distributed profile does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Serve the API; leave the queue to worker processes.
    Api,
    /// Persist the queue; serve only /health, /ready and /metrics.
    Worker,
    /// Both (the default: one process works alone).
    All,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Cli {
    /// The library configuration these flags describe.
    pub fn config(&self) -> Config {
        Config {
            worker: self.role != Role::Api,
            claim_idle: Duration::from_secs(self.claim_idle.max(1)),
            recount_interval: (self.recount_interval > 0)
                .then(|| Duration::from_secs(self.recount_interval)),
            ..self.storage.config()
        }
    }

    /// The server settings these flags describe.
    pub fn settings(&self) -> crate::Settings {
        crate::Settings {
            listen: self.listen,
            role: self.role,
            admin_token: self.admin_token.clone(),
            rate_limit: self.rate_limit,
            max_streams: self.max_streams,
            limits: self.limits(),
            access_log: self.access_log,
        }
    }

    /// The limits these flags describe.
    pub fn limits(&self) -> crate::Limits {
        crate::Limits {
            request_timeout: Duration::from_secs(self.request_timeout.max(1)),
            max_concurrency: self.max_concurrency,
            header_timeout: Duration::from_secs(self.header_timeout.max(1)),
            max_searches: self.max_searches.max(1),
            search_queue: Duration::from_millis(self.search_queue_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn listen_takes_a_bare_port_and_fsync_takes_the_documented_booleans() {
        let cli = Cli::try_parse_from(["chat-server", "--listen", ":0", "--fsync", "0"])
            .expect("documented forms are accepted");
        assert_eq!(
            cli.listen,
            "127.0.0.1:0".parse::<SocketAddr>().expect("addr")
        );
        assert!(!cli.storage.fsync);
        for (v, want) in [
            ("1", true),
            ("true", true),
            ("off", false),
            ("false", false),
        ] {
            let cli = Cli::try_parse_from(["chat-server", "--fsync", v]).expect(v);
            assert_eq!(cli.storage.fsync, want, "{v}");
        }
        let cli = Cli::try_parse_from(["chat-server", "--listen", "0.0.0.0:3001"]).expect("addr");
        assert_eq!(cli.listen.port(), 3001);
        let err = Cli::try_parse_from(["chat-server", "--listen", "nowhere"])
            .expect_err("not an address")
            .to_string();
        assert!(err.contains("expected HOST:PORT"), "{err}");
        assert!(Cli::try_parse_from(["chat-server", "--fsync", "maybe"]).is_err());
    }
}
