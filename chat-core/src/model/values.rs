//! The validated values: the identifiers' checked constructors, names, bodies, search queries.

use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use super::ids::{ChatNumber, MessageNumber, Token};
use super::limits::{MAX_BODY_BYTES, MAX_NAME_CHARS, MAX_NUMBER, MAX_QUERY_CHARS};
use crate::error::{Error, Missing, Result};

impl Token {
    /// Checks the syntax: exactly 32 characters from `0-9a-f`.
    pub fn parse(s: &str) -> Result<Self> {
        if s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Token(s.to_owned()))
        } else {
            Err(Error::BadRequest(format!(
                "malformed application token {:?}: expected 32 lowercase hex characters",
                shorten(s, 40)
            )))
        }
    }

    /// Parses the token of an application to look up. A malformed one names no application,
    /// so it is a [`Error::NotFound`] ([`Missing::MalformedToken`]) that says what a token looks
    /// like, as clients of the API expect; [`Token::parse`] is for tokens used as cursors.
    pub fn lookup(s: &str) -> Result<Self> {
        Token::parse(s).map_err(|_| {
            Error::NotFound(Missing::MalformedToken {
                token: shorten(s, 40),
            })
        })
    }
}

impl FromStr for Token {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Token::parse(s)
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Token::parse(&s).map_err(serde::de::Error::custom)
    }
}

pub(super) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

macro_rules! checked_number {
    ($name:ident, $what:literal) => {
        impl $name {
            /// Checks the range `1..=MAX_NUMBER`.
            pub fn new(n: u32) -> Result<Self> {
                if (1..=MAX_NUMBER).contains(&n) {
                    Ok($name(n))
                } else {
                    Err(Error::BadRequest(format!(
                        concat!($what, " number must be between 1 and {}, got {}"),
                        MAX_NUMBER, n
                    )))
                }
            }

            /// Parses decimal digits (`[0-9]+`) naming a number in `1..=MAX_NUMBER`, rejecting
            /// anything else with a message that quotes what was sent.
            pub fn parse(s: &str) -> Result<Self> {
                if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Error::BadRequest(format!(
                        concat!($what, " number must be a positive integer, got {:?}"),
                        shorten(s, 40)
                    )));
                }
                match s.parse::<u32>() {
                    Ok(n) if (1..=MAX_NUMBER).contains(&n) => Ok($name(n)),
                    _ => Err(Error::BadRequest(format!(
                        concat!($what, " number must be between 1 and {}, got {:?}"),
                        MAX_NUMBER,
                        shorten(s, 40)
                    ))),
                }
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                $name::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let n = u32::deserialize(d)?;
                $name::new(n).map_err(serde::de::Error::custom)
            }
        }
    };
}

checked_number!(ChatNumber, "chat");
checked_number!(MessageNumber, "message");

/// A validated application name: 1 to 255 characters, not blank; surrounding space trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// Validates and trims a name.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Error::invalid("name", "must not be empty"));
        }
        let n = t.chars().count();
        if n > MAX_NAME_CHARS {
            return Err(Error::invalid(
                "name",
                format!("must be at most {MAX_NAME_CHARS} characters, got {n}"),
            ));
        }
        if t.chars().any(char::is_control) {
            return Err(Error::invalid(
                "name",
                "must not contain control characters",
            ));
        }
        Ok(Name(t.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A validated message body: not blank, at most 16 KiB of UTF-8, no NUL byte. Kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body(String);

impl Body {
    /// Validates a body.
    pub fn parse(s: &str) -> Result<Self> {
        if s.trim().is_empty() {
            return Err(Error::invalid("body", "must not be empty"));
        }
        if s.len() > MAX_BODY_BYTES {
            return Err(Error::invalid(
                "body",
                format!("must be at most {MAX_BODY_BYTES} bytes, got {}", s.len()),
            ));
        }
        if s.contains('\0') {
            return Err(Error::invalid("body", "must not contain NUL characters"));
        }
        Ok(Body(s.to_owned()))
    }

    /// The body.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The body, by value.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A validated search query: not blank, at most 1,024 characters; trimmed; matched literally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query(String);

impl Query {
    /// Validates and trims a query.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Error::invalid("query", "must not be blank"));
        }
        let n = t.chars().count();
        if n > MAX_QUERY_CHARS {
            return Err(Error::invalid(
                "query",
                format!("must be at most {MAX_QUERY_CHARS} characters, got {n}"),
            ));
        }
        if t.contains('\0') {
            return Err(Error::invalid("query", "must not contain NUL characters"));
        }
        Ok(Query(t.to_owned()))
    }

    /// The query text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `text` contains the query, case-insensitively as the search indexes compare:
    /// both sides folded character by character with [`fold_case`].
    pub fn matches(&self, text: &str) -> bool {
        Matcher::new(self).is_match(text)
    }

    /// Whether the query holds a trigram (three characters or more), so a trigram index can
    /// answer it; shorter queries are answered by scanning the one chat.
    pub fn has_trigram(&self) -> bool {
        self.0.chars().nth(2).is_some()
    }
}

/// A query folded once and matched against many texts, reusing one buffer: what
/// [`Query::matches`] answers, without its two allocations per text (scans of a chat's rows
/// test thousands of bodies per request).
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    needle: String,
    buf: String,
}

impl Matcher {
    pub(crate) fn new(query: &Query) -> Self {
        Matcher {
            needle: fold_case(query.as_str()),
            buf: String::new(),
        }
    }

    /// Whether `text` contains the query, case folded as [`fold_case`] does.
    pub(crate) fn is_match(&mut self, text: &str) -> bool {
        self.fold(text);
        self.buf.contains(self.needle.as_str())
    }

    #[cfg(feature = "sqlite")]
    /// How many times `text` contains the query, overlapping occurrences counted (as FTS5
    /// counts a phrase's instances), in folded text.
    pub(crate) fn occurrences(&mut self, text: &str) -> u32 {
        self.fold(text);
        let (haystack, needle) = (self.buf.as_str(), self.needle.as_str());
        let mut count = 0;
        let mut from = 0;
        while let Some(at) = haystack[from..].find(needle) {
            count += 1;
            // The next occurrence may overlap this one: continue one character on.
            from += at
                + haystack[from + at..]
                    .chars()
                    .next()
                    .map_or(1, char::len_utf8);
        }
        count
    }

    /// `text` folded into the buffer (ASCII without decoding characters).
    fn fold(&mut self, text: &str) {
        self.buf.clear();
        if text.is_ascii() {
            self.buf
                .extend(text.bytes().map(|b| char::from(b.to_ascii_lowercase())));
        } else {
            self.buf.extend(text.chars().map(fold_char));
        }
    }
}

/// One character folded as [`fold_case`] folds it.
fn fold_char(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Folds case the way the search indexes do (FTS5's trigram tokenizer, the search engine's
/// `lowercase` filter): each character to its lowercase form when that is one character (so
/// `Σ` → `σ`, `É` → `é`), and left alone otherwise. Characters map one to one, so a match in the
/// folded text is a match in the original.
pub fn fold_case(text: &str) -> String {
    text.chars().map(fold_char).collect()
}
