//! Rebuilds chat-core when a migration is added: `sqlx::migrate!` embeds the migrations
//! folders at compile time, and a new file alone would not trigger a rebuild.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
