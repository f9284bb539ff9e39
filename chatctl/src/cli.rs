//! The command line: global flags (each with its `CHAT_…` environment variable), the top of the
//! command tree, and [`run`], which parses, executes and turns the outcome into an exit code.

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

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
unavailable, 130 interrupted (Ctrl-C).";

const AFTER_HELP: &str = "\
Start with `chatctl demo`, which creates a small application and shows it.";

/// Administer a chat system directly on its stores or through chat-server.
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

    /// Admin token for the server's admin operations (app list, app delete, recount, reindex)
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

    /// The stores of the direct mode (shared with chat-server).
    #[command(flatten, next_help_heading = "Direct mode (without --server)")]
    pub storage: chat_core::config::StorageArgs,

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
    /// Create, list, show, rename and delete applications
    #[command(subcommand)]
    App(commands::app::AppCommand),
    /// Create, list, show and delete an application's chats
    #[command(subcommand)]
    Chat(commands::chat::ChatCommand),
    /// Send, list, show, edit, delete and follow a chat's messages
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
    /// Write a consistent snapshot of everything (or one application) as an NDJSON stream
    Export(commands::export::ExportArgs),
    /// Load an export stream into these stores, tokens and numbers unchanged
    Restore(commands::restore::RestoreArgs),
    /// Copy the embedded profile's database file online, while servers keep writing
    Backup(commands::backup::BackupArgs),
    /// Create a small application with chats and messages, search it, and show it all
    Demo(commands::demo::DemoArgs),
    /// Drive load (create, read, search, mixed) and report throughput, latency and errors
    Bench(commands::bench::BenchArgs),
    /// Print shell completions (bash, zsh, fish, powershell, elvish)
    Completions(commands::completions::CompletionsArgs),
    /// Print the man page (roff) on stdout, or write every page with --dir
    Man(commands::completions::ManArgs),
}

impl Command {
    /// Whether the command only reads (or deletes, which needs something to delete): on a
    /// missing SQLite database it stops with a hint instead of creating an empty one.
    pub fn only_reads(&self) -> bool {
        use commands::{app::AppCommand, chat::ChatCommand, message::MessageCommand};
        matches!(
            self,
            Command::App(
                AppCommand::List { .. } | AppCommand::Show { .. } | AppCommand::Delete { .. }
            ) | Command::Chat(
                ChatCommand::List { .. } | ChatCommand::Show { .. } | ChatCommand::Delete { .. }
            ) | Command::Message(
                MessageCommand::List { .. }
                    | MessageCommand::Show { .. }
                    | MessageCommand::Delete { .. }
            ) | Command::Search(_)
                | Command::Recount(_)
                | Command::Reindex(_)
                | Command::Queue(_)
                | Command::Export(_)
                | Command::Backup(_)
        )
    }

    /// Whether the command needs the distributed profile's queue drained, and so runs a
    /// worker of its own in direct mode (beside any the deployment runs).
    pub fn runs_worker(&self) -> bool {
        matches!(self, Command::Export(_))
    }
}

/// Parses the command line, runs the command and returns its exit code.
pub fn run() -> std::process::ExitCode {
    let cli = match command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
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
        Command::Man(args) => commands::completions::man(&args),
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
        let ctx = Context::open(global, !command.only_reads(), command.runs_worker()).await?;
        let result = commands::run(&ctx, command).await;
        // Direct mode: flush the writer and close the database before exiting, success or not.
        ctx.close().await;
        result.map_err(|e| ctx.hint(e))
    })
}

/// The clap command as chatctl parses and documents it (completions, the man pages, tests):
/// every command's help ends with examples, and the global flags are described once, in
/// `chatctl --help` (a subcommand still accepts them, anywhere on the line).
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    // Each subcommand gets hidden copies of the global flags before clap propagates them
    // (it leaves a flag a subcommand already has alone): accepted there, described once.
    let globals: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| a.clone().hide(true))
        .collect();
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |sub| decorate(sub, &name, &globals));
    }
    cmd
}

