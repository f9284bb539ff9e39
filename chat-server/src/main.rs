//! `chat-server`: see `chat-server --help`.

fn main() -> std::process::ExitCode {
    chat_server::run::main_entry()
}
