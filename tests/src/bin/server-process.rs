//! The chat-server program, built inside the test crate so process-level tests can find it
//! through `CARGO_BIN_EXE_server-process` (the same code as the `chat-server` binary).

fn main() -> std::process::ExitCode {
    chat_server::run::main_entry()
}
