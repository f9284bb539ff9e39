//! The domain: applications, chats and messages as clients see them, and the validated values
//! (tokens, numbers, names, bodies, queries, pages) every operation takes.
//!
//! Each value type has a `parse` that returns a typed [`Error`], so nothing downstream ever
//! handles unchecked input. Representations serialize exactly as the HTTP API documents them,
//! and none of them carries an internal id.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Missing, Result};

/// Longest application name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest message body, in bytes (16 KiB).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest search query, in characters.
pub const MAX_QUERY_CHARS: usize = 1024;
/// Largest chat or message number (numbers fit a signed 32-bit column everywhere).
pub const MAX_NUMBER: u32 = i32::MAX as u32;
/// The syntax of a token, as a regular expression (for the OpenAPI document).
pub const TOKEN_PATTERN: &str = "^[0-9a-f]{32}$";
/// What [`Name::parse`] accepts, as a regular expression (ECMAScript and Python agree on it):
/// no control character, and at least one character that is not white space. Its length is
/// checked apart ([`MAX_NAME_CHARS`], after trimming).
pub const NAME_PATTERN: &str =
    "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$";
/// What [`Body::parse`] and [`Query::parse`] accept, as a regular expression: no NUL, and at
/// least one character that is not white space.
pub const TEXT_PATTERN: &str = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$";
/// Default page size of lists.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size of lists.
pub const MAX_LIMIT: u32 = 1000;
/// Most messages one [`crate::ChatApi::create_messages`] call creates.
pub const MAX_BATCH: usize = 1000;

/// An application's public identifier: 32 lowercase hex characters (128 random bits).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(String);

impl Token {
    /// A fresh token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let mut s = String::with_capacity(32);
        for b in bytes {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        Token(s)
    }

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

    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", self.0)
    }
}

impl FromStr for Token {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Token::parse(s)
    }
}

impl Serialize for Token {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Token::parse(&s).map_err(serde::de::Error::custom)
    }
}

macro_rules! number_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize)]
        #[serde(transparent)]
        pub struct $name(u32);

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

            /// The number.
            pub fn get(self) -> u32 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
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

number_type!(
    /// A chat's number within its application: 1, 2, 3…
    ChatNumber,
    "chat"
);
number_type!(
    /// A message's number within its chat: 1, 2, 3…
    MessageNumber,
    "message"
);

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
        fold_case(text).contains(&fold_case(&self.0))
    }

    /// Whether the query holds a trigram (three characters or more), so a trigram index can
    /// answer it; shorter queries are answered by scanning the one chat.
    pub fn has_trigram(&self) -> bool {
        self.0.chars().nth(2).is_some()
    }
}

/// Folds case the way the search indexes do (FTS5's trigram tokenizer, the search engine's
/// `lowercase` filter): each character to its lowercase form when that is one character (so
/// `Σ` → `σ`, `É` → `é`), and left alone otherwise. Characters map one to one, so a match in the
/// folded text is a match in the original.
pub fn fold_case(text: &str) -> String {
    text.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                _ => c,
            }
        })
        .collect()
}

/// An application as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Application {
    /// The public identifier.
    #[schema(value_type = String, example = "6f1c0e0b8a4d4a51b0f7c1e2d3a4b5c6")]
    pub token: Token,
    /// The display name.
    pub name: String,
    /// How many chats it has (exact on the embedded profile; seconds behind on the distributed one).
    pub chats_count: u64,
    /// When it was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When its name last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

/// A chat as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Chat {
    /// Its number within the application.
    #[schema(value_type = u32, minimum = 1)]
    pub number: ChatNumber,
    /// How many messages it has.
    pub messages_count: u64,
    /// When it was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When it last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

/// A message as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    /// Its number within the chat.
    #[schema(value_type = u32, minimum = 1)]
    pub number: MessageNumber,
    /// The text.
    pub body: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When its body last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

/// Which page of a list to return: at most `limit` items after the cursor `after`, in number
/// order or, with `newest`, highest number first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<C> {
    /// Page size, `1..=1000`.
    pub limit: u32,
    /// The last item of the previous page (a number, or a token for applications).
    pub after: Option<C>,
    /// Highest number first (chat and message lists; `after` then pages downward).
    /// Applications list in creation order only.
    pub newest: bool,
}

impl<C> Default for PageRequest<C> {
    fn default() -> Self {
        PageRequest {
            limit: DEFAULT_LIMIT,
            after: None,
            newest: false,
        }
    }
}

impl<C> PageRequest<C> {
    /// A first page of `limit` items, checking the range.
    pub fn first(limit: u32) -> Result<Self> {
        Ok(PageRequest {
            limit: check_limit(limit)?,
            after: None,
            newest: false,
        })
    }

    /// The page after `after`, of `limit` items.
    pub fn after(limit: u32, after: C) -> Result<Self> {
        Ok(PageRequest {
            limit: check_limit(limit)?,
            after: Some(after),
            newest: false,
        })
    }

    /// The same page, highest number first.
    pub fn newest_first(self) -> Self {
        PageRequest {
            newest: true,
            ..self
        }
    }

