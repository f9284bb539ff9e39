//! `chatctl search TOKEN CHAT QUERY`: a chat's messages containing the query, best match first.

use chat_core::model::DEFAULT_LIMIT;
use chat_core::SearchRequest;
use clap::Args;

use super::{chat_number, token};
use crate::context::Context;
use crate::exit::CliResult;

/// Arguments of `search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The application's token
    pub token: String,
    /// The chat's number
    pub chat: String,
    /// Text to find anywhere in a body (literally, ignoring case)
    pub query: String,
    /// Most results to print
    #[arg(long, value_name = "N", default_value_t = DEFAULT_LIMIT)]
    pub limit: u32,
    /// Skip this many of the best results (the next page of results)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub offset: u32,
}

/// Runs `search`.
pub async fn run(ctx: &Context, args: SearchArgs) -> CliResult {
    let (t, chat) = (token(&args.token)?, chat_number(&args.chat)?);
    let request = SearchRequest {
        query: args.query,
        limit: args.limit,
        offset: args.offset,
    };
    let hits = ctx.api.search_messages(&t, chat, &request).await?;
    ctx.out.messages(&hits, true)?;
    if hits.is_empty() {
        ctx.out.note(&format!(
            "no message of chat {chat} contains {:?}",
            request.query
        ));
    } else if u32::try_from(hits.len()).is_ok_and(|n| n == request.limit) {
        ctx.out.note(&format!(
            "more may match: add --offset {} for the next results",
            request.offset.saturating_add(request.limit)
        ));
    }
    Ok(())
}