/// Adds the examples of the command at `path` (`app create`) and of its subcommands, and the
/// hidden copies of the global flags.
fn decorate(mut cmd: clap::Command, path: &str, globals: &[clap::Arg]) -> clap::Command {
    for arg in globals {
        cmd = cmd.arg(arg.clone());
    }
    let mut after = String::new();
    if let Some(examples) = examples(path) {
        after.push_str("Examples:\n");
        for line in examples.lines() {
            after.push_str("  ");
            after.push_str(line.trim());
            after.push('\n');
        }
        after.push('\n');
    }
    after.push_str(
        "Global options (where to connect, the direct mode's stores, output format): see \
         chatctl --help; they go anywhere on the line.",
    );
    cmd = cmd.after_help(after);
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        let sub_path = format!("{path} {name}");
        cmd = cmd.mut_subcommand(&name, |sub| decorate(sub, &sub_path, globals));
    }
    cmd
}

/// Examples for each command, one per line, by command path.
fn examples(path: &str) -> Option<&'static str> {
    Some(match path {
        "app" => {
            "chatctl app create support\n\
                  TOKEN=$(chatctl app create support -o name)\n\
                  chatctl app list --all -o json"
        }
        "app create" => {
            "chatctl app create support\n\
                         TOKEN=$(chatctl app create support -o name)"
        }
        "app list" => {
            "chatctl app list\n\
                       chatctl app list --all -o name | xargs -n1 chatctl chat list\n\
                       chatctl --server http://127.0.0.1:3000 --admin-token \"$ADMIN\" app list"
        }
        "app show" => {
            "chatctl app show $TOKEN\n\
                       chatctl app show $TOKEN -o json"
        }
        "app rename" => "chatctl app rename $TOKEN helpdesk",
        "app delete" => {
            "chatctl app delete $TOKEN\n\
                         chatctl app delete $TOKEN --yes\n\
                         chatctl --server http://127.0.0.1:3000 --admin-token \"$ADMIN\" app delete $TOKEN -y"
        }
        "chat" => {
            "chatctl chat create $TOKEN\n\
                   chatctl chat list $TOKEN"
        }
        "chat create" => {
            "chatctl chat create $TOKEN\n\
                          CHAT=$(chatctl chat create $TOKEN -o name)"
        }
        "chat list" => {
            "chatctl chat list $TOKEN\n\
                        chatctl chat list $TOKEN --last 5\n\
                        chatctl chat list $TOKEN --all -o name"
        }
        "chat show" => "chatctl chat show $TOKEN 1",
        "chat delete" => {
            "chatctl chat delete $TOKEN 2\n\
                          chatctl chat delete $TOKEN 2 --yes -o json"
        }
        "message" => {
            "chatctl message send $TOKEN 1 'Hello!'\n\
                      chatctl message list $TOKEN 1"
        }
        "message send" => {
            "chatctl message send $TOKEN 1 'Hello!'\n\
                           fortune | chatctl message send $TOKEN 1\n\
                           chatctl message send $TOKEN 1 'Hi' -o name"
        }
        "message list" => {
            "chatctl message list $TOKEN 1\n\
                           chatctl message list $TOKEN 1 --last 20\n\
                           chatctl message list $TOKEN 1 --after 100 --limit 20\n\
                           chatctl message list $TOKEN 1 --all -o json > chat-1.json"
        }
        "message show" => "chatctl message show $TOKEN 1 42",
        "message delete" => {
            "chatctl message delete $TOKEN 1 42\n\
                             chatctl message delete $TOKEN 1 42 --yes"
        }
        "message tail" => "chatctl message tail $TOKEN 1\n\
                           chatctl message tail $TOKEN 1 --from 1 -o json\n\
                           chatctl --server http://127.0.0.1:3000 message tail $TOKEN 1",
        "bench" => "chatctl --server http://127.0.0.1:3000 bench -c 64 -d 10s\n\
                    chatctl bench --scenario mixed --mix create-message=70,read=25,search=5 -n 10000\n\
                    chatctl --server http://127.0.0.1:3000 bench --rate 2000 -d 30s --plot run.svg\n\
                    chatctl --server http://127.0.0.1:3000 bench --scenario health -c 64 -d 5s -o json",
        "message edit" => {
            "chatctl message edit $TOKEN 1 42 'Corrected text'\n\
                           $EDITOR draft.txt && chatctl message edit $TOKEN 1 42 - < draft.txt"
        }
        "search" => {
            "chatctl search $TOKEN 1 onderf\n\
                     chatctl search $TOKEN 1 onderf --after 812\n\
                     chatctl search $TOKEN 1 'rain' --sort relevance --limit 5 -o json\n\
                     chatctl search $TOKEN 1 'rain' --sort oldest --all -o name"
        }
        "recount" => {
            "chatctl recount\n\
                      chatctl recount --app $TOKEN"
        }
        "reindex" => {
            "chatctl reindex\n\
                      chatctl reindex --app $TOKEN"
        }
        "queue" | "queue status" => {
            "chatctl queue status\n\
                                     chatctl queue status -o json"
        }
        "queue retry-dead" => "chatctl queue retry-dead",
        "import" => {
            "seq 1 10000 | chatctl import $TOKEN 1 -\n\
                     chatctl import $TOKEN 1 messages.jsonl --format jsonl\n\
                     chatctl --server http://127.0.0.1:3000 import $TOKEN 1 bodies.txt\n\
                     chatctl import $TOKEN 1 bodies.txt --skip 4000 --resume"
        }
        "export" => {
            "chatctl export backup.ndjson\n\
                     chatctl export --app $TOKEN > one-app.ndjson\n\
                     chatctl export --checksum-only\n\
                     chatctl --server http://127.0.0.1:3000 --admin-token \"$ADMIN\" export > all.ndjson"
        }
        "restore" => {
            "CHAT_DATABASE_URL=sqlite://new/chat.db chatctl restore all.ndjson\n\
                      chatctl export | CHAT_DATABASE_URL=mysql://chat:secret@db/chat CHAT_REDIS_URL=redis://cache chatctl restore -\n\
                      chatctl restore --merge one-app.ndjson"
        }
        "backup" => "chatctl backup chat-data/backup-$(date +%F).db",
        "demo" => {
            "chatctl demo\n\
                   TOKEN=$(chatctl demo -o name)"
        }
        "completions" => {
            "chatctl completions bash > ~/.local/share/bash-completion/completions/chatctl\n\
                          chatctl completions zsh > \"${fpath[1]}/_chatctl\"\n\
                          chatctl completions fish > ~/.config/fish/completions/chatctl.fish\n\
                          chatctl completions powershell >> $PROFILE"
        }
        "man" => {
            "chatctl man | man -l -\n\
                  chatctl man --dir ~/.local/share/man/man1"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every command, as its path (`app create`).
    fn paths(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let path = format!("{prefix}{}", sub.get_name()).trim().to_owned();
            out.push(path.clone());
            paths(sub, &format!("{path} "), out);
        }
    }

    #[test]
    fn every_command_has_examples_and_leaves_the_global_flags_to_the_top_help() {
        let mut cmd = command();
        let mut all = Vec::new();
        paths(&cmd, "", &mut all);
        assert!(all.len() > 15, "{all:?}");
        for path in &all {
            assert!(examples(path).is_some(), "`chatctl {path}` has no examples");
            let mut sub = cmd.clone();
            for name in path.split(' ') {
                sub = sub
                    .find_subcommand(name)
                    .cloned()
                    .unwrap_or_else(|| panic!("{path}"));
            }
            let help = sub.render_long_help().to_string();
            let listed = help.split("Examples:\n").nth(1).unwrap_or_default();
            assert!(
                listed
                    .lines()
                    .next()
                    .is_some_and(|l| l.contains("chatctl ")),
                "{path}:\n{help}"
            );
            for global in [
                "--database-url",
                "--server <URL>",
                "--redis-url",
                "--timeout",
            ] {
                assert!(!help.contains(global), "{path} repeats {global}:\n{help}");
            }
            let short = sub.render_help().to_string();
            assert!(
                short.lines().count() <= 40,
                "{path}: -h has {} lines:\n{short}",
                short.lines().count()
            );
        }
        let top = cmd.render_long_help().to_string();
        for global in ["--database-url", "--server <URL>", "--output <FORMAT>"] {
            assert!(top.contains(global), "top-level help lacks {global}");
        }
        // Globals are still accepted after a subcommand.
        let m = command()
            .try_get_matches_from([
                "chatctl",
                "app",
                "list",
                "--database-url",
                "sqlite://x.db",
                "-o",
                "json",
            ])
            .expect("parses");
        let cli = Cli::from_arg_matches(&m).expect("fits");
        assert_eq!(cli.global.storage.database_url, "sqlite://x.db");
        assert_eq!(cli.global.format(), Format::Json);
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
