//! `chatctl completions SHELL` and `chatctl man`: shell completions (clap_complete) and the man
//! page (clap_mangen), generated from the command definition so they never drift from it. The
//! copies kept in the repository's `completions/` folder are checked by the test suite.

use clap::Args;
use clap_complete::Shell;

use crate::exit::{CliError, CliResult};

/// Arguments of `completions`.
#[derive(Debug, Args)]
#[command(long_about = "Print shell completions on stdout.\n\n\
    bash:        chatctl completions bash > ~/.local/share/bash-completion/completions/chatctl\n\
    zsh:         chatctl completions zsh > \"${fpath[1]}/_chatctl\"\n\
    fish:        chatctl completions fish > ~/.config/fish/completions/chatctl.fish\n\
    powershell:  chatctl completions powershell >> $PROFILE")]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The completion script of `shell`.
pub fn generate(shell: Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::command(), "chatctl", &mut buf);
    buf
}

/// Runs `completions`.
pub fn run(args: &CompletionsArgs) -> CliResult {
    write_stdout(&generate(args.shell))
}

/// Runs `man`.
pub fn man() -> CliResult {
    let mut buf = Vec::new();
    clap_mangen::Man::new(crate::cli::command())
        .render(&mut buf)
        .map_err(|e| CliError::io("rendering the man page", e))?;
    write_stdout(&buf)
}

fn write_stdout(bytes: &[u8]) -> CliResult {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| CliError::io("writing the output", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_every_command() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell] {
            let script = String::from_utf8(generate(shell)).expect("UTF-8");
            for word in ["app", "message", "import", "database-url"] {
                assert!(script.contains(word), "{shell}: no {word}");
            }
        }
    }
}
