//! Pages of lists: the request (limit, cursor, order), the parsed bounds, the page answered.

use std::fmt;

use super::limits::*;
use super::values::{shorten, Body};
use crate::error::{Error, Result};

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

    /// The same request for the page after `after` (the last item of this page).
    pub fn next_page(self, after: C) -> Self {
        PageRequest {
            after: Some(after),
            ..self
        }
    }

    /// Checks the limit again (requests can be built by hand).
    pub fn validate(&self) -> Result<()> {
        check_limit(self.limit).map(|_| ())
    }
}

impl<C: fmt::Display> PageRequest<C> {
    /// The request as URL query parameters (`limit`, then `after` when set and `sort=newest`
    /// for a newest-first list), as the HTTP API reads them.
    pub fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![("limit", self.limit.to_string())];
        if let Some(after) = &self.after {
            pairs.push(("after", after.to_string()));
        }
        if self.newest {
            pairs.push(("sort", "newest".to_owned()));
        }
        pairs
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

/// Parses the text of `?offset=`: decimal digits naming `0..RELEVANCE_WINDOW` (the window
/// `relevance` ranks). The message of a refusal states those bounds and quotes what was sent.
pub fn parse_offset(s: &str) -> Result<u32> {
    match digits(s) {
        Some(n) if n < u64::from(RELEVANCE_WINDOW) => Ok(n as u32),
        _ => Err(Error::BadRequest(format!(
            "offset must be an integer between 0 and {} (relevance ranks the newest {RELEVANCE_WINDOW} \
             matches; newest and oldest page with after), got {:?}",
            RELEVANCE_WINDOW - 1,
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
