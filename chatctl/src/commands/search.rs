//! `chatctl search TOKEN CHAT QUERY`: a chat's messages containing the query, newest first
//! (or `--sort oldest|relevance`), one page at a time or every page with `--all`.

use chat_core::model::{DEFAULT_LIMIT, MAX_LIMIT};
use chat_core::{SearchRequest, SearchSort};
use clap::Args;

use super::{chat_number, message_number, token};
use crate::context::Context;
use crate::exit::CliResult;

/// Arguments of `search`.
/// The search orders `--sort` takes (`search`, and `bench --scenario search`), as chat-core
/// names them ([`chat_core::SearchSort::parse`]).
pub const SORTS: [&str; 3] = ["newest", "oldest", "relevance"];

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The application's token
    pub token: String,
    /// The chat's number
    pub chat: String,
    /// Text to find anywhere in a body (literally, ignoring case)
    pub query: String,
    /// Order: newest (highest number first), oldest, or relevance (the chat's newest 1,000
    /// matches, best first)
    #[arg(long, value_name = "ORDER", default_value = "newest", value_parser = SORTS)]
    pub sort: String,
    /// Most results to print (the page size with --all) [default: 50, or 1000 with --all]
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Only messages past this number: below it (newest, relevance) or above it (oldest); the
    /// next page of newest/oldest starts after the last number printed
    #[arg(long, value_name = "NUMBER")]
    pub after: Option<String>,
    /// Skip this many results (relevance pages this way, 0..=999)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub offset: u32,
    /// Fetch every page (relevance: up to the end of its 1,000-match window)
    #[arg(long)]
    pub all: bool,
}

/// Runs `search`.
pub async fn run(ctx: &Context, args: SearchArgs) -> CliResult {
    let (t, chat) = (token(&args.token)?, chat_number(&args.chat)?);
    let sort = SearchSort::parse(&args.sort)?;
    let limit = args
        .limit
        .unwrap_or(if args.all { MAX_LIMIT } else { DEFAULT_LIMIT });
    let after = args.after.as_deref().map(message_number).transpose()?;
    let mut request = SearchRequest {
        query: args.query,
        sort,
        limit,
        after,
        offset: args.offset,
    };
    let mut hits = Vec::new();
    let next = loop {
        let page = ctx.api.search_messages(&t, chat, &request).await?;
        hits.extend(page.items);
        match page.next {
            Some(next) if args.all => request = next,
            next => break next,
        }
    };
    ctx.out.messages(&hits, true)?;
    if hits.is_empty() {
        ctx.out.note(&format!(
            "no message of chat {chat} contains {:?}",
            request.query
        ));
    } else if let Some(next) = next {
        let flag = match next.after {
            Some(after) => format!("--after {after}"),
            None => format!("--offset {}", next.offset),
        };
        ctx.out.note(&format!(
            "more match: add {flag} for the next page, or --all"
        ));
    }
    Ok(())
}
