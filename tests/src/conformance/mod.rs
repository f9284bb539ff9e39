//! The conformance suite: what every [`ChatApi`] implementation, on every profile, must do.
//!
//! Each case is an `async fn(Arc<dyn ChatApi>, &dyn Settle)` that panics on a violation; it
//! calls [`Settle::settle`] before it checks what a queue may still be carrying (stored counts,
//! search), and nowhere else: reads right after writes must work without it. The
//! [`conformance_suite!`](crate::conformance_suite) macro turns them into one `#[tokio::test]`
//! per case for a harness, so the embedded service, the HTTP client and the distributed profile
//! run the very same assertions.
//!
//! The cases live in one file per theme (numbering, reads, validation, search, maintenance,
//! deletes) and are re-exported here, with the helpers they share.

mod deletes;
mod maintenance;
mod numbering;
mod reads;
mod search;
mod validation;

use std::collections::HashSet;
use std::sync::Arc;

use chat_core::{
    ChatApi, ChatNumber, Message, PageRequest, Query, SearchRequest, SearchSort, Token,
};
use futures::future::LocalBoxFuture;
use futures::stream::{self, StreamExt};

/// Waits until a profile's background work is done (the distributed profile's queue drained),
/// so that counts in the database and search see every acknowledged write. A no-op where
/// writes are applied before they are acknowledged.
pub trait Settle {
    /// Returns once everything acknowledged so far is persisted.
    fn settle(&self) -> LocalBoxFuture<'_, ()>;
}

impl<H: crate::Harness> Settle for H {
    fn settle(&self) -> LocalBoxFuture<'_, ()> {
        Box::pin(crate::Harness::settle(self))
    }
}

pub use deletes::{
    delete_application_removes_all, delete_chat_removes_its_messages,
    delete_message_is_gone_at_once_and_its_number_never_reused,
};
pub use maintenance::recount_and_reindex_report_their_work;
pub use numbering::{
    batches_are_numbered_in_their_order, numbers_are_gapless_and_counts_exact_under_concurrency,
};
pub use reads::{
    lists_are_ordered_and_paged, missing_entities_are_not_found,
    reads_see_acknowledged_writes_at_once, representations_and_updates,
};
pub use search::{
    every_sort_order_returns_every_match_once_in_its_order,
    hostile_queries_are_literal_in_every_order, search_finds_substrings_literally_within_one_chat,
    short_queries_fold_case_like_longer_ones,
};
pub use validation::bad_input_is_rejected_and_changes_nothing;

/// Runs `f` on every item with at most `concurrency` in flight.
async fn concurrently<T, F, Fut, R>(items: Vec<T>, concurrency: usize, f: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = R>,
{
    stream::iter(items.into_iter().map(f))
        .buffer_unordered(concurrency)
        .collect()
        .await
}

fn assert_gapless(numbers: &mut [u32], what: &str) {
    numbers.sort_unstable();
    let expected: Vec<u32> = (1..=numbers.len() as u32).collect();
    assert_eq!(
        numbers,
        &expected[..],
        "{what} numbers are not exactly 1..N"
    );
}

fn no_ids(value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                assert!(k != "id" && !k.ends_with("_id"), "internal id {k} leaked");
                no_ids(v);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(no_ids),
        _ => {}
    }
}

async fn all_tokens(api: &Arc<dyn ChatApi>) -> HashSet<Token> {
    let first = PageRequest::first(1000).unwrap();
    let (apps, _) = chat_core::collect_pages(first, true, |p| api.list_applications(p))
        .await
        .unwrap();
    apps.into_iter().map(|a| a.token).collect()
}

/// The bodies a search finds (first page, newest first).
pub async fn hits(api: &Arc<dyn ChatApi>, t: &Token, c: ChatNumber, q: &str) -> Vec<String> {
    api.search_messages(t, c, &SearchRequest::new(q))
        .await
        .unwrap_or_else(|e| panic!("search {q:?} failed: {e}"))
        .items
        .into_iter()
        .map(|m: Message| m.body)
        .collect()
}

