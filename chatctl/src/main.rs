//! `chatctl`: the chat platform's admin CLI. It works directly on the stores (the same
//! configuration as chat-server) or, with `--server URL`, over HTTP; every command behaves the
//! same both ways because both go through `chat_core::ChatApi`.
//!
//! The command tree mirrors the file tree: `chatctl app list` lives in `commands/app.rs`.

mod cli;
mod commands;
mod context;
mod exit;
mod output;
mod progress;

fn main() -> std::process::ExitCode {
    cli::run()
}
