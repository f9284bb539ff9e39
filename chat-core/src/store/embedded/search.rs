//! Substring search in one chat with FTS5's trigram index.
//!
//! The user's text is always one FTS5 string (`"…"` with inner quotes doubled), so operators
//! such as `AND`, `NEAR(`, `*`, `-` or `:` are just characters to find. The trigram tokenizer
//! turns that string into the sequence of its three-character grams, so any substring of three
//! or more characters matches, case-insensitively, wherever it sits in a word. The chat is
//! selected by a rowid range (message ids are `chat << 32 | number`), which FTS5 applies inside
//! the index. Queries shorter than three characters have no trigram and scan the chat instead,
//! folding case like the tokenizer ([`crate::model::fold_case`]). Messages not yet in the index
//! (the backlog the writer fills it from in bulk) are scanned from their rows in the same
//! snapshot, so search is exact from the moment a write commits.

use futures::TryStreamExt;
use sqlx::sqlite::SqlitePool;
use sqlx::Row;

use super::rows::{message_from_row, message_id};
use super::SqliteBackend;
use crate::error::Result;
use crate::model::{fold_case, ChatNumber, Message, Query, SearchSort, Token, RELEVANCE_WINDOW};
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
/// `after` (below it for `newest` and `relevance`, above it for `oldest`).
pub(crate) fn bounds(chat_id: i64, spec: &SearchSpec) -> (i64, i64) {
    let (mut lo, mut hi) = (message_id(chat_id, 0), message_id(chat_id, u32::MAX));
    match (spec.sort, spec.after) {
        (SearchSort::Oldest, Some(after)) => lo = message_id(chat_id, after) + 1,
        (_, Some(after)) => hi = message_id(chat_id, after) - 1,
        _ => {}
    }
    (lo, hi)
}

/// A page of one chat's messages containing `query`, in the order of `spec`.
///
/// `newest`/`oldest` walk the index in rowid (= message number) order inside the chat's
/// range and stop after `limit` rows, so no step sorts all matches. `relevance` reads the
/// newest [`RELEVANCE_WINDOW`] matches the same way and ranks them by BM25 (see `rank`), best
/// first, newest first among equals.
///
/// Messages whose index entry is not written yet (in `search_backlog`, see `indexer`) are
/// scanned from their rows with [`Query::matches`] — the index's own matching — and their
/// entries in the index (absent, or an older body) are left out. Both are read in one
/// transaction, one snapshot of the file: a drain indexes messages and deletes their records
/// atomically, so every message is in exactly one of the two. Not yet indexed matches are the
/// newest writes: they are in `relevance`'s window and ranked with the others.
pub(crate) async fn search(
    pool: &SqlitePool,
    chat_id: i64,
    query: &Query,
    spec: &SearchSpec,
) -> Result<Vec<Message>> {
    let (lo, hi) = bounds(chat_id, spec);
    if !query.has_trigram() {
        // The rows are always current: no backlog to consider.
        return scan(pool, lo, hi, query, spec).await;
    }
    let text = literal(query.as_str());
    let mut tx = pool.begin().await?;
    let found = match spec.sort {
        SearchSort::Newest | SearchSort::Oldest => {
            let newest = spec.sort == SearchSort::Newest;
            let reach = spec.offset + spec.limit;
            let pending = pending(&mut tx, lo, hi, query, newest, reach).await?;
            let indexed = sqlx::query(if newest { NEWEST } else { OLDEST })
                .bind(&text)
                .bind(lo)
                .bind(hi)
                .bind(reach)
                .fetch_all(&mut *tx)
                .await?;
            let indexed = indexed
                .iter()
                .map(|r| Ok((r.try_get::<i64, _>("id")?, message_from_row(r)?)))
                .collect::<Result<Vec<_>>>()?;
            merge(
                pending,
                indexed,
                newest,
                spec.offset as usize,
                spec.limit as usize,
            )
        }
        SearchSort::Relevance => {
            // The window: the matches awaiting indexing (scanned) and the newest indexed ones,
            // read in one walk of the index that SQLite hands over as one packed value (see
            // `WINDOW`), then ranked here (see `rank`); only the page's rows become messages.
            let pending = pending(&mut tx, lo, hi, query, true, RELEVANCE_WINDOW).await?;
            let rest = RELEVANCE_WINDOW - pending.len() as u32;
            let packed: Option<String> = if rest > 0 {
                sqlx::query_scalar(WINDOW)
                    .bind(&text)
                    .bind(lo)
                    .bind(hi)
                    .bind(rest)
                    .fetch_one(&mut *tx)
                    .await?
            } else {
                None
            };
            let mut window: Vec<(i64, &str)> = pending
                .iter()
                .map(|(id, m)| (*id, m.body.as_str()))
                .collect();
            unpack(packed.as_deref().unwrap_or_default(), &mut window)?;
            let chosen: Vec<usize> = rank(&window, query)
                .into_iter()
                .skip(spec.offset as usize)
                .take(spec.limit as usize)
                .collect();
            let wanted: Vec<i64> = chosen
                .iter()
                .filter(|&&i| i >= pending.len())
                .map(|&i| window[i].0)
                .collect();
            let mut rows = std::collections::HashMap::with_capacity(wanted.len());
            if !wanted.is_empty() {
                let ids = format!(
                    "[{}]",
                    wanted
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                );
                for r in sqlx::query(BY_IDS).bind(ids).fetch_all(&mut *tx).await? {
                    rows.insert(r.try_get::<i64, _>("id")?, message_from_row(&r)?);
                }
            }
            let mut page = Vec::with_capacity(chosen.len());
            for i in chosen {
                page.push(match pending.get(i) {
                    Some((_, m)) => m.clone(),
                    None => rows.remove(&window[i].0).ok_or_else(|| {
                        crate::Error::Internal(format!(
                            "search: message {} left the snapshot",
                            window[i].0
                        ))
                    })?,
                });
            }
            page
        }
    };
    tx.commit().await?;
    Ok(found)
}

