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
use crate::model::{Message, Query};

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

/// Best match first (bm25), then by number.
pub(crate) async fn search(
    pool: &SqlitePool,
    chat_id: i64,
    query: &Query,
    limit: u32,
    offset: u32,
) -> Result<Vec<Message>> {
    let lo = message_id(chat_id, 0);
    let hi = message_id(chat_id, u32::MAX);
    let text = query.as_str();
    let rows = if query.has_trigram() {
        sqlx::query(
            "SELECT m.number, m.body, m.created_at, m.updated_at \
             FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid \
             WHERE messages_fts MATCH ?1 AND messages_fts.rowid BETWEEN ?2 AND ?3 \
             ORDER BY messages_fts.rank, m.id LIMIT ?4 OFFSET ?5",
        )
        .bind(literal(text))
        .bind(lo)
        .bind(hi)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?
    } else {
        // One or two characters: no trigram to look up; scan this chat only, folding case in
        // Rust as the trigram index does (SQLite's `lower()` folds ASCII only).
        let mut rows = sqlx::query(
            "SELECT number, body, created_at, updated_at FROM messages \
             WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
        )
        .bind(lo)
        .bind(hi)
        .fetch(pool);
        let mut skip = offset;
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
            found.push(row);
            if found.len() >= limit as usize {
                break;
            }
        }
        found
    };
    rows.iter().map(message_from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::literal;

    #[test]
    fn quotes_are_doubled_and_the_text_wrapped() {
        assert_eq!(literal("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("NEAR(x y)"), "\"NEAR(x y)\"");
    }
}
