//! The one place where failures become exit codes, and how they are reported on stderr.
//!
//! | code | meaning                                                          |
//! |------|------------------------------------------------------------------|
//! | 0    | success (also when stdout is closed early, e.g. `chatctl … \| head`) |
//! | 1    | anything else (a conflict, a refusal, an internal error)          |
//! | 2    | usage: unknown flag or command, missing argument (from clap); a delete without `--yes` when stdin is not a terminal |
//! | 3    | not found: unknown application token, chat or message number     |
//! | 4    | invalid input: malformed token or number, empty body or name…    |
//! | 5    | unavailable: the database, a backend or the server can't be reached |
//! | 130  | interrupted (Ctrl-C): `import` stops after what is in flight and says how to resume |

use std::io::{self, IsTerminal};

/// The documented exit codes of chatctl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Everything worked.
    Success = 0,
    /// Any failure without a more specific code.
    Failure = 1,
    /// The command line could not be parsed (clap reports it).
    Usage = 2,
    /// The application, chat or message does not exist.
    NotFound = 3,
    /// The input was refused: malformed token or number, empty or too long text.
    Invalid = 4,
    /// A backend or the server cannot be reached.
    Unavailable = 5,
    /// Stopped by an interrupt (SIGINT, Ctrl-C), as a shell reports it: 128 + 2.
    Interrupted = 130,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

/// A failure of a command: what went wrong, and optionally what to try.
#[derive(Debug)]
pub struct CliError {
    kind: Kind,
    hint: Option<String>,
}

#[derive(Debug)]
enum Kind {
    /// A failure reported by chat-core, in-process or decoded from the server's answer.
    Api(chat_core::Error),
    /// Input refused by chatctl itself (e.g. a line of an import file).
    Input(String),
    /// The command cannot run as given (e.g. a delete needing confirmation without a terminal).
    Usage(String),
    /// Reading input or writing output failed.
    Io(String, io::Error),
    /// Stopped by an interrupt; the message says what was done and how to go on.
    Interrupted(String),
    /// Anything else.
    Failed(String),
}

/// Result alias of the commands.
pub type CliResult<T = ()> = Result<T, CliError>;

impl CliError {
    /// Input refused before it reached the API: exit code 4.
    pub fn input(message: impl Into<String>) -> Self {
        Kind::Input(message.into()).into()
    }

    /// The command cannot run as given: exit code 2, like clap's usage errors.
    pub fn usage(message: impl Into<String>) -> Self {
        Kind::Usage(message.into()).into()
    }

    /// An I/O failure while doing `what`.
    pub fn io(what: impl Into<String>, err: io::Error) -> Self {
        Kind::Io(what.into(), err).into()
    }

    /// Stopped by an interrupt: exit code 130, `message` printed as is (no `error:`).
    pub fn interrupted(message: impl Into<String>) -> Self {
        Kind::Interrupted(message.into()).into()
    }

    /// A failure with exit code 1.
    pub fn failed(message: impl Into<String>) -> Self {
        Kind::Failed(message.into()).into()
    }

    /// Adds a hint unless one is already there.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint.get_or_insert_with(|| hint.into());
        self
    }

    /// The chat-core error behind this failure, if any.
    pub fn api(&self) -> Option<&chat_core::Error> {
        match &self.kind {
            Kind::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The exit code this failure ends the process with.
    pub fn exit(&self) -> Exit {
        use chat_core::Error as E;
        match &self.kind {
            Kind::Api(E::NotFound(_)) => Exit::NotFound,
            Kind::Api(E::Invalid { .. } | E::BadRequest(_)) | Kind::Input(_) => Exit::Invalid,
            Kind::Api(E::Unavailable { .. }) => Exit::Unavailable,
            Kind::Usage(_) => Exit::Usage,
            Kind::Interrupted(_) => Exit::Interrupted,
            Kind::Io(_, e) if e.kind() == io::ErrorKind::BrokenPipe => Exit::Success,
            Kind::Api(_) | Kind::Io(..) | Kind::Failed(_) => Exit::Failure,
        }
    }

    /// Prints the one-line report on stderr (nothing for a closed stdout) and returns the code.
    pub fn report(&self) -> Exit {
        let exit = self.exit();
        if exit == Exit::Success {
            return exit;
        }
        if let Kind::Interrupted(m) = &self.kind {
            eprintln!("{m}");
            return exit;
        }
        let message = match &self.kind {
            Kind::Api(e) => e.to_string(),
            Kind::Input(m) | Kind::Usage(m) | Kind::Interrupted(m) | Kind::Failed(m) => m.clone(),
            Kind::Io(what, e) => format!("{what}: {e}"),
        };
        let prefix = if color_on(&io::stderr()) {
            "\x1b[1;31merror:\x1b[0m"
        } else {
            "error:"
        };
        // One line whatever the message holds, so scripts can `2>&1 | tail -1`.
        let mut line = format!("{prefix} {}", message.replace('\n', " "));
        if let Some(h) = &self.hint {
            line.push_str(&format!(" ({h})"));
        }
        eprintln!("{line}");
        exit
    }
}

impl From<Kind> for CliError {
    fn from(kind: Kind) -> Self {
        CliError { kind, hint: None }
    }
}

impl From<chat_core::Error> for CliError {
    fn from(e: chat_core::Error) -> Self {
        Kind::Api(e).into()
    }
}

/// Whether to colour what goes to this stream: only a terminal, and never with `NO_COLOR`.
pub fn color_on(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::{Error, Missing, Token};

    #[test]
    fn each_kind_of_failure_has_its_documented_code() {
        let token = Token::generate();
        let cases = [
            (
                CliError::from(Error::NotFound(Missing::Application { token })),
                3,
            ),
            (Error::invalid("body", "must not be empty").into(), 4),
            (Error::BadRequest("malformed token".into()).into(), 4),
            (CliError::input("line 3: not JSON"), 4),
            (Error::unavailable("server", "cannot connect").into(), 5),
            (Error::Conflict("taken".into()).into(), 1),
            (Error::Forbidden("admin token required".into()).into(), 1),
            (CliError::failed("boom"), 1),
            (CliError::usage("pass --yes"), 2),
            (CliError::interrupted("import: interrupted"), 130),
            (
                CliError::io("writing", io::Error::from(io::ErrorKind::BrokenPipe)),
                0,
            ),
            (
                CliError::io("reading", io::Error::from(io::ErrorKind::NotFound)),
                1,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(err.exit() as u8, code, "{err:?}");
        }
    }

    #[test]
    fn the_first_hint_wins() {
        let e = CliError::failed("x").hint("first").hint("second");
        assert_eq!(e.hint.as_deref(), Some("first"));
    }
}
