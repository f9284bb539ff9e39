//! The bounds every value is checked against, and the patterns the OpenAPI document states.

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
/// What [`Name::parse`](crate::Name::parse) accepts, as a regular expression (ECMAScript and Python agree on it):
/// no control character, and at least one character that is not white space. Its length is
/// checked apart ([`MAX_NAME_CHARS`], after trimming).
pub const NAME_PATTERN: &str =
    "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$";
/// What [`Body::parse`](crate::Body::parse) and [`Query::parse`](crate::Query::parse) accept, as a regular expression: no NUL, and at
/// least one character that is not white space.
pub const TEXT_PATTERN: &str = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$";
/// Default page size of lists.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size of lists.
pub const MAX_LIMIT: u32 = 1000;
/// Most messages one [`crate::ChatApi::create_messages`] call creates.
pub const MAX_BATCH: usize = 1000;
/// How many of a chat's newest matches `relevance` ranks: the window its `offset` pages in.
/// It bounds a relevance search's cost whatever the number of matches (a common word in a big
/// chat): the window is read and ranked on every request.
pub const RELEVANCE_WINDOW: u32 = 1_000;
