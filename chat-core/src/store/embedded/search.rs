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
//!
//! **The planner** (`newest`/`oldest`): a common substring fills a page within the chat's
//! first few dozen rows in the page's order, while the index must read the long lists of its
//! grams to find them; a rare one is found at once by the index, while reading rows would walk
//! the whole chat. So a search first reads the chat's rows in order — the truth, whatever the
//! index holds — for `probe` rows ([`crate::Config::search_probe`]), and keeps reading while
//! the matches seen so far project that the page fills within [`BUDGET`] times `probe` rows;
//! otherwise it asks the index for the rest of the page, below (above) the last row read. The
//! decision uses the statistics of this very query in this very chat, which no global term
//! count gives, and a wrong guess costs at most the probe.

use rusqlite::{params, Connection, Row};

use super::rows::message_id;
use super::SqliteBackend;
use crate::error::{Error, Result};
use crate::model::{
    ChatNumber, Matcher, Message, MessageNumber, Query, SearchSort, Token, RELEVANCE_WINDOW,
};
use crate::store::{from_micros, SearchSpec};

/// How many times `probe` rows the planner may read when the page projects to fill within
/// them.
pub(crate) const BUDGET: usize = 8;

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

/// A message from a row of `id, number, body, created_at, updated_at`.
fn message(row: &Row<'_>) -> Result<Message> {
    Ok(Message {
        number: MessageNumber::new(row.get(1)?)?,
        body: row.get(2)?,
        created_at: from_micros(row.get(3)?),
        updated_at: from_micros(row.get(4)?),
    })
}

/// The body of a row of `id, number, body, …`, borrowed.
fn body<'r>(row: &'r Row<'_>) -> Result<&'r str> {
    row.get_ref(2)?
        .as_str()
        .map_err(|e| Error::Internal(format!("search: a body that is not text: {e}")))
}

/// A page of one chat's messages containing `query`, in the order of `spec`.
///
/// `newest`/`oldest` read the chat's rows in order while that pays (see the module's
/// planner), then walk the index in rowid (= message number) order inside the rest of the
/// chat's range and stop after `limit` rows, so no step sorts all matches. `relevance` reads the
/// newest [`RELEVANCE_WINDOW`] matches the same way and ranks them by BM25 (see `rank`), best
/// first, newest first among equals.
///
/// Messages whose index entry is not written yet (in `search_backlog`, see `indexer`) are
/// scanned from their rows with the query's matcher — the index's own matching — and their
/// entries in the index (absent, or an older body) are left out. Everything is read in one
/// transaction, one snapshot of the file: a drain indexes messages and deletes their records
/// atomically, so every message is in exactly one of the two. Not yet indexed matches are the
/// newest writes: they are in `relevance`'s window and ranked with the others.
///
/// `None` when nothing matched because the chat's row is gone: deleted, perhaps by another
/// process, since its id was cached.
pub(crate) fn search(
    conn: &Connection,
    chat_id: i64,
    query: &Query,
    spec: &SearchSpec,
    probe: usize,
) -> Result<Option<Vec<Message>>> {
    let (lo, hi) = bounds(chat_id, spec);
    let mut matcher = Matcher::new(query);
    // Dropped without a commit, it ends the read with a rollback: nothing was written.
    let tx = conn.unchecked_transaction()?;
    let found = if query.has_trigram() {
        find(&tx, lo, hi, query, &mut matcher, spec, probe)?
    } else {
        // The rows are always current: no backlog to consider.
        scan(&tx, lo, hi, &mut matcher, spec)?
    };
    // Nothing found: is the chat still there? Its row, by the cached id, in the same snapshot
    // (ids are never reused, and deleting an application deletes its chats' rows with it).
    let live = !found.is_empty()
        || tx
            .prepare_cached("SELECT 1 FROM chats WHERE id = ?1")?
            .exists([chat_id])?;
    tx.commit()?;
    Ok(live.then_some(found))
}

