//! Small programs that use chat-core as a library; the code is in `examples/`, and
//! `cargo test --workspace` builds every one of them so they keep compiling.
//!
//! * `quick_start` — the embedded profile: an SQLite file, no server, no setup.
//!   `cargo run -p chat-examples --example quick_start`
//! * `http_client` — the same calls over HTTP against a running chat-server.
//!   `cargo run -p chat-examples --example http_client -- http://127.0.0.1:3000`
//! * `bulk_import` — creating many messages concurrently with a progress bar.
//!   `cargo run -p chat-examples --example bulk_import -- 50000`