    /// Checks the limit again (requests can be built by hand).
    pub fn validate(&self) -> Result<()> {
        check_limit(self.limit).map(|_| ())
    }
}

/// Checks a page size.
pub fn check_limit(limit: u32) -> Result<u32> {
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {limit}"
        )))
    }
}

/// Checks the bodies of one [`crate::ChatApi::create_messages`] call: one to [`MAX_BATCH`]
/// of them, each a valid [`Body`]. A refusal names the first bad body by its position
/// (from 1).
pub fn parse_batch(bodies: &[String]) -> Result<Vec<Body>> {
    if bodies.is_empty() || bodies.len() > MAX_BATCH {
        return Err(Error::invalid(
            "messages",
            format!(
                "one call creates 1 to {MAX_BATCH} messages, got {}",
                bodies.len()
            ),
        ));
    }
    bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            Body::parse(b).map_err(|e| match e {
                Error::Invalid { reason, .. } => {
                    Error::invalid("body", format!("message {}: {reason}", i + 1))
                }
                other => other,
            })
        })
        .collect()
}

/// Parses the text of `?limit=`: decimal digits naming a page size in `1..=MAX_LIMIT`. The
/// message of a refusal quotes what was sent.
pub fn parse_limit(s: &str) -> Result<u32> {
    match digits(s) {
        Some(n) if (1..=u64::from(MAX_LIMIT)).contains(&n) => Ok(n as u32),
        _ => Err(Error::BadRequest(format!(
            "limit must be an integer between 1 and {MAX_LIMIT}, got {:?}",
            shorten(s, 40)
        ))),
    }
}

/// Parses the text of `?offset=`: decimal digits naming `0..=u32::MAX`. The message of a
/// refusal quotes what was sent.
pub fn parse_offset(s: &str) -> Result<u32> {
    match digits(s).map(u32::try_from) {
        Some(Ok(n)) => Ok(n),
        _ => Err(Error::BadRequest(format!(
            "offset must be an integer between 0 and {}, got {:?}",
            u32::MAX,
            shorten(s, 40)
        ))),
    }
}

/// The value of `[0-9]+` text, saturated at `u64::MAX`; `None` for anything else.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse().unwrap_or(u64::MAX))
}

/// One page of a list, and the cursor of the next page when more remain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C> {
    /// The items, in list order.
    pub items: Vec<T>,
    /// Pass this as `after` to get the next page; `None` on the last page.
    pub next: Option<C>,
}

/// How many of a chat's newest matches `relevance` ranks: the window its `offset` pages in.
pub const RELEVANCE_WINDOW: u32 = 10_000;

/// The order of search results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SearchSort {
    /// Highest message number first (what chat applications show first); pages with `after`.
    #[default]
    Newest,
    /// Lowest message number first; pages with `after`.
    Oldest,
    /// The chat's newest [`RELEVANCE_WINDOW`] matches, best match first (newest first among
    /// equals); pages with `offset` inside that window. Queries of one or two characters have
    /// no grams to rank by and come newest first.
    Relevance,
}

impl SearchSort {
    /// Every order, as `sort=` names them.
    pub const ALL: [SearchSort; 3] = [
        SearchSort::Newest,
        SearchSort::Oldest,
        SearchSort::Relevance,
    ];

    /// The name `sort=` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchSort::Newest => "newest",
            SearchSort::Oldest => "oldest",
            SearchSort::Relevance => "relevance",
        }
    }

    /// Parses `newest`, `oldest` or `relevance`; the message of a refusal quotes what was sent.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "newest" => Ok(SearchSort::Newest),
            "oldest" => Ok(SearchSort::Oldest),
            "relevance" => Ok(SearchSort::Relevance),
            _ => Err(Error::BadRequest(format!(
                "sort must be newest, oldest or relevance, got {:?}",
                shorten(s, 40)
            ))),
        }
    }

    /// Whether results come in message-number order (and page with `after`).
    pub fn by_number(self) -> bool {
        matches!(self, SearchSort::Newest | SearchSort::Oldest)
    }
}

impl fmt::Display for SearchSort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SearchSort {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        SearchSort::parse(s)
    }
}

/// A search request: the query, the order, and which page of the results to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    /// The text to look for (matched literally, case-insensitively, anywhere in a body).
    pub query: String,
    /// The order of the results (default [`SearchSort::Newest`]).
    pub sort: SearchSort,
    /// How many results at most, `1..=1000`.
    pub limit: u32,
    /// Only messages past this number: below it for `newest` and `relevance`, above it for
    /// `oldest`. `newest`/`oldest` page with it (the last number of the previous page).
    pub after: Option<MessageNumber>,
    /// How many results to skip, below [`RELEVANCE_WINDOW`]. `relevance` pages with it;
    /// `newest`/`oldest` accept it too (their next page continues with `after`).
    pub offset: u32,
}

impl SearchRequest {
    /// The first `DEFAULT_LIMIT` results for `query`, newest first.
    pub fn new(query: impl Into<String>) -> Self {
        SearchRequest {
            query: query.into(),
            sort: SearchSort::Newest,
            limit: DEFAULT_LIMIT,
            after: None,
            offset: 0,
        }
    }