/// Every page of `request`, following each page's `next` until there is none; fails on a page
/// longer than the limit or an empty page that claims a successor.
pub async fn all_pages(
    api: &Arc<dyn ChatApi>,
    t: &Token,
    c: ChatNumber,
    request: SearchRequest,
) -> Vec<Message> {
    let mut request = request;
    let mut found = Vec::new();
    loop {
        let page = api
            .search_messages(t, c, &request)
            .await
            .unwrap_or_else(|e| panic!("search {request:?} failed: {e}"));
        assert!(page.items.len() <= request.limit as usize, "{request:?}");
        match page.next {
            Some(next) => {
                assert!(
                    !page.items.is_empty(),
                    "an empty page with a next: {request:?}"
                );
                found.extend(page.items);
                request = next;
            }
            None => {
                found.extend(page.items);
                return found;
            }
        }
    }
}

/// The numbers of `bodies` (numbered 1.. in order) that contain `q`, in `sort`'s order (for
/// relevance, newest first: compare it as a set).
pub fn expected(bodies: &[String], q: &str, sort: SearchSort) -> Vec<u32> {
    let query = Query::parse(q).unwrap();
    let mut numbers: Vec<u32> = (1..=bodies.len() as u32)
        .filter(|&n| query.matches(&bodies[n as usize - 1]))
        .collect();
    if sort != SearchSort::Oldest {
        numbers.reverse();
    }
    numbers
}

fn numbers(messages: &[Message]) -> Vec<u32> {
    messages.iter().map(|m| m.number.get()).collect()
}

/// The numbers of a chat's messages, every page, in `newest` or number order.
async fn message_numbers(
    api: &Arc<dyn ChatApi>,
    t: &Token,
    c: ChatNumber,
    newest: bool,
) -> Vec<u32> {
    let mut first = PageRequest::first(2).unwrap();
    if newest {
        first = first.newest_first();
    }
    let (items, _) = chat_core::collect_pages(first, true, |p| api.list_messages(t, c, p))
        .await
        .unwrap();
    numbers(&items)
}

/// The numbers a search finds in `sort`'s order, every page (relevance sorted, as a set).
async fn found(
    api: &Arc<dyn ChatApi>,
    t: &Token,
    c: ChatNumber,
    q: &str,
    sort: SearchSort,
) -> Vec<u32> {
    let mut request = SearchRequest::new(q);
    request.sort = sort;
    request.limit = 2;
    let mut found = numbers(&all_pages(api, t, c, request).await);
    if sort == SearchSort::Relevance {
        found.sort_unstable_by(|a, b| b.cmp(a));
    }
    found
}

/// Expands to one `#[tokio::test]` per conformance case for a harness type implementing
/// [`crate::Harness`].
#[macro_export]
macro_rules! conformance_suite {
    ($harness:ty) => {
        $crate::conformance_suite!(@cases $harness;
            numbers_are_gapless_and_counts_exact_under_concurrency,
            batches_are_numbered_in_their_order,
            reads_see_acknowledged_writes_at_once,
            representations_and_updates,
            lists_are_ordered_and_paged,
            missing_entities_are_not_found,
            bad_input_is_rejected_and_changes_nothing,
            search_finds_substrings_literally_within_one_chat,
            every_sort_order_returns_every_match_once_in_its_order,
            hostile_queries_are_literal_in_every_order,
            short_queries_fold_case_like_longer_ones,
            recount_and_reindex_report_their_work,
            delete_message_is_gone_at_once_and_its_number_never_reused,
            delete_chat_removes_its_messages,
            delete_application_removes_all,
        );
    };
    (@cases $harness:ty; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness = <$harness as $crate::Harness>::start().await;
                $crate::conformance::$case($crate::Harness::api(&harness), &harness).await;
                $crate::Harness::stop(harness).await;
            }
        )*
    };
}