/// The chat's messages in `lo..=hi` that await indexing and contain `query`, in number order
/// (highest first when `newest`), at most `limit`.
async fn pending(
    tx: &mut sqlx::SqliteConnection,
    lo: i64,
    hi: i64,
    query: &Query,
    newest: bool,
    limit: u32,
) -> Result<Vec<(i64, Message)>> {
    let sql = if newest {
        PENDING_NEWEST
    } else {
        PENDING_OLDEST
    };
    let mut rows = sqlx::query(sql).bind(lo).bind(hi).fetch(&mut *tx);
    let mut found = Vec::new();
    while let Some(row) = rows.try_next().await? {
        let body: &str = row.try_get("body")?;
        if query.matches(body) {
            found.push((row.try_get::<i64, _>("id")?, message_from_row(&row)?));
            if found.len() >= limit as usize {
                break;
            }
        }
    }
    Ok(found)
}

/// Items `offset..offset + limit` of two lists sorted the same way (by id; descending when
/// `newest`).
fn merge(
    a: Vec<(i64, Message)>,
    b: Vec<(i64, Message)>,
    newest: bool,
    offset: usize,
    limit: usize,
) -> Vec<Message> {
    let mut all: Vec<(i64, Message)> = a.into_iter().chain(b).collect();
    if newest {
        all.sort_by_key(|x| std::cmp::Reverse(x.0));
    } else {
        all.sort_by_key(|x| x.0);
    }
    all.into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, m)| m)
        .collect()
}

/// The messages in `?1..=?2` that await indexing, highest first.
const PENDING_NEWEST: &str = "SELECT id, number, body, created_at, updated_at FROM messages \
     WHERE id IN (SELECT message_id FROM search_backlog WHERE message_id BETWEEN ?1 AND ?2) \
     ORDER BY id DESC";