/// [`search`] for a query with a trigram, in the snapshot of `tx`.
fn find(
    tx: &Connection,
    lo: i64,
    hi: i64,
    query: &Query,
    matcher: &mut Matcher,
    spec: &SearchSpec,
    probe: usize,
) -> Result<Vec<Message>> {
    let text = literal(query.as_str());
    let found = match spec.sort {
        SearchSort::Newest | SearchSort::Oldest => {
            let newest = spec.sort == SearchSort::Newest;
            let reach = (spec.offset + spec.limit) as usize;
            let (mut found, rest) = walk(tx, lo, hi, matcher, newest, reach, probe)?;
            if let Some((lo, hi)) = rest {
                let want = reach - found.len();
                let pending = pending(tx, lo, hi, matcher, newest, want)?;
                let mut stmt = tx.prepare_cached(if newest { NEWEST } else { OLDEST })?;
                let indexed = stmt
                    .query_and_then(params![text, lo, hi, want as i64], |r| {
                        Ok::<_, Error>((r.get::<_, i64>(0)?, message(r)?))
                    })?
                    .collect::<Result<Vec<_>>>()?;
                found.extend(merge(pending, indexed, newest, want));
            }
            found
                .into_iter()
                .skip(spec.offset as usize)
                .take(spec.limit as usize)
                .map(|(_, m)| m)
                .collect()
        }
        SearchSort::Relevance => {
            // The window: the matches awaiting indexing (scanned) and the newest indexed ones,
            // read in one walk of the index that SQLite hands over as one packed value (see
            // `WINDOW`), then ranked here (see `rank`); only the page's rows become messages.
            let window_len = RELEVANCE_WINDOW as usize;
            let pending = pending(tx, lo, hi, matcher, true, window_len)?;
            let rest = window_len - pending.len();
            let packed: Option<String> = if rest > 0 {
                tx.prepare_cached(WINDOW)?
                    .query_row(params![text, lo, hi, rest as i64], |r| r.get(0))?
            } else {
                None
            };
            let mut window: Vec<(i64, &str)> = pending
                .iter()
                .map(|(id, m)| (*id, m.body.as_str()))
                .collect();
            unpack(packed.as_deref().unwrap_or_default(), &mut window)?;
            let chosen: Vec<usize> = rank(&window, matcher)
                .into_iter()
                .skip(spec.offset as usize)
                .take(spec.limit as usize)
                .collect();
            let mut page = Vec::with_capacity(chosen.len());
            let mut by_id = tx.prepare_cached(BY_ID)?;
            for i in chosen {
                page.push(match pending.get(i) {
                    Some((_, m)) => m.clone(),
                    None => by_id
                        .query_and_then([window[i].0], message)?
                        .next()
                        .ok_or_else(|| {
                            Error::Internal(format!(
                                "search: message {} left the snapshot",
                                window[i].0
                            ))
                        })??,
                });
            }
            page
        }
    };
    Ok(found)
}

/// A range of message ids, both ends included.
type Range = (i64, i64);

/// A match: the message's id, and the message.
type Hit = (i64, Message);

/// The planner's walk of the chat's rows in `lo..=hi`, in the page's order: the matches it
/// found (at most `reach`), and the part of the range it left for the index — `None` when the
/// page is full or the range was read to its end.
pub(super) fn walk(
    conn: &Connection,
    lo: i64,
    hi: i64,
    matcher: &mut Matcher,
    newest: bool,
    reach: usize,
    probe: usize,
) -> Result<(Vec<Hit>, Option<Range>)> {
    let mut found = Vec::new();
    if probe == 0 || reach == 0 {
        return Ok((found, (reach > 0).then_some((lo, hi))));
    }
    let budget = probe.saturating_mul(BUDGET);
    let mut stmt = conn.prepare_cached(if newest { ROWS_NEWEST } else { ROWS_OLDEST })?;
    let mut rows = stmt.query(params![lo, hi])?;
    let mut read = 0usize;
    while let Some(row) = rows.next()? {
        read += 1;
        let id: i64 = row.get(0)?;
        if matcher.is_match(body(row)?) {
            found.push((id, message(row)?));
            if found.len() >= reach {
                return Ok((found, None));
            }
        }
        // Past the probe, read on only while the rate of matches so far fills the page
        // within the budget.
        let fills_in_budget =
            !found.is_empty() && read.saturating_mul(reach) / found.len() <= budget;
        if read >= budget || (read >= probe && !fills_in_budget) {
            let rest = if newest { (lo, id - 1) } else { (id + 1, hi) };
            return Ok((found, (rest.0 <= rest.1).then_some(rest)));
        }
    }
    Ok((found, None))
}

/// The chat's messages in `lo..=hi` that await indexing and contain the query, in number
/// order (highest first when `newest`), at most `limit`.
fn pending(
    conn: &Connection,
    lo: i64,
    hi: i64,
    matcher: &mut Matcher,
    newest: bool,
    limit: usize,
) -> Result<Vec<(i64, Message)>> {
    let mut stmt = conn.prepare_cached(if newest {
        PENDING_NEWEST
    } else {
        PENDING_OLDEST
    })?;
    let mut rows = stmt.query(params![lo, hi])?;
    let mut found = Vec::new();
    while found.len() < limit {
        let Some(row) = rows.next()? else { break };
        if matcher.is_match(body(row)?) {
            found.push((row.get(0)?, message(row)?));
        }
    }
    Ok(found)
}

