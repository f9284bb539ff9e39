//! Search requests: the order, the window `relevance` ranks in, the cursor or offset.

use std::fmt;
use std::str::FromStr;

use super::ids::MessageNumber;
use super::limits::*;
use super::page::{check_limit, Page};
use super::resources::Message;
use super::values::shorten;
use crate::error::{Error, Result};

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

    /// Whether this search costs more than an index lookup on either engine: `relevance`
    /// (which ranks a window of matches), or a query with no trigram (under three characters:
    /// the engine scans the chat's rows). A server runs these under a concurrency limit; a
    /// query that will be refused as blank is not one.
    pub fn is_expensive(&self) -> bool {
        super::values::Query::parse(&self.query).map_or(self.sort == SearchSort::Relevance, |q| {
            expensive(self.sort, &q)
        })
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

/// The rule of [`SearchRequest::is_expensive`] for a parsed query: engines that run cheap and
/// expensive searches differently (the embedded one runs the expensive on the blocking pool)
/// ask it here.
pub(crate) fn expensive(sort: SearchSort, query: &super::values::Query) -> bool {
    sort == SearchSort::Relevance || !query.has_trigram()
}

/// One page of search results, and the request for the next page when more remain.
pub type SearchPage = Page<Message, SearchRequest>;