/// As [`PENDING_NEWEST`], lowest first.
const PENDING_OLDEST: &str = "SELECT id, number, body, created_at, updated_at FROM messages \
     WHERE id IN (SELECT message_id FROM search_backlog WHERE message_id BETWEEN ?1 AND ?2) \
     ORDER BY id ASC";

/// Matches in the chat's rowid range, highest first; FTS5 walks its doclists backwards and the
/// LIMIT stops it. Entries of messages awaiting indexing are left out (their rows are scanned).
pub(crate) const NEWEST: &str = "SELECT m.id, m.number, m.body, m.created_at, m.updated_at \
     FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid \
     WHERE messages_fts MATCH ?1 AND messages_fts.rowid BETWEEN ?2 AND ?3 \
       AND messages_fts.rowid NOT IN \
           (SELECT message_id FROM search_backlog WHERE message_id BETWEEN ?2 AND ?3) \
     ORDER BY messages_fts.rowid DESC LIMIT ?4";

/// As [`NEWEST`], lowest first.
pub(crate) const OLDEST: &str = "SELECT m.id, m.number, m.body, m.created_at, m.updated_at \
     FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid \
     WHERE messages_fts MATCH ?1 AND messages_fts.rowid BETWEEN ?2 AND ?3 \
       AND messages_fts.rowid NOT IN \
           (SELECT message_id FROM search_backlog WHERE message_id BETWEEN ?2 AND ?3) \
     ORDER BY messages_fts.rowid ASC LIMIT ?4";

/// The newest `?4` indexed matches in the chat's rowid range (as [`NEWEST`]), packed into one
/// text value: for each, `ID:BYTES:BODY` (BYTES the body's length in UTF-8 bytes), so the window
/// crosses from SQLite in one value rather than a row each (see [`unpack`]). NULL when none.
pub(crate) const WINDOW: &str = "SELECT group_concat(w.id || ':' || length(CAST(w.body AS BLOB)) \
     || ':' || w.body, '') FROM (SELECT m.id, m.body \
     FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid \
     WHERE messages_fts MATCH ?1 AND messages_fts.rowid BETWEEN ?2 AND ?3 \
       AND messages_fts.rowid NOT IN \
           (SELECT message_id FROM search_backlog WHERE message_id BETWEEN ?2 AND ?3) \
     ORDER BY messages_fts.rowid DESC LIMIT ?4) w";

/// The messages whose ids are in the JSON array `?1`.
const BY_IDS: &str = "SELECT id, number, body, created_at, updated_at FROM messages \
     WHERE id IN (SELECT value FROM json_each(?1))";

/// Appends the (id, body) pairs of a [`WINDOW`] value to `window`.
fn unpack<'a>(mut packed: &'a str, window: &mut Vec<(i64, &'a str)>) -> Result<()> {
    let bad = || crate::Error::Internal("search: a malformed window from the index".into());
    while !packed.is_empty() {
        let (id, rest) = packed.split_once(':').ok_or_else(bad)?;
        let (len, rest) = rest.split_once(':').ok_or_else(bad)?;
        let id: i64 = id.parse().map_err(|_| bad())?;
        let len: usize = len.parse().map_err(|_| bad())?;
        let body = rest.get(..len).ok_or_else(bad)?;
        window.push((id, body));
        packed = &rest[len..];
    }
    Ok(())
}

