//! Parse flags, open the service, serve until SIGTERM/SIGINT.

use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{Cli, LogFormat, Role};
use crate::limits::RateLimiter;
use crate::AppState;
use clap::Parser;

/// The `chat-server` program: flags from the command line and environment.
pub fn main_entry() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let config = cli.config();
    if cli.role != Role::All && !config.database_url.starts_with("mysql:") {
        return Err(format!(
            "--role {} needs the distributed profile (a mysql:// database with --redis-url): \
             the embedded profile commits every write in the serving process",
            if cli.role == Role::Api {
                "api"
            } else {
                "worker"
            }
        ));
    }
    let service = chat_core::ChatService::open(&config)
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cli.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on http://{addr}");
    tracing::info!(%addr, role = ?cli.role, "chat-server started");
    for (setting, value) in config.settings() {
        tracing::info!(%setting, %value, "setting");
    }
    let mut state = AppState::new(service);
    state.live = Arc::new(crate::live::LiveStreams::new(cli.max_streams));
    state.admin_token = cli.admin_token.as_deref().map(Arc::from);
    if cli.rate_limit > 0 {
        state.rate_limiter = Some(Arc::new(RateLimiter::new(cli.rate_limit)));
    }
    let limits = cli.limits();
    let router = match cli.role {
        Role::Worker => crate::ops_app(state.clone(), &limits),
        Role::Api | Role::All => crate::app(state.clone(), &limits),
    };
    crate::serve_router(listener, state, router, &limits, shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received: finishing in-flight requests");
}
