//! The command line: global flags (each with its `CHAT_…` environment variable), the top of the
//! command tree, and [`run`], which parses, executes and turns the outcome into an exit code.

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::commands;
use crate::context::Context;
use crate::exit::{CliResult, Exit};

const LONG_ABOUT: &str = "\
Administer a chat system: applications, their chats and the chats' messages, search, and the
maintenance jobs (recount, reindex, bulk import).

Without --server, chatctl opens the stores itself (the same configuration as chat-server; an
SQLite file by default). With --server URL it talks to a running chat-server over HTTP. Every
command behaves the same either way.

Exit codes: 0 ok, 1 other failure, 2 usage, 3 not found, 4 invalid input, 5 backend or server
unavailable.";

const AFTER_HELP: &str = "\
Start with `chatctl demo`, which creates a small application and shows it.";

/// chatctl: administer a chat system directly on its stores or through chat-server.
#[derive(Debug, Parser)]
#[command(
    name = "chatctl",
    version,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted by every command.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Talk to the chat-server at this URL instead of opening the stores
    #[arg(
        long,
        env = "CHAT_SERVER",
        value_name = "URL",
        global = true,
        help_heading = "Connection"
    )]
    pub server: Option<String>,

    /// Admin token for the server's admin operations (app list, recount, reindex)
    #[arg(
        long,
        env = "CHAT_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        global = true,
        help_heading = "Connection"
    )]
    pub admin_token: Option<String>,

    /// Seconds to wait for each answer of the server (connecting included), except the admin
    /// jobs; a server that does not answer in time exits 5
    #[arg(
        long,
        env = "CHAT_TIMEOUT",
        value_name = "SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true,
        help_heading = "Connection"
    )]
    pub timeout: u64,

    /// Seconds to wait for the server's admin jobs (recount, reindex), which can take long
    #[arg(
        long,
        env = "CHAT_JOB_TIMEOUT",
        value_name = "SECS",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true,
        help_heading = "Connection"
    )]
    pub job_timeout: u64,

    /// Database of the direct mode: sqlite://PATH (embedded) or mysql://… (distributed)
    #[arg(long, env = "CHAT_DATABASE_URL", value_name = "URL",
          default_value = chat_core::config::DEFAULT_DATABASE_URL, global = true,
          help_heading = "Direct mode (without --server)")]
    pub database_url: String,

    /// Redis of the distributed profile (numbering and write queue)
    #[arg(
        long,
        env = "CHAT_REDIS_URL",
        value_name = "URL",
        global = true,
        help_heading = "Direct mode (without --server)"
    )]
    pub redis_url: Option<String>,

    /// Elasticsearch or OpenSearch of the distributed profile (search)
    #[arg(
        long,
        env = "CHAT_ELASTICSEARCH_URL",
        value_name = "URL",
        global = true,
        help_heading = "Direct mode (without --server)"
    )]
    pub elasticsearch_url: Option<String>,

    /// How to print results: tables for people (tab-separated lines when piped), JSON for
    /// scripts, or `name`: only the tokens or numbers, one per line
    #[arg(long, short = 'o', value_enum, value_name = "FORMAT", default_value_t = Format::Table,
          global = true, help_heading = "Output")]
    pub output: Format,

    /// Same as --output json
    #[arg(long, global = true, help_heading = "Output")]
    pub json: bool,

    /// No progress bars, summaries or hints on stderr (errors are still reported)
    #[arg(long, short, global = true, help_heading = "Output")]
    pub quiet: bool,
}

impl GlobalArgs {
    /// The output format, `--json` winning over `--output`.
    pub fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            self.output
        }
    }
}

/// How results are printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables sized to the terminal
    Table,
    /// The API's JSON representations: an array for lists, an object otherwise
    Json,
    /// Only the tokens (applications) or numbers (chats, messages), one per line
    Name,
}

/// The commands, noun first.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, list, show and rename applications
    #[command(subcommand)]
    App(commands::app::AppCommand),
    /// Create, list and show an application's chats
    #[command(subcommand)]
    Chat(commands::chat::ChatCommand),
    /// Send, list, show and edit a chat's messages
    #[command(subcommand)]
    Message(commands::message::MessageCommand),
    /// Search a chat's messages for any part of their text
    Search(commands::search::SearchArgs),
    /// Recompute the chats and messages counts from the stored rows, fixing drift
    Recount(commands::recount::RecountArgs),
    /// Rebuild the search index from the stored messages
    Reindex(commands::reindex::ReindexArgs),
    /// The distributed profile's write queue: status, and retrying dead-letter entries
    #[command(subcommand)]
    Queue(commands::queue::QueueCommand),
    /// Create many messages in a chat from a file (JSON Lines or one body per line)
    Import(commands::import::ImportArgs),
    /// Create a small application with chats and messages, search it, and show it all
    Demo(commands::demo::DemoArgs),
    /// Print shell completions (bash, zsh, fish, powershell, elvish)
    Completions(commands::completions::CompletionsArgs),
    /// Print the man page (roff) on stdout
    Man,
}

impl Command {
    /// Whether the command only reads: on a missing SQLite database it stops with a hint
    /// instead of creating an empty one.
    pub fn only_reads(&self) -> bool {
        use commands::{app::AppCommand, chat::ChatCommand, message::MessageCommand};
        matches!(
            self,
            Command::App(AppCommand::List { .. } | AppCommand::Show { .. })
                | Command::Chat(ChatCommand::List { .. } | ChatCommand::Show { .. })
                | Command::Message(MessageCommand::List { .. } | MessageCommand::Show { .. })
                | Command::Search(_)
                | Command::Recount(_)
                | Command::Reindex(_)
                | Command::Queue(_)
        )
    }
}

/// Parses the command line, runs the command and returns its exit code.
pub fn run() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; real usage errors get 2.
            let code = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            };
            let _ = e.print();
            return code.into();
        }
    };
    let outcome = match cli.command {
        // These need no stores: answer without opening anything.
        Command::Completions(args) => commands::completions::run(&args),
        Command::Man => commands::completions::man(),
        command => execute(&cli.global, command),
    };
    match outcome {
        Ok(()) => Exit::Success.into(),
        Err(e) => e.report().into(),
    }
}

fn execute(global: &GlobalArgs, command: Command) -> CliResult {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::exit::CliError::io("starting the async runtime", e))?;
    runtime.block_on(async {
        let ctx = Context::open(global, !command.only_reads()).await?;
        let result = commands::run(&ctx, command).await;
        // Direct mode: flush the writer and close the database before exiting, success or not.
        ctx.close().await;
        result.map_err(|e| ctx.hint(e))
    })
}

/// The clap command, for completions, the man page and tests.
pub fn command() -> clap::Command {
    Cli::command()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn json_flag_wins_over_output() {
        let cli = Cli::try_parse_from(["chatctl", "app", "list", "--json"]).expect("parses");
        assert_eq!(cli.global.format(), Format::Json);
        let cli =
            Cli::try_parse_from(["chatctl", "--output", "json", "app", "list"]).expect("parses");
        assert_eq!(cli.global.format(), Format::Json);
    }

    #[test]
    fn tokens_are_parsed_by_the_commands_not_by_clap() {
        // A malformed token must reach chat-core's parser, which answers exit code 4, not 2.
        assert!(Cli::try_parse_from(["chatctl", "app", "show", "nope"]).is_ok());
    }
}