/// BM25's constants, as FTS5's `bm25()` uses them.
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// The positions of `window`'s messages (id, body) ranked by BM25 for the one phrase
/// searched, best first, newest (highest id) first among equals. A message's score grows with
/// how often it contains the query (overlapping occurrences, as FTS5 counts a phrase's
/// instances, in case-folded text) and falls with its length in trigrams against the window's
/// mean; the phrase's IDF is the same for every message of one search, so it leaves the order
/// alone. This is the order FTS5's `bm25()` gives with the window's mean length for the
/// table's, computed from the bodies the walk already read: FTS5's own ranking reads each
/// row's size record and cost about ten times the walk (90 ms more for 10,000 rows).
fn rank(window: &[(i64, &str)], query: &Query) -> Vec<usize> {
    let needle = fold_case(query.as_str());
    let mut folded = String::new();
    let counted: Vec<(f64, f64)> = window
        .iter()
        .map(|(_, body)| {
            if body.is_ascii() {
                folded.clear();
                folded.extend(body.bytes().map(|b| char::from(b.to_ascii_lowercase())));
            } else {
                folded = fold_case(body);
            }
            let mut tf = 0u32;
            let mut from = 0;
            while let Some(at) = folded[from..].find(&needle) {
                tf += 1;
                // The next occurrence may overlap this one: continue one character on.
                from += at + folded[from + at..].chars().next().map_or(1, char::len_utf8);
            }
            let chars = if body.is_ascii() {
                body.len()
            } else {
                body.chars().count()
            };
            (f64::from(tf), chars.saturating_sub(2).max(1) as f64)
        })
        .collect();
    let mean = counted.iter().map(|c| c.1).sum::<f64>() / counted.len().max(1) as f64;
    let score =
        |(tf, length): (f64, f64)| tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * length / mean));
    let mut order: Vec<(f64, i64, usize)> = counted
        .into_iter()
        .enumerate()
        .map(|(i, c)| (score(c), window[i].0, i))
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
    order.into_iter().map(|o| o.2).collect()
}

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

impl SqliteBackend {
    pub(super) async fn search_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        query: &Query,
        spec: &SearchSpec,
    ) -> Result<Vec<Message>> {
        let chat_id = self.chat_id(token, chat).await?;
        let found = search(&self.reader, chat_id, query, spec).await?;
        if found.is_empty() {
            self.recheck(token, Some(chat)).await?;
        }
        Ok(found)
    }
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
    fn relevance_ranks_by_occurrences_against_length_and_newest_among_equals() {
        let window = [
            (1, "Apple pie with a long tail of other words in it"),
            (2, "apple APPLE apple"),
            (3, "an apple"),
            (4, "an apple"),
            (5, "AAAA bbbb"),
            (6, "ÄPPLE apple, Äpple"),
        ];
        let q = Query::parse("apple").unwrap();
        let ids = |order: Vec<usize>| order.iter().map(|&i| window[i].0).collect::<Vec<_>>();
        assert_eq!(ids(rank(&window, &q)), [2, 4, 3, 6, 1, 5]);
        // Overlapping occurrences count, in folded text: "aaa" twice in "AAAA"; Unicode folds.
        let only = [(5, "AAAA bbbb"), (6, "aaa bbbbb"), (7, "ÄÄÄ bbbbb")];
        let order = rank(&only, &Query::parse("aaa").unwrap());
        assert_eq!(
            order.iter().map(|&i| only[i].0).collect::<Vec<_>>(),
            [5, 6, 7]
        );
        let order = rank(&only, &Query::parse("äää").unwrap());
        assert_eq!(only[order[0]].0, 7);
    }

    #[test]
    fn a_packed_window_unpacks_to_its_pairs_whatever_the_bodies_hold() {
        let bodies = ["a:b", "", "12:34:x", "é🎉:"];
        let packed: String = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| format!("{}:{}:{b}", i + 7, b.len()))
            .collect();
        let mut window = Vec::new();
        unpack(&packed, &mut window).unwrap();
        let want: Vec<(i64, &str)> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| (i as i64 + 7, *b))
            .collect();
        assert_eq!(window, want);
        assert!(unpack("1:9:short", &mut Vec::new()).is_err());
        assert!(unpack("x:1:a", &mut Vec::new()).is_err());
    }

    #[test]
    fn quotes_are_doubled_and_the_text_wrapped() {
        assert_eq!(literal("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("NEAR(x y)"), "\"NEAR(x y)\"");
    }
}
