//! Synchronous read connections for the hottest reads (search).
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every statement and every
//! row across a channel: a search of four statements cost four round trips between threads and a
//! wake-up per row streamed. These connections are used in place, on the thread that asks:
//! a cheap read (an index walk that stops after one page) runs on the async worker itself, as
//! short as the JSON encoding of its answer; an expensive one (see
//! [`crate::SearchRequest::is_expensive`]) is moved to the blocking pool by its caller. Each
//! connection keeps its prepared statements. WAL: a reader never waits for the writer.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

/// Most idle connections kept; more are opened while more readers run at once, and closed
/// after.
const MAX_IDLE: usize = 16;

/// A pool of synchronous read connections on the database file.
pub(crate) struct Readers {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// The pool on `path` (an existing, migrated file), with one connection opened to check it.
    pub(crate) fn open(path: PathBuf, busy_timeout: Duration) -> Result<Self> {
        let readers = Readers {
            path,
            busy_timeout,
            idle: Mutex::new(Vec::new()),
        };
        let first = readers.connect()?;
        readers.give_back(first);
        Ok(readers)
    }

    fn connect(&self) -> Result<Connection> {
        let unavailable = |e: rusqlite::Error| Error::unavailable("sqlite", e);
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(unavailable)?;
        conn.busy_timeout(self.busy_timeout).map_err(unavailable)?;
        // Reads only, whatever a bug might send; temp_store 2 is MEMORY.
        for (pragma, value) in [("query_only", 1), ("temp_store", 2), ("cache_size", -16000)] {
            conn.pragma_update(None, pragma, value)
                .map_err(unavailable)?;
        }
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
    }

    /// Runs `read` on an idle connection (a new one when none is idle) and puts it back. It
    /// blocks the calling thread for as long as `read` runs.
    pub(crate) fn with<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match conn {
            Some(c) => c,
            None => self.connect()?,
        };
        let answer = read(&conn);
        // A read that failed inside a transaction leaves none open: `read` uses a transaction
        // guard, which rolls back when dropped.
        self.give_back(conn);
        answer
    }
}