/// The first `limit` items of two lists sorted the same way (by id; descending when
/// `newest`).
fn merge(
    a: Vec<(i64, Message)>,
    b: Vec<(i64, Message)>,
    newest: bool,
    limit: usize,
) -> Vec<(i64, Message)> {
    let mut all: Vec<(i64, Message)> = a.into_iter().chain(b).collect();
    if newest {
        all.sort_by_key(|x| std::cmp::Reverse(x.0));
    } else {
        all.sort_by_key(|x| x.0);
    }
    all.truncate(limit);
    all
}

/// The chat's rows in `?1..=?2`, highest first (the planner's walk).
const ROWS_NEWEST: &str = "SELECT id, number, body, created_at, updated_at FROM messages \
     WHERE id BETWEEN ?1 AND ?2 ORDER BY id DESC";

/// As [`ROWS_NEWEST`], lowest first.
const ROWS_OLDEST: &str = "SELECT id, number, body, created_at, updated_at FROM messages \
     WHERE id BETWEEN ?1 AND ?2 ORDER BY id ASC";

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

/// The message whose id is `?1`.
const BY_ID: &str = "SELECT id, number, body, created_at, updated_at FROM messages WHERE id = ?1";

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
fn rank(window: &[(i64, &str)], matcher: &mut Matcher) -> Vec<usize> {
    let counted: Vec<(f64, f64)> = window
        .iter()
        .map(|(_, body)| {
            let tf = matcher.occurrences(body);
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
fn scan(
    conn: &Connection,
    lo: i64,
    hi: i64,
    matcher: &mut Matcher,
    spec: &SearchSpec,
) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare_cached(if spec.sort == SearchSort::Oldest {
        ROWS_OLDEST
    } else {
        ROWS_NEWEST
    })?;
    let mut rows = stmt.query(params![lo, hi])?;
    let mut skip = spec.offset;
    let mut found = Vec::new();
    while found.len() < spec.limit as usize {
        let Some(row) = rows.next()? else { break };
        if !matcher.is_match(body(row)?) {
            continue;
        }
        if skip > 0 {
            skip -= 1;
            continue;
        }
        found.push(message(row)?);
    }
    Ok(found)
}

impl SqliteBackend {
    /// A search on a synchronous read connection (see `readers`): in place when it is cheap
    /// (an index walk that stops after one page), on the blocking pool when it is expensive
    /// (`relevance`, or a query without a trigram, which scans).
    pub(super) async fn search_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        query: &Query,
        spec: &SearchSpec,
    ) -> Result<Vec<Message>> {
        let chat_id = self.chat_id(token, chat).await?;
        let probe = self.search_probe;
        let found = if crate::model::expensive(spec.sort, query) {
            let (readers, query, spec) =
                (std::sync::Arc::clone(&self.readers), query.clone(), *spec);
            tokio::task::spawn_blocking(move || {
                readers.with(|conn| search(conn, chat_id, &query, &spec, probe))
            })
            .await
            .map_err(|e| Error::Internal(format!("search: the reading thread failed: {e}")))??
        } else {
            self.readers
                .with(|conn| search(conn, chat_id, query, spec, probe))?
        };
        match found {
            Some(found) => Ok(found),
            None => {
                // Looked up again: the error names what is gone (the application or the chat).
                self.recheck(token, Some(chat)).await?;
                Ok(Vec::new())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqlitePool;
    use sqlx::Row as _;

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
        assert_eq!(
            ids(rank(&window, &mut Matcher::new(&q))),
            [2, 4, 3, 6, 1, 5]
        );
        // Overlapping occurrences count, in folded text: "aaa" twice in "AAAA"; Unicode folds.
        let only = [(5, "AAAA bbbb"), (6, "aaa bbbbb"), (7, "ÄÄÄ bbbbb")];
        let order = rank(&only, &mut Matcher::new(&Query::parse("aaa").unwrap()));
        assert_eq!(
            order.iter().map(|&i| only[i].0).collect::<Vec<_>>(),
            [5, 6, 7]
        );
        let order = rank(&only, &mut Matcher::new(&Query::parse("äää").unwrap()));
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
