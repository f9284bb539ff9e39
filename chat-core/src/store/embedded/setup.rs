//! Opening the embedded backend: the connection settings, the migrations, the writer and the
//! watcher started.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{mpsc, watch, Mutex, Notify};

use super::*;

impl SqliteBackend {
    /// Opens (creating when missing) the database of `config.database_url`, migrates it and
    /// starts the writer.
    pub async fn open(config: &Config) -> Result<Self> {
        let options = connect_options(config)?;
        let file = Path::new(options.get_filename());
        if !config.create_if_missing && !file.exists() {
            return Err(Error::unavailable(
                "sqlite",
                format!(
                    "no database at {}: it is created by the first write",
                    file.display()
                ),
            ));
        }
        if let Some(dir) = file.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Error::unavailable(
                        "sqlite",
                        format!("cannot create data folder {}: {e}", dir.display()),
                    )
                })?;
            }
        }
        let mut conn: SqliteConnection = options
            .connect()
            .await
            .map_err(|e| Error::unavailable("sqlite", e))?;
        MIGRATOR
            .run(&mut conn)
            .await
            .map_err(|e| Error::unavailable("sqlite", format!("migration failed: {e}")))?;
        let _ = conn.close().await;
        let write = open_writer(&options, config)?;
        let readers = Arc::new(readers::Readers::open(
            options.get_filename().to_path_buf(),
            config.busy_timeout,
        )?);

        let reader = SqlitePoolOptions::new()
            .max_connections(config.read_connections.max(1))
            .min_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(|e| Error::unavailable("sqlite", e))?;
        let admin = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(|e| Error::unavailable("sqlite", e))?;

        let metrics = Arc::new(Metrics::default());
        let committed = Arc::new(Notify::new());
        let (tx, rx) = mpsc::channel(config.max_batch.max(1) * 4);
        let task = tokio::spawn(writer::run(
            write,
            rx,
            tx.downgrade(),
            config.max_batch.max(1),
            Arc::clone(&metrics),
            Arc::clone(&committed),
            config.worker,
        ));
        let hub = Arc::new(Hub::default());
        let (stop, stopped) = watch::channel(false);
        let watcher = tokio::spawn(live::watch(options, Arc::clone(&hub), committed, stopped));
        Ok(SqliteBackend {
            reader,
            readers,
            search_probe: config.search_probe as usize,
            admin,
            writer: tx,
            writer_task: Mutex::new(Some(task)),
            apps: IdCache::default(),
            chats: IdCache::default(),
            metrics,
            live: hub,
            watcher: Mutex::new(Some((stop, watcher))),
        })
    }
}

/// Connection settings: WAL, `synchronous=FULL` (or `NORMAL` when fsync is off: still safe
/// against a killed process, not against power loss), a busy timeout for other processes.
pub(super) fn connect_options(config: &Config) -> Result<SqliteConnectOptions> {
    let url = config.database_url.as_str();
    let options = SqliteConnectOptions::from_str(url).map_err(|e| {
        Error::BadRequest(format!(
            "invalid database URL {}: {e}",
            crate::config::redact_url(url)
        ))
    })?;
    Ok(options
        .create_if_missing(config.create_if_missing)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(if config.fsync {
            SqliteSynchronous::Full
        } else {
            SqliteSynchronous::Normal
        })
        .foreign_keys(true)
        .busy_timeout(config.busy_timeout)
        .pragma("temp_store", "memory")
        .pragma("cache_size", "-32000")
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1)))
}

/// The writer's connection: synchronous, on the file the pools use, with their settings
/// ([`connect_options`]). The file exists and is migrated by then.
fn open_writer(options: &SqliteConnectOptions, config: &Config) -> Result<rusqlite::Connection> {
    let unavailable = |e: rusqlite::Error| Error::unavailable("sqlite", e);
    let conn = rusqlite::Connection::open_with_flags(
        options.get_filename(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(unavailable)?;
    conn.busy_timeout(config.busy_timeout)
        .map_err(unavailable)?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
        .map_err(unavailable)?;
    // synchronous: 2 is FULL, 1 NORMAL; temp_store: 2 is MEMORY.
    let synchronous = if config.fsync { 2 } else { 1 };
    for (pragma, value) in [
        ("synchronous", synchronous),
        ("foreign_keys", 1),
        ("temp_store", 2),
        ("cache_size", -32000),
    ] {
        conn.pragma_update(None, pragma, value)
            .map_err(unavailable)?;
    }
    // Every statement the writer runs is prepared once and kept: the multi-row inserts and
    // counter updates in their fixed sizes, the edits, deletes and the indexer's.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}
