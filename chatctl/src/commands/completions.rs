//! `chatctl completions SHELL` and `chatctl man`: shell completions (clap_complete) and the man
//! page (clap_mangen), generated from the command definition so they never drift from it. The
//! copies kept in the repository's `completions/` folder are checked by the test suite.

use clap::Args;
use clap_complete::Shell;

use crate::exit::{CliError, CliResult};

/// Arguments of `completions`.
#[derive(Debug, Args)]
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

/// Arguments of `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write chatctl(1) and a page for every subcommand (chatctl-app-create(1), …) into this
    /// folder instead of printing chatctl(1)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

/// Runs `man`.
pub fn man(args: &ManArgs) -> CliResult {
    let cmd = crate::cli::command();
    if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(cmd, dir))
            .map_err(|e| {
                CliError::io(format!("writing the man pages into {}", dir.display()), e)
            })?;
        let written = std::fs::read_dir(dir)
            .map(|d| d.filter_map(Result::ok).count())
            .unwrap_or(0);
        eprintln!("wrote {written} man pages into {}", dir.display());
        return Ok(());
    }
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
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
    fn man_dir_writes_a_page_for_every_subcommand_the_main_page_names() {
        let dir = tempfile::tempdir().expect("temp dir");
        man(&ManArgs {
            dir: Some(dir.path().join("man1")),
        })
        .expect("written");
        let main = std::fs::read_to_string(dir.path().join("man1/chatctl.1")).expect("chatctl.1");
        assert!(
            main.contains("chatctl \\- Administer a chat system"),
            "the NAME line says what it is, once"
        );
        for page in [
            "chatctl-app.1",
            "chatctl-app-create.1",
            "chatctl-message-send.1",
            "chatctl-search.1",
        ] {
            assert!(dir.path().join("man1").join(page).exists(), "{page}");
        }
        // Every page chatctl(1) refers to exists.
        for name in main.split("\\fBchatctl-").skip(1) {
            let page = name.split('(').next().unwrap_or_default();
            let file = format!("chatctl-{}.1", page.replace("\\fR", ""));
            assert!(dir.path().join("man1").join(&file).exists(), "{file}");
        }
    }

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