    /// The same request in another order.
    pub fn sorted(self, sort: SearchSort) -> Self {
        SearchRequest { sort, ..self }
    }

    /// The same request with another page size.
    pub fn limited(self, limit: u32) -> Self {
        SearchRequest { limit, ..self }
    }

    /// Checks everything but the query text: the limit, and an offset inside the window.
    pub fn validate(&self) -> Result<()> {
        check_limit(self.limit)?;
        if self.offset >= RELEVANCE_WINDOW {
            return Err(Error::BadRequest(format!(
                "offset must be below {RELEVANCE_WINDOW} (relevance ranks the newest {RELEVANCE_WINDOW} matches; newest and oldest page with after), got {}",
                self.offset
            )));
        }
        Ok(())
    }

    /// The request as URL query parameters (`query`, `sort`, `limit`, and `after` or a
    /// non-zero `offset`), as the HTTP API reads them.
    pub fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("query", self.query.clone()),
            ("sort", self.sort.as_str().to_owned()),
            ("limit", self.limit.to_string()),
        ];
        if let Some(after) = self.after {
            pairs.push(("after", after.to_string()));
        }
        if self.offset != 0 {
            pairs.push(("offset", self.offset.to_string()));
        }
        pairs
    }

    /// The request for the page after `page` (whose items this request returned).
    pub(crate) fn next_page(&self, page: &[Message]) -> Option<SearchRequest> {
        if self.sort.by_number() {
            let last = page.last()?;
            Some(SearchRequest {
                after: Some(last.number),
                offset: 0,
                ..self.clone()
            })
        } else {
            let offset = self.offset.saturating_add(self.limit);
            (offset < RELEVANCE_WINDOW).then(|| SearchRequest {
                offset,
                ..self.clone()
            })
        }
    }
}

/// One page of search results, and the request for the next page when more remain.
pub type SearchPage = Page<Message, SearchRequest>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigram_needs_three_characters_not_bytes() {
        assert!(!Query::parse("wo").unwrap().has_trigram());
        assert!(!Query::parse("🎉🎉").unwrap().has_trigram());
        assert!(Query::parse("🎉🎉🎉").unwrap().has_trigram());
        assert!(Query::parse("abc").unwrap().has_trigram());
    }

    #[test]
    fn generated_tokens_are_32_lowercase_hex_and_distinct() {
        let a = Token::generate();
        let b = Token::generate();
        assert_ne!(a, b);
        for t in [&a, &b] {
            assert_eq!(t.as_str().len(), 32);
            assert!(Token::parse(t.as_str()).is_ok());
        }
    }

    #[test]
    fn malformed_tokens_are_bad_requests() {
        for bad in [
            "",
            "abc",
            "6F1C0E0B8A4D4A51B0F7C1E2D3A4B5C6",
            "6f1c0e0b8a4d4a51b0f7c1e2d3a4b5cg",
            "6f1c0e0b8a4d4a51b0f7c1e2d3a4b5c67",
            "' OR 1=1 --                     ",
            "6f1c0e0b8a4d4a51b0f7c1e2d3a4b5c\u{e9}",
        ] {
            assert!(
                matches!(Token::parse(bad), Err(Error::BadRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn numbers_reject_zero_overflow_and_text() {
        for bad in [
            "0",
            "-1",
            "abc",
            "1.5",
            "99999999999999999999",
            "2147483648",
            "",
        ] {
            assert!(
                matches!(ChatNumber::parse(bad), Err(Error::BadRequest(_))),
                "{bad}"
            );
        }
        assert_eq!(
            MessageNumber::parse("2147483647").unwrap().get(),
            MAX_NUMBER
        );
        assert!(serde_json::from_str::<ChatNumber>("0").is_err());
    }

    #[test]
    fn names_bodies_and_queries_are_checked() {
        assert!(Name::parse("  ").is_err());
        assert!(Name::parse(&"é".repeat(255)).is_ok());
        assert!(Name::parse(&"é".repeat(256)).is_err());
        assert_eq!(Name::parse("  team  ").unwrap().as_str(), "team");
        assert!(Body::parse("").is_err());
        assert!(Body::parse(&"x".repeat(MAX_BODY_BYTES)).is_ok());
        assert!(Body::parse(&"x".repeat(MAX_BODY_BYTES + 1)).is_err());
        assert_eq!(Body::parse(" hi ").unwrap().as_str(), " hi ");
        assert!(Query::parse(" \t ").is_err());
        assert!(matches!(
            Query::parse(""),
            Err(Error::Invalid { ref field, .. }) if field == "query"
        ));
    }

    #[test]
    fn representations_have_no_ids() {
        let now = Utc::now();
        let json = serde_json::to_value(Chat {
            number: ChatNumber::new(1).unwrap(),
            messages_count: 0,
            created_at: now,
            updated_at: now,
        })
        .unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            ["created_at", "messages_count", "number", "updated_at"]
        );
    }
}
