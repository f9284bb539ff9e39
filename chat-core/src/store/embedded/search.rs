//! Substring search in one chat with FTS5's trigram index.
//!
//! The user's text is always one FTS5 string (`"…"` with inner quotes doubled), so operators
//! such as `AND`, `NEAR(`, `*`, `-` or `:` are just characters to find. The trigram tokenizer
//! turns that string into the sequence of its three-character grams, so any substring of three
//! or more characters matches, case-insensitively, wherever it sits in a word. The chat is
//! selected by a rowid range (message ids are `chat << 32 | number`), which FTS5 applies inside
//! the index. Queries shorter than three characters have no trigram and scan the chat instead,
//! folding case like the tokenizer ([`crate::model::fold_case`]).

use futures::TryStreamExt;
use sqlx::sqlite::SqlitePool;
use sqlx::Row;

use super::message_from_row;
use super::message_id;
use crate::error::Result;
use crate::model::{Message, Query, SearchSort, RELEVANCE_WINDOW};
use crate::store::SearchSpec;

/// The FTS5 expression that matches `text` literally.
pub(crate) fn literal(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 2);
    s.push('"');
    for c in text.chars() {
        if c == '"' {
            s.push('"');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// The rowid bounds (inclusive) a page of `spec` covers in the chat: the whole chat, cut at
/// `after` for `newest` (below it) and `oldest` (above it).
pub(crate) fn bounds(chat_id: i64, spec: &SearchSpec) -> (i64, i64) {
    let (mut lo, mut hi) = (message_id(chat_id, 0), message_id(chat_id, u32::MAX));
    match (spec.sort, spec.after) {
        (SearchSort::Newest, Some(after)) => hi = message_id(chat_id, after) - 1,
        (SearchSort::Oldest, Some(after)) => lo = message_id(chat_id, after) + 1,
        _ => {}
    }
    (lo, hi)
}

/// A page of one chat's messages containing `query`, in the order of `spec`.
///
/// `newest`/`oldest` walk the index in rowid (= message number) order inside the chat's
/// range and stop after `limit` rows, so no step sorts all matches. `relevance` ranks (bm25)
/// the newest [`RELEVANCE_WINDOW`] matches, best first, newest first among equals.
pub(crate) async fn search(
    pool: &SqlitePool,
    chat_id: i64,
    query: &Query,
    spec: &SearchSpec,
) -> Result<Vec<Message>> {
    let (lo, hi) = bounds(chat_id, spec);
    if !query.has_trigram() {
        return scan(pool, lo, hi, query, spec).await;
    }
    let rows = match spec.sort {
        SearchSort::Newest | SearchSort::Oldest => {
            let sql = if spec.sort == SearchSort::Newest {
                NEWEST
            } else {
                OLDEST
            };
            sqlx::query(sql)
                .bind(literal(query.as_str()))
                .bind(lo)
                .bind(hi)
                .bind(spec.limit)
                .fetch_all(pool)
                .await?
        }
        SearchSort::Relevance => {
            sqlx::query(RELEVANCE)
                .bind(literal(query.as_str()))
                .bind(lo)
                .bind(hi)
                .bind(RELEVANCE_WINDOW)
                .bind(spec.limit)
                .bind(spec.offset)
                .fetch_all(pool)
                .await?
        }
    };
    rows.iter().map(message_from_row).collect()
}

/// Matches in the chat's rowid range, highest first; FTS5 walks its doclists backwards and the
/// LIMIT stops it.
pub(crate) const NEWEST: &str = "SELECT m.number, m.body, m.created_at, m.updated_at \
     FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid \
     WHERE messages_fts MATCH ?1 AND messages_fts.rowid BETWEEN ?2 AND ?3 \
     ORDER BY messages_fts.rowid DESC LIMIT ?4";

/// As [`NEWEST`], lowest first.
pub(crate) const OLDEST: &str = "SELECT m.number, m.body, m.created_at, m.updated_at \
     FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid \
     WHERE messages_fts MATCH ?1 AND messages_fts.rowid BETWEEN ?2 AND ?3 \
     ORDER BY messages_fts.rowid ASC LIMIT ?4";

/// The newest `?4` matches, ranked by bm25 (FTS5's `rank`, lower is better).
pub(crate) const RELEVANCE: &str = "SELECT m.number, m.body, m.created_at, m.updated_at \
     FROM (SELECT rowid AS id, rank AS score FROM messages_fts \
           WHERE messages_fts MATCH ?1 AND rowid BETWEEN ?2 AND ?3 \
           ORDER BY rowid DESC LIMIT ?4) AS w \
     JOIN messages m ON m.id = w.id \
     ORDER BY w.score, w.id DESC LIMIT ?5 OFFSET ?6";

/// One or two characters: no trigram to look up. Scans the chat's rows in the page's order,
/// folding case in Rust as the trigram index does (SQLite's `lower()` folds ASCII only), and
/// stops once the page is full. With no grams to rank by, `relevance` comes newest first.
async fn scan(
    pool: &SqlitePool,
    lo: i64,
    hi: i64,
    query: &Query,
    spec: &SearchSpec,
) -> Result<Vec<Message>> {
    let sql = if spec.sort == SearchSort::Oldest {
        "SELECT number, body, created_at, updated_at FROM messages \
         WHERE id BETWEEN ?1 AND ?2 ORDER BY id ASC"
    } else {
        "SELECT number, body, created_at, updated_at FROM messages \
         WHERE id BETWEEN ?1 AND ?2 ORDER BY id DESC"
    };
    let mut rows = sqlx::query(sql).bind(lo).bind(hi).fetch(pool);
    let mut skip = spec.offset;
    let mut found = Vec::new();
    while let Some(row) = rows.try_next().await? {
        let body: &str = row.try_get("body")?;
        if !query.matches(body) {
            continue;
        }
        if skip > 0 {
            skip -= 1;
            continue;
        }
        found.push(message_from_row(&row)?);
        if found.len() >= spec.limit as usize {
            break;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan of `sql` on a freshly migrated file, one `detail` line per step.
    fn plan(sql: &str, binds: usize) -> Vec<String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("plan.db").display());
            let pool = SqlitePool::connect(&url).await.unwrap();
            super::super::MIGRATOR.run(&pool).await.unwrap();
            let explain = format!("EXPLAIN QUERY PLAN {sql}");
            let mut q = sqlx::query(&explain).bind("\"abc\"");
            for i in 1..binds {
                q = q.bind(i as i64);
            }
            let rows = q.fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows.iter().map(|r| r.get::<String, _>("detail")).collect()
        })
    }

    #[test]
    fn newest_and_oldest_walk_the_index_in_order_and_never_sort_the_matches() {
        for sql in [NEWEST, OLDEST] {
            let plan = plan(sql, 4);
            assert!(
                !plan.iter().any(|d| d.contains("TEMP B-TREE")),
                "a sort step: {plan:?}"
            );
            assert!(
                plan.first().is_some_and(|d| d.contains("VIRTUAL TABLE")),
                "the index is not the outer loop: {plan:?}"
            );
        }
    }

    #[test]
    fn relevance_ranks_only_the_window() {
        let plan = plan(RELEVANCE, 6);
        // The window is cut by rowid inside FTS5 (no sort of all matches); only the ranking of
        // the window's rows sorts.
        assert_eq!(
            plan.iter().filter(|d| d.contains("TEMP B-TREE")).count(),
            1,
            "{plan:?}"
        );
    }

    #[test]
    fn quotes_are_doubled_and_the_text_wrapped() {
        assert_eq!(literal("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("NEAR(x y)"), "\"NEAR(x y)\"");
    }
}
