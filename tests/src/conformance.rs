//! The conformance suite: what every [`ChatApi`] implementation, on every profile, must do.
//!
//! Each case is an `async fn(Arc<dyn ChatApi>, &dyn Settle)` that panics on a violation; it
//! calls [`Settle::settle`] before it checks what a queue may still be carrying (stored counts,
//! search), and nowhere else: reads right after writes must work without it. The
//! [`conformance_suite!`](crate::conformance_suite) macro turns them into one `#[tokio::test]`
//! per case for a harness, so the embedded service, the HTTP client and the distributed profile
//! run the very same assertions.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chat_core::{
    ChatApi, ChatNumber, Error, Message, MessageNumber, Missing, NoProgress, PageRequest, Query,
    SearchRequest, SearchSort, Token,
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

/// 64 concurrent tasks: 2,000 chats over 5 applications and 20,000 messages over 20 chats give
/// exactly 1..N per parent, and the counts are exact.
pub async fn numbers_are_gapless_and_counts_exact_under_concurrency(
    api: Arc<dyn ChatApi>,
    settle: &dyn Settle,
) {
    let mut apps = Vec::new();
    for i in 0..5 {
        apps.push(
            api.create_application(&format!("app {i}"))
                .await
                .unwrap()
                .token,
        );
    }
    let jobs: Vec<Token> = (0..2000).map(|i| apps[i % 5].clone()).collect();
    let created = concurrently(jobs, 64, |t| {
        let api = Arc::clone(&api);
        async move { (t.clone(), api.create_chat(&t).await.unwrap().number.get()) }
    })
    .await;
    let mut per_app: BTreeMap<Token, Vec<u32>> = BTreeMap::new();
    for (t, n) in created {
        per_app.entry(t).or_default().push(n);
    }
    settle.settle().await;
    for (t, numbers) in &mut per_app {
        assert_gapless(numbers, "chat");
        assert_eq!(api.get_application(t).await.unwrap().chats_count, 400);
    }

    let target = &apps[0];
    let chats: Vec<ChatNumber> = (1..=20).map(|n| ChatNumber::new(n).unwrap()).collect();
    let jobs: Vec<(ChatNumber, usize)> = (0..20_000).map(|i| (chats[i % 20], i)).collect();
    let created = concurrently(jobs, 64, |(c, i)| {
        let api = Arc::clone(&api);
        let t = target.clone();
        async move {
            let m = api
                .create_message(&t, c, &format!("message {i}"))
                .await
                .unwrap();
            (c, m.number.get())
        }
    })
    .await;
    let mut per_chat: BTreeMap<ChatNumber, Vec<u32>> = BTreeMap::new();
    for (c, n) in created {
        per_chat.entry(c).or_default().push(n);
    }
    settle.settle().await;
    for (c, numbers) in &mut per_chat {
        assert_gapless(numbers, "message");
        assert_eq!(api.get_chat(target, *c).await.unwrap().messages_count, 1000);
    }
    // An untouched chat stays empty.
    assert_eq!(
        api.get_chat(target, ChatNumber::new(21).unwrap())
            .await
            .unwrap()
            .messages_count,
        0
    );
}

/// A batch is numbered in its order, even with other batches and single creates of the same
/// chat in flight; alone it takes consecutive numbers; its messages are readable at once; a bad
/// batch creates nothing.
pub async fn batches_are_numbered_in_their_order(api: Arc<dyn ChatApi>, settle: &dyn Settle) {
    let t = api.create_application("batches").await.unwrap().token;
    let c = api.create_chat(&t).await.unwrap().number;

    // Alone: consecutive, in order, readable at once.
    let bodies: Vec<String> = (1..=1000).map(|i| format!("alone {i}")).collect();
    let created = api.create_messages(&t, c, &bodies).await.unwrap();
    let numbers: Vec<u32> = created.iter().map(|m| m.number.get()).collect();
    assert_eq!(numbers, (1..=1000).collect::<Vec<u32>>());
    assert!(created.iter().zip(&bodies).all(|(m, b)| &m.body == b));
    let last = api
        .get_message(&t, c, MessageNumber::new(1000).unwrap())
        .await
        .unwrap();
    assert_eq!(last.body, "alone 1000");

    // Six batches of 200 and 100 single creates at once: each batch keeps its order.
    let jobs: Vec<usize> = (0..106).collect();
    let results = concurrently(jobs, 16, |k| {
        let (api, t) = (Arc::clone(&api), t.clone());
        async move {
            if k < 6 {
                let bodies: Vec<String> = (0..200).map(|i| format!("batch {k} line {i}")).collect();
                let created = api.create_messages(&t, c, &bodies).await.unwrap();
                assert!(created.iter().zip(&bodies).all(|(m, b)| &m.body == b));
                (
                    k,
                    created.iter().map(|m| m.number.get()).collect::<Vec<u32>>(),
                )
            } else {
                let m = api
                    .create_message(&t, c, &format!("single {k}"))
                    .await
                    .unwrap();
                (k, vec![m.number.get()])
            }
        }
    })
    .await;
    let mut results: Vec<(usize, Vec<u32>)> = results;
    results.sort();
    let results: Vec<Vec<u32>> = results.into_iter().map(|(_, n)| n).collect();
    let mut all: Vec<u32> = (1..=1000).collect();
    for numbers in &results {
        assert!(
            numbers.windows(2).all(|w| w[0] < w[1]),
            "a batch's numbers do not follow its order: {numbers:?}"
        );
        all.extend(numbers);
    }
    assert_gapless(&mut all, "message");
    let all = api
        .list_messages(
            &t,
            c,
            PageRequest::after(1000, MessageNumber::new(1000).unwrap()).unwrap(),
        )
        .await
        .unwrap();
    for m in &all.items {
        if let Some(rest) = m.body.strip_prefix("batch ") {
            let (k, i) = rest.split_once(" line ").unwrap();
            let (k, i): (usize, u32) = (k.parse().unwrap(), i.parse().unwrap());
            assert_eq!(results[k][i as usize], m.number.get(), "{}", m.body);
        }
    }

    // Refusals change nothing.
    let before = 1000 + 6 * 200 + 100;
    let refused = [
        Vec::new(),
        (0..1001).map(|i| i.to_string()).collect(),
        vec!["fine".to_owned(), "also fine".to_owned(), "  ".to_owned()],
    ];
    for bodies in &refused {
        let err = api.create_messages(&t, c, bodies).await.unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    }
    let err = api
        .create_messages(&t, c, &["x".repeat(16 * 1024 + 1)])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    let err = api
        .create_messages(&t, ChatNumber::new(9).unwrap(), &["x".to_owned()])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let next = api
        .create_message(&t, c, "after the refusals")
        .await
        .unwrap();
    assert_eq!(next.number.get(), before + 1);
    settle.settle().await;
    assert_eq!(
        api.get_chat(&t, c).await.unwrap().messages_count,
        u64::from(before + 1)
    );
}

/// A read right after an acknowledged create finds it, for every create.
pub async fn reads_see_acknowledged_writes_at_once(api: Arc<dyn ChatApi>, _settle: &dyn Settle) {
    let app = api.create_application("ryw").await.unwrap();
    assert_eq!(api.get_application(&app.token).await.unwrap().name, "ryw");
    let results = concurrently((0..200).collect(), 32, |i: u32| {
        let api = Arc::clone(&api);
        let t = app.token.clone();
        async move {
            let chat = api.create_chat(&t).await.unwrap();
            let got = api.get_chat(&t, chat.number).await.unwrap();
            assert_eq!(got.number, chat.number);
            let m = api
                .create_message(&t, chat.number, &format!("hello {i}"))
                .await
                .unwrap();
            let got = api.get_message(&t, chat.number, m.number).await.unwrap();
            assert_eq!(got.body, format!("hello {i}"));
            assert_eq!(
                api.get_chat(&t, chat.number).await.unwrap().messages_count,
                1
            );
        }
    })
    .await;
    assert_eq!(results.len(), 200);
    assert_eq!(
        api.get_application(&app.token).await.unwrap().chats_count,
        200
    );
}

/// Representations round-trip and carry no internal id; updates change `updated_at` only.
pub async fn representations_and_updates(api: Arc<dyn ChatApi>, _settle: &dyn Settle) {
    let app = api.create_application("  Support team  ").await.unwrap();
    assert_eq!(app.name, "Support team");
    assert_eq!(app.chats_count, 0);
    no_ids(&serde_json::to_value(&app).unwrap());
    let renamed = api
        .update_application(&app.token, "Helpdesk")
        .await
        .unwrap();
    assert_eq!(
        (renamed.token.clone(), renamed.name.as_str()),
        (app.token.clone(), "Helpdesk")
    );
    assert_eq!(renamed.created_at, app.created_at);
    assert!(renamed.updated_at >= app.updated_at);
    assert_eq!(
        api.get_application(&app.token).await.unwrap().name,
        "Helpdesk"
    );

    let chat = api.create_chat(&app.token).await.unwrap();
    assert_eq!((chat.number.get(), chat.messages_count), (1, 0));
    no_ids(&serde_json::to_value(&chat).unwrap());
    let m = api
        .create_message(&app.token, chat.number, " first ")
        .await
        .unwrap();
    assert_eq!((m.number.get(), m.body.as_str()), (1, " first "));
    no_ids(&serde_json::to_value(&m).unwrap());
    let edited = api
        .update_message(&app.token, chat.number, m.number, "edited")
        .await
        .unwrap();
    assert_eq!((edited.number, edited.body.as_str()), (m.number, "edited"));
    assert_eq!(edited.created_at, m.created_at);
    let again = api
        .get_message(&app.token, chat.number, m.number)
        .await
        .unwrap();
    assert_eq!(again, edited);
    assert_eq!(
        api.get_chat(&app.token, chat.number)
            .await
            .unwrap()
            .messages_count,
        1
    );
}

/// Lists are ordered by number, paged with `limit`/`after`, and say when more remain.
pub async fn lists_are_ordered_and_paged(api: Arc<dyn ChatApi>, _settle: &dyn Settle) {
    let app = api.create_application("pages").await.unwrap();
    for _ in 0..7 {
        api.create_chat(&app.token).await.unwrap();
    }
    let c = ChatNumber::new(3).unwrap();
    for i in 1..=12 {
        api.create_message(&app.token, c, &format!("m{i}"))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut page = PageRequest::first(5).unwrap();
    loop {
        let p = api
            .list_messages(&app.token, c, page.clone())
            .await
            .unwrap();
        assert!(p.items.len() <= 5);
        seen.extend(p.items.iter().map(|m| m.number.get()));
        match p.next {
            Some(next) => page = PageRequest::after(5, next).unwrap(),
            None => break,
        }
    }
    assert_eq!(seen, (1..=12).collect::<Vec<_>>());
    // Newest first: highest number first, `after` paging downward, every item once.
    let mut seen = Vec::new();
    let mut page = PageRequest::first(5).unwrap().newest_first();
    loop {
        let p = api
            .list_messages(&app.token, c, page.clone())
            .await
            .unwrap();
        assert!(p.items.len() <= 5);
        seen.extend(p.items.iter().map(|m| m.number.get()));
        match p.next {
            Some(next) => page = PageRequest::after(5, next).unwrap().newest_first(),
            None => break,
        }
    }
    assert_eq!(seen, (1..=12).rev().collect::<Vec<_>>());
    let latest = api
        .list_chats(&app.token, PageRequest::first(2).unwrap().newest_first())
        .await
        .unwrap();
    let numbers: Vec<u32> = latest.items.iter().map(|c| c.number.get()).collect();
    assert_eq!(
        (numbers, latest.next.map(ChatNumber::get)),
        (vec![7, 6], Some(6))
    );
    let rest = api
        .list_chats(
            &app.token,
            PageRequest::after(50, ChatNumber::new(6).unwrap())
                .unwrap()
                .newest_first(),
        )
        .await
        .unwrap();
    let numbers: Vec<u32> = rest.items.iter().map(|c| c.number.get()).collect();
    assert_eq!((numbers, rest.next), (vec![5, 4, 3, 2, 1], None));
    // Applications list in creation order only: newest is refused, typed.
    assert!(matches!(
        api.list_applications(PageRequest::first(5).unwrap().newest_first())
            .await,
        Err(Error::BadRequest(_))
    ));
    let chats = api
        .list_chats(&app.token, PageRequest::default())
        .await
        .unwrap();
    let numbers: Vec<u32> = chats.items.iter().map(|c| c.number.get()).collect();
    assert_eq!(numbers, (1..=7).collect::<Vec<_>>());
    assert!(chats.next.is_none());
    let tail = api
        .list_chats(
            &app.token,
            PageRequest::after(50, ChatNumber::new(6).unwrap()).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(tail.items.len(), 1);
    let empty = api
        .list_messages(
            &app.token,
            ChatNumber::new(1).unwrap(),
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert!(empty.items.is_empty() && empty.next.is_none());
    assert!(matches!(
        api.list_chats(
            &app.token,
            PageRequest {
                limit: 0,
                after: None,
                newest: false
            }
        )
        .await,
        Err(Error::BadRequest(_))
    ));
    assert!(matches!(
        api.list_chats(
            &app.token,
            PageRequest {
                limit: 1001,
                after: None,
                newest: false
            }
        )
        .await,
        Err(Error::BadRequest(_))
    ));

    // Applications page in creation order, by token.
    let second = api.create_application("pages 2").await.unwrap();
    let after_first = api
        .list_applications(PageRequest::after(1000, app.token.clone()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        after_first.items.first().map(|a| &a.token),
        Some(&second.token)
    );
}

/// Unknown tokens, chats and messages are `NotFound` naming the missing entity.
pub async fn missing_entities_are_not_found(api: Arc<dyn ChatApi>, _settle: &dyn Settle) {
    let unknown = Token::generate();
    let one = ChatNumber::new(1).unwrap();
    let m1 = MessageNumber::new(1).unwrap();
    assert_eq!(
        api.get_application(&unknown).await,
        Err(Error::NotFound(Missing::Application {
            token: unknown.clone()
        }))
    );
    assert!(matches!(
        api.create_chat(&unknown).await,
        Err(Error::NotFound(Missing::Application { .. }))
    ));
    assert!(matches!(
        api.create_message(&unknown, one, "x").await,
        Err(Error::NotFound(Missing::Application { .. }))
    ));
    let app = api.create_application("nf").await.unwrap();
    let t = app.token.clone();
    assert_eq!(
        api.get_chat(&t, one).await,
        Err(Error::NotFound(Missing::Chat {
            token: t.clone(),
            chat: one
        }))
    );
    assert!(matches!(
        api.create_message(&t, one, "x").await,
        Err(Error::NotFound(Missing::Chat { .. }))
    ));
    assert!(matches!(
        api.search_messages(&t, one, &SearchRequest::new("abc"))
            .await,
        Err(Error::NotFound(Missing::Chat { .. }))
    ));
    api.create_chat(&t).await.unwrap();
    assert_eq!(
        api.get_message(&t, one, m1).await,
        Err(Error::NotFound(Missing::Message {
            token: t.clone(),
            chat: one,
            message: m1
        }))
    );
    assert!(matches!(
        api.update_message(&t, one, m1, "x").await,
        Err(Error::NotFound(Missing::Message { .. }))
    ));
    // Nothing was created by the failed calls.
    assert_eq!(api.get_chat(&t, one).await.unwrap().messages_count, 0);
    assert_eq!(api.get_application(&t).await.unwrap().chats_count, 1);
}

/// Bad names, bodies, queries and pages get a typed error and change nothing.
pub async fn bad_input_is_rejected_and_changes_nothing(
    api: Arc<dyn ChatApi>,
    _settle: &dyn Settle,
) {
    let before = all_tokens(&api).await;
    for name in ["", "   ", &"n".repeat(256)] {
        assert!(
            matches!(
                api.create_application(name).await,
                Err(Error::Invalid { ref field, .. }) if field == "name"
            ),
            "name {name:?}"
        );
    }
    assert_eq!(
        all_tokens(&api).await,
        before,
        "a rejected application was stored"
    );

    let app = api.create_application("valid").await.unwrap();
    let t = app.token.clone();
    assert!(matches!(
        api.update_application(&t, "").await,
        Err(Error::Invalid { .. })
    ));
    assert_eq!(api.get_application(&t).await.unwrap().name, "valid");
    let chat = api.create_chat(&t).await.unwrap().number;
    let ok = api.create_message(&t, chat, "keep me").await.unwrap();
    for body in ["", " \n\t ", &"b".repeat(16 * 1024 + 1)] {
        assert!(matches!(
            api.create_message(&t, chat, body).await,
            Err(Error::Invalid { ref field, .. }) if field == "body"
        ));
        assert!(matches!(
            api.update_message(&t, chat, ok.number, body).await,
            Err(Error::Invalid { ref field, .. }) if field == "body"
        ));
    }
    assert!(api
        .create_message(&t, chat, &"b".repeat(16 * 1024))
        .await
        .is_ok());
    assert_eq!(
        api.get_message(&t, chat, ok.number).await.unwrap().body,
        "keep me"
    );
    assert_eq!(api.get_chat(&t, chat).await.unwrap().messages_count, 2);
    for q in ["", "   "] {
        assert!(matches!(
            api.search_messages(&t, chat, &SearchRequest::new(q)).await,
            Err(Error::Invalid { ref field, .. }) if field == "query"
        ));
    }
    // Malformed tokens and numbers never reach a backend: their types refuse them.
    for bad in [
        "",
        "ABCDEF0123456789ABCDEF0123456789",
        "x' OR '1'='1",
        "0123456789abcdef",
    ] {
        assert!(matches!(Token::parse(bad), Err(Error::BadRequest(_))));
    }
    assert!(ChatNumber::new(0).is_err() && MessageNumber::parse("4294967296").is_err());
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

/// Every sort order returns exactly the chat's matching messages, newest/oldest in number
/// order, relevance as a ranking of them; paging with `after` / `offset` at any page size
/// neither repeats nor skips; the `next` of a last page is `None`; a message is found by the
/// search right after its creation (once the queue is settled on the distributed profile, at
/// once on the embedded one) and by its new text after an edit; `offset` skips in every order
/// and `after` also cuts relevance's window.
pub async fn every_sort_order_returns_every_match_once_in_its_order(
    api: Arc<dyn ChatApi>,
    settle: &dyn Settle,
) {
    let app = api.create_application("sorts").await.unwrap();
    let t = app.token.clone();
    let c = api.create_chat(&t).await.unwrap().number;
    let noise = api.create_chat(&t).await.unwrap().number;
    let mut bodies = Vec::new();
    for i in 0..57u32 {
        let body = match i % 5 {
            0 => format!("Needle {i} in the hay"),
            1 => format!("hay only {i}"),
            2 => format!("a NEEDLE and a needle, {i}"),
            3 => format!("ne-ed-le {i} is no match"),
            _ => format!("sewing needles {i}"),
        };
        api.create_message(&t, c, &body).await.unwrap();
        api.create_message(&t, noise, &format!("needle elsewhere {i}"))
            .await
            .unwrap();
        bodies.push(body);
    }
    settle.settle().await;
    for q in ["needle", "NEEDLE a", "ne", "y o", "e"] {
        for sort in SearchSort::ALL {
            let want = expected(&bodies, q, sort);
            for limit in [1, 7, 50, 1000] {
                let request = SearchRequest::new(q).sorted(sort).limited(limit);
                let got = numbers(&all_pages(&api, &t, c, request).await);
                if sort == SearchSort::Relevance {
                    let mut got_sorted = got.clone();
                    got_sorted.sort_unstable_by(|a, b| b.cmp(a));
                    got_sorted.dedup();
                    assert_eq!(
                        got_sorted.len(),
                        got.len(),
                        "{q:?} {sort} {limit}: repeats {got:?}"
                    );
                    assert_eq!(got_sorted, want, "{q:?} {sort} limit {limit}");
                } else {
                    assert_eq!(got, want, "{q:?} {sort} limit {limit}");
                }
            }
        }
    }
    // A page in the middle: `after` continues past any number, matching or not.
    let page = api
        .search_messages(
            &t,
            c,
            &SearchRequest {
                after: Some(MessageNumber::new(30).unwrap()),
                ..SearchRequest::new("needle").limited(3)
            },
        )
        .await
        .unwrap();
    let want: Vec<u32> = expected(&bodies, "needle", SearchSort::Newest)
        .into_iter()
        .filter(|&n| n < 30)
        .take(3)
        .collect();
    assert_eq!(numbers(&page.items), want);
    assert_eq!(
        page.next.and_then(|n| n.after).map(MessageNumber::get),
        want.last().copied()
    );
    let page = api
        .search_messages(
            &t,
            c,
            &SearchRequest {
                after: Some(MessageNumber::new(50).unwrap()),
                ..SearchRequest::new("needle").sorted(SearchSort::Oldest)
            },
        )
        .await
        .unwrap();
    let want: Vec<u32> = expected(&bodies, "needle", SearchSort::Oldest)
        .into_iter()
        .filter(|&n| n > 50)
        .collect();
    assert!(!want.is_empty());
    assert_eq!(numbers(&page.items), want);
    assert_eq!(page.next, None);

    // Found right after the write, and by the new text after an edit.
    let fresh = api.create_message(&t, c, "a fresh pin").await.unwrap();
    settle.settle().await;
    for sort in SearchSort::ALL {
        let request = SearchRequest::new("fresh pin").sorted(sort);
        let page = api.search_messages(&t, c, &request).await.unwrap();
        assert_eq!(numbers(&page.items), [fresh.number.get()], "{sort}");
    }
    api.update_message(&t, c, fresh.number, "now a rusty nail")
        .await
        .unwrap();
    settle.settle().await;
    for sort in SearchSort::ALL {
        let page = api
            .search_messages(&t, c, &SearchRequest::new("rusty nail").sorted(sort))
            .await
            .unwrap();
        assert_eq!(numbers(&page.items), [fresh.number.get()], "{sort}");
        let page = api
            .search_messages(&t, c, &SearchRequest::new("fresh pin").sorted(sort))
            .await
            .unwrap();
        assert!(page.items.is_empty(), "{sort}: the old text is still found");
    }

    // An offset in number order skips that many results, as the same skip by `after` would.
    for sort in [SearchSort::Newest, SearchSort::Oldest] {
        let want: Vec<u32> = expected(&bodies, "needle", sort)
            .into_iter()
            .skip(2)
            .collect();
        assert!(
            !want.is_empty(),
            "{sort}: the chat has more than two needles"
        );
        let request = SearchRequest {
            offset: 2,
            ..SearchRequest::new("needle").sorted(sort)
        };
        let got = numbers(&all_pages(&api, &t, c, request.clone()).await);
        assert_eq!(got, want, "{sort} with offset 2");
        let past_the_end = SearchRequest {
            offset: u32::try_from(want.len() + 2).unwrap(),
            ..request
        };
        let page = api.search_messages(&t, c, &past_the_end).await.unwrap();
        assert!(page.items.is_empty() && page.next.is_none(), "{sort}");
    }

    // `offset` skips in every order; `after` cuts relevance's window below a number too.
    for sort in [SearchSort::Newest, SearchSort::Oldest] {
        let page = api
            .search_messages(
                &t,
                c,
                &SearchRequest {
                    offset: 2,
                    ..SearchRequest::new("needle").sorted(sort).limited(3)
                },
            )
            .await
            .unwrap();
        let want: Vec<u32> = expected(&bodies, "needle", sort)
            .into_iter()
            .skip(2)
            .take(3)
            .collect();
        assert_eq!(numbers(&page.items), want, "{sort} offset 2");
        assert_eq!(
            page.next
                .map(|n| (n.after.map(MessageNumber::get), n.offset)),
            Some((want.last().copied(), 0))
        );
    }
    let below = all_pages(
        &api,
        &t,
        c,
        SearchRequest {
            after: Some(MessageNumber::new(20).unwrap()),
            ..SearchRequest::new("needle")
                .sorted(SearchSort::Relevance)
                .limited(4)
        },
    )
    .await;
    let mut below = numbers(&below);
    below.sort_unstable_by(|a, b| b.cmp(a));
    let want: Vec<u32> = expected(&bodies, "needle", SearchSort::Newest)
        .into_iter()
        .filter(|&n| n < 20)
        .collect();
    assert_eq!(below, want, "relevance below 20");

    // Out-of-range pages are refused, typed.
    for bad in [
        SearchRequest {
            offset: chat_core::model::RELEVANCE_WINDOW,
            ..SearchRequest::new("needle").sorted(SearchSort::Relevance)
        },
        SearchRequest {
            offset: chat_core::model::RELEVANCE_WINDOW,
            ..SearchRequest::new("needle")
        },
        SearchRequest::new("needle").limited(0),
        SearchRequest::new("needle").limited(1001),
    ] {
        assert!(
            matches!(
                api.search_messages(&t, c, &bad).await,
                Err(Error::BadRequest(_))
            ),
            "{bad:?}"
        );
    }
    // The last offset of the window is accepted.
    let last = SearchRequest {
        offset: chat_core::model::RELEVANCE_WINDOW - 1,
        ..SearchRequest::new("needle").sorted(SearchSort::Relevance)
    };
    assert!(api
        .search_messages(&t, c, &last)
        .await
        .unwrap()
        .items
        .is_empty());
}

/// Queries made of query-language syntax, wildcards, the longest allowed text, emoji and
/// right-to-left script are plain text in every order: exactly the bodies containing them.
pub async fn hostile_queries_are_literal_in_every_order(
    api: Arc<dyn ChatApi>,
    settle: &dyn Settle,
) {
    let app = api.create_application("hostile").await.unwrap();
    let t = app.token.clone();
    let c = api.create_chat(&t).await.unwrap().number;
    let long: String = "λόγος 🎉 word ".chars().cycle().take(1024).collect();
    let bodies: Vec<String> = [
        "say \"hi\" to NEAR(a b) and *star*",
        "100% of a_b",
        "percent % underscore _ quote \" star *",
        "🎉🎉 party 🎊",
        "مرحبا بالعالم",
        "שלום עולם and more",
        "plain text only",
        &format!("{long} tail"),
        "NEAR( alone",
        "\"\"\"",
    ]
    .iter()
    .map(|b| b.to_string())
    .collect();
    for b in &bodies {
        api.create_message(&t, c, b).await.unwrap();
    }
    settle.settle().await;
    let absent: String = "zq".repeat(512);
    for q in [
        "\"",
        "*",
        "NEAR(",
        "%",
        "_",
        "\"hi\"",
        "*star*",
        "a_b",
        "100%",
        "🎉",
        "🎉🎉",
        "🎉🎉 party 🎊",
        "بالعالم",
        "مرحبا",
        "שלום עולם",
        "עולם",
        long.as_str(),
        absent.as_str(),
        "\"\"\"",
        "NEAR(a",
        "OR",
        "AND NOT",
    ] {
        for sort in SearchSort::ALL {
            let want = expected(&bodies, q, sort);
            let got = numbers(
                &all_pages(&api, &t, c, SearchRequest::new(q).sorted(sort).limited(3)).await,
            );
            if sort == SearchSort::Relevance {
                let mut got = got;
                got.sort_unstable_by(|a, b| b.cmp(a));
                assert_eq!(got, want, "{q:?} {sort}");
            } else {
                assert_eq!(got, want, "{q:?} {sort}");
            }
        }
    }
    let too_long: String = "x".repeat(1025);
    for sort in SearchSort::ALL {
        assert!(matches!(
            api.search_messages(&t, c, &SearchRequest::new(too_long.as_str()).sorted(sort)).await,
            Err(Error::Invalid { ref field, .. }) if field == "query"
        ));
    }
}

/// Substring search: mid-word, case-insensitive, Unicode, isolated per chat and application,
/// literal special characters, updated bodies.
pub async fn search_finds_substrings_literally_within_one_chat(
    api: Arc<dyn ChatApi>,
    settle: &dyn Settle,
) {
    let app = api.create_application("search").await.unwrap();
    let other_app = api.create_application("search other").await.unwrap();
    let t = app.token.clone();
    let c = api.create_chat(&t).await.unwrap().number;
    let c2 = api.create_chat(&t).await.unwrap().number;
    let oc = api.create_chat(&other_app.token).await.unwrap().number;
    let bodies = [
        "What a Wonderful world",
        "Café crème à Paris",
        "مرحبا بالعالم",
        "party time 🎉🎉 tonight",
        "100% sure: use a_b AND \"quotes\" NEAR(x y) -minus *star col:on",
        "nothing to see",
    ];
    for b in bodies {
        api.create_message(&t, c, b).await.unwrap();
    }
    api.create_message(&t, c2, "wonderful in the other chat")
        .await
        .unwrap();
    api.create_message(&other_app.token, oc, "wonderful in the other app")
        .await
        .unwrap();
    settle.settle().await;

    assert_eq!(
        hits(&api, &t, c, "onderf").await,
        ["What a Wonderful world"]
    );
    assert_eq!(
        hits(&api, &t, c, "WONDERFUL").await,
        ["What a Wonderful world"]
    );
    assert_eq!(hits(&api, &t, c, "crème").await, ["Café crème à Paris"]);
    assert_eq!(hits(&api, &t, c, "CAFÉ").await, ["Café crème à Paris"]);
    assert_eq!(hits(&api, &t, c, "بالعالم").await, ["مرحبا بالعالم"]);
    assert_eq!(hits(&api, &t, c, "🎉🎉").await, ["party time 🎉🎉 tonight"]);
    assert_eq!(
        hits(&api, &t, c2, "onderf").await,
        ["wonderful in the other chat"]
    );
    assert_eq!(
        hits(&api, &other_app.token, oc, "onderf").await,
        ["wonderful in the other app"]
    );
    let special = "100% sure: use a_b AND \"quotes\" NEAR(x y) -minus *star col:on";
    for q in [
        "100%",
        "% sure",
        "a_b",
        "AND \"quotes\"",
        "\"quotes\"",
        "NEAR(x y)",
        "-minus",
        "*star",
        "col:on",
        "\"",
        "%",
        "_",
        "AND",
        "NEAR(",
    ] {
        assert_eq!(hits(&api, &t, c, q).await, [special], "query {q:?}");
    }
    for q in [
        "a%b",
        "x_y_z",
        "ORX",
        "NOT nothing",
        "\"unclosed",
        "()",
        ") (",
        "'; DROP TABLE messages; --",
        "***",
    ] {
        assert!(hits(&api, &t, c, q).await.is_empty(), "query {q:?} matched");
    }
    // Short queries still work within the chat.
    assert_eq!(hits(&api, &t, c, "wo").await, ["What a Wonderful world"]);
    assert_eq!(
        hits(&api, &t, c2, "wo").await,
        ["wonderful in the other chat"]
    );
    // Updated bodies are found by the new text only.
    let m = MessageNumber::new(6).unwrap();
    api.update_message(&t, c, m, "now something marvellous")
        .await
        .unwrap();
    settle.settle().await;
    assert_eq!(
        hits(&api, &t, c, "marvel").await,
        ["now something marvellous"]
    );
    assert!(hits(&api, &t, c, "nothing to see").await.is_empty());
    // Relevance: the better match comes first; limit and offset slice it.
    let r = api.create_chat(&t).await.unwrap().number;
    api.create_message(&t, r, "apple pie with a long tail of other words here")
        .await
        .unwrap();
    api.create_message(&t, r, "apple apple apple")
        .await
        .unwrap();
    api.create_message(&t, r, "banana").await.unwrap();
    settle.settle().await;
    let relevance = SearchRequest::new("apple").sorted(SearchSort::Relevance);
    let ranked: Vec<String> = api
        .search_messages(&t, r, &relevance)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(
        ranked,
        [
            "apple apple apple",
            "apple pie with a long tail of other words here"
        ]
    );
    let second = api
        .search_messages(
            &t,
            r,
            &SearchRequest {
                offset: 1,
                ..relevance.limited(1)
            },
        )
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].number.get(), 1);
    assert_eq!(second.next, None);
}

/// Queries of one and two characters (no trigram: the scan path, or the database on the
/// distributed profile) fold case over all of Unicode exactly as longer ones (the index) do.
pub async fn short_queries_fold_case_like_longer_ones(api: Arc<dyn ChatApi>, settle: &dyn Settle) {
    let app = api.create_application("folding").await.unwrap();
    let t = app.token.clone();
    let c = api.create_chat(&t).await.unwrap().number;
    for b in [
        "ΣΟΦΙΑ ÉCOLE",
        "über STRASSE",
        "plain ascii",
        "ecole sans accent",
    ] {
        api.create_message(&t, c, b).await.unwrap();
    }
    settle.settle().await;
    for q in [
        "σο",
        "é",
        "σοφ",
        "éco",
        "Σ",
        "ΣΟ",
        "ÉC",
        "ÉCO",
        "σοφια école",
        "ια",
    ] {
        assert_eq!(hits(&api, &t, c, q).await, ["ΣΟΦΙΑ ÉCOLE"], "query {q:?}");
    }
    for q in ["Ü", "üb", "ÜBE", "über s"] {
        assert_eq!(hits(&api, &t, c, q).await, ["über STRASSE"], "query {q:?}");
    }
    // Folding is case only: an accent still tells letters apart, at every length.
    for q in ["ec", "eco"] {
        assert_eq!(
            hits(&api, &t, c, q).await,
            ["ecole sans accent"],
            "query {q:?}"
        );
    }
    for q in ["ω", "ΩΣ", "ö"] {
        assert!(hits(&api, &t, c, q).await.is_empty(), "query {q:?} matched");
    }
}

/// Recount on consistent data corrects nothing and covers every chat; reindex keeps search whole.
pub async fn recount_and_reindex_report_their_work(api: Arc<dyn ChatApi>, settle: &dyn Settle) {
    let app = api.create_application("jobs").await.unwrap();
    let t = app.token.clone();
    for _ in 0..3 {
        let c = api.create_chat(&t).await.unwrap().number;
        for i in 0..5 {
            api.create_message(&t, c, &format!("job message {i}"))
                .await
                .unwrap();
        }
    }
    settle.settle().await;
    let summary = api.recount(Some(&t), NoProgress::arc()).await.unwrap();
    assert_eq!(
        (summary.applications, summary.chats, summary.corrected),
        (1, 3, 0)
    );
    assert!(summary.corrections.is_empty());
    let summary = api.reindex(Some(&t), NoProgress::arc()).await.unwrap();
    assert_eq!(
        (summary.applications, summary.chats, summary.messages),
        (1, 3, 15)
    );
    let c = ChatNumber::new(2).unwrap();
    assert_eq!(hits(&api, &t, c, "message 3").await, ["job message 3"]);
    assert!(api
        .recount(Some(&Token::generate()), NoProgress::arc())
        .await
        .is_err());
    let all = api.reindex(None, NoProgress::arc()).await.unwrap();
    assert!(all.messages >= 15 && all.applications >= 1);
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

/// A deleted message is gone at once: a read, an edit and a second delete are `NotFound`, lists
/// (both orders) and every search order skip it before and after the queue settles, the chat's
/// count drops at once; the next message gets the next number (never the deleted one);
/// recount finds nothing to fix and reindex does not bring it back.
pub async fn delete_message_is_gone_at_once_and_its_number_never_reused(
    api: Arc<dyn ChatApi>,
    settle: &dyn Settle,
) {
    let app = api.create_application("delete messages").await.unwrap();
    let t = app.token.clone();
    let c = api.create_chat(&t).await.unwrap().number;
    for i in 1..=5 {
        api.create_message(&t, c, &format!("sparrow number {i}"))
            .await
            .unwrap();
    }
    settle.settle().await;
    assert_eq!(api.get_chat(&t, c).await.unwrap().messages_count, 5);
    let sorts = [
        SearchSort::Newest,
        SearchSort::Oldest,
        SearchSort::Relevance,
    ];
    for sort in sorts {
        assert_eq!(
            found(&api, &t, c, "sparrow", sort).await.len(),
            5,
            "{sort:?}"
        );
    }

    let three = MessageNumber::new(3).unwrap();
    api.delete_message(&t, c, three).await.unwrap();
    let gone = Err(Error::NotFound(Missing::Message {
        token: t.clone(),
        chat: c,
        message: three,
    }));
    assert_eq!(api.get_message(&t, c, three).await, gone);
    assert_eq!(
        api.delete_message(&t, c, three).await,
        gone.clone().map(drop)
    );
    assert!(matches!(
        api.update_message(&t, c, three, "back").await,
        Err(Error::NotFound(Missing::Message { .. }))
    ));
    assert_eq!(message_numbers(&api, &t, c, false).await, [1, 2, 4, 5]);
    assert_eq!(message_numbers(&api, &t, c, true).await, [5, 4, 2, 1]);
    assert_eq!(api.get_chat(&t, c).await.unwrap().messages_count, 4);
    for sort in sorts {
        let expected: &[u32] = if sort == SearchSort::Oldest {
            &[1, 2, 4, 5]
        } else {
            &[5, 4, 2, 1]
        };
        assert_eq!(
            found(&api, &t, c, "sparrow", sort).await,
            expected,
            "{sort:?}"
        );
        assert_eq!(
            found(&api, &t, c, "number 3", sort).await,
            [0u32; 0],
            "{sort:?}"
        );
    }
    assert_eq!(
        api.create_message(&t, c, "sparrow number 6")
            .await
            .unwrap()
            .number
            .get(),
        6
    );
    // The highest one too: its number is not handed out again.
    let six = MessageNumber::new(6).unwrap();
    api.delete_message(&t, c, six).await.unwrap();
    assert_eq!(
        api.create_message(&t, c, "sparrow number 7")
            .await
            .unwrap()
            .number
            .get(),
        7
    );

    settle.settle().await;
    assert_eq!(message_numbers(&api, &t, c, false).await, [1, 2, 4, 5, 7]);
    assert_eq!(api.get_chat(&t, c).await.unwrap().messages_count, 5);
    for sort in sorts {
        let mut expected = vec![1, 2, 4, 5, 7];
        if sort != SearchSort::Oldest {
            expected.reverse();
        }
        assert_eq!(
            found(&api, &t, c, "sparrow", sort).await,
            expected,
            "{sort:?}"
        );
    }
    let summary = api.recount(Some(&t), NoProgress::arc()).await.unwrap();
    assert_eq!(summary.corrected, 0, "{summary:?}");
    let summary = api.reindex(Some(&t), NoProgress::arc()).await.unwrap();
    assert_eq!(summary.messages, 5);
    settle.settle().await;
    assert_eq!(
        found(&api, &t, c, "sparrow", SearchSort::Newest).await,
        [7, 5, 4, 2, 1]
    );
}

/// A deleted chat takes its messages with it: the chat and its messages are `NotFound`
/// (reads, lists, search, new messages, a second delete), the application's count drops at
/// once, the other chats keep theirs, and the next chat gets the next number.
pub async fn delete_chat_removes_its_messages(api: Arc<dyn ChatApi>, settle: &dyn Settle) {
    let app = api.create_application("delete chats").await.unwrap();
    let t = app.token.clone();
    let mut chats = Vec::new();
    for _ in 0..3 {
        chats.push(api.create_chat(&t).await.unwrap().number);
    }
    for &c in &chats {
        for i in 1..=3 {
            api.create_message(&t, c, &format!("heron {c} {i}"))
                .await
                .unwrap();
        }
    }
    settle.settle().await;
    assert_eq!(api.get_application(&t).await.unwrap().chats_count, 3);

    let two = chats[1];
    api.delete_chat(&t, two).await.unwrap();
    let gone = Error::NotFound(Missing::Chat {
        token: t.clone(),
        chat: two,
    });
    let m1 = MessageNumber::new(1).unwrap();
    assert_eq!(api.get_chat(&t, two).await, Err(gone.clone()));
    assert_eq!(api.delete_chat(&t, two).await, Err(gone.clone()));
    assert_eq!(
        api.get_message(&t, two, m1).await.map(drop),
        Err(gone.clone())
    );
    assert_eq!(api.delete_message(&t, two, m1).await, Err(gone.clone()));
    assert_eq!(
        api.list_messages(&t, two, PageRequest::first(10).unwrap())
            .await
            .map(drop),
        Err(gone.clone())
    );
    assert_eq!(
        api.search_messages(&t, two, &SearchRequest::new("heron"))
            .await
            .map(drop),
        Err(gone.clone())
    );
    assert_eq!(
        api.create_message(&t, two, "late").await.map(drop),
        Err(gone.clone())
    );
    assert_eq!(api.get_application(&t).await.unwrap().chats_count, 2);
    let (listed, _) = chat_core::collect_pages(PageRequest::first(10).unwrap(), true, |p| {
        api.list_chats(&t, p)
    })
    .await
    .unwrap();
    let listed: Vec<u32> = listed.iter().map(|c| c.number.get()).collect();
    assert_eq!(listed, [1, 3]);
    assert_eq!(api.create_chat(&t).await.unwrap().number.get(), 4);

    settle.settle().await;
    for c in [chats[0], chats[2]] {
        assert_eq!(api.get_chat(&t, c).await.unwrap().messages_count, 3);
        assert_eq!(message_numbers(&api, &t, c, false).await, [1, 2, 3]);
        assert_eq!(
            found(&api, &t, c, "heron", SearchSort::Newest).await,
            [3, 2, 1]
        );
    }
    assert_eq!(api.get_chat(&t, two).await, Err(gone));
    assert_eq!(api.get_application(&t).await.unwrap().chats_count, 3);
    let summary = api.recount(Some(&t), NoProgress::arc()).await.unwrap();
    assert_eq!(summary.corrected, 0, "{summary:?}");
}

/// A deleted application takes everything with it, and nothing of another application.
pub async fn delete_application_removes_all(api: Arc<dyn ChatApi>, settle: &dyn Settle) {
    let doomed = api.create_application("doomed").await.unwrap().token;
    let kept = api.create_application("kept").await.unwrap().token;
    for t in [&doomed, &kept] {
        for _ in 0..2 {
            let c = api.create_chat(t).await.unwrap().number;
            for i in 0..3 {
                api.create_message(t, c, &format!("plover {i}"))
                    .await
                    .unwrap();
            }
        }
    }
    settle.settle().await;
    api.delete_application(&doomed).await.unwrap();
    let gone = Error::NotFound(Missing::Application {
        token: doomed.clone(),
    });
    let one = ChatNumber::new(1).unwrap();
    let m1 = MessageNumber::new(1).unwrap();
    assert_eq!(api.get_application(&doomed).await, Err(gone.clone()));
    assert_eq!(api.delete_application(&doomed).await, Err(gone.clone()));
    assert_eq!(
        api.get_chat(&doomed, one).await.map(drop),
        Err(gone.clone())
    );
    assert_eq!(
        api.get_message(&doomed, one, m1).await.map(drop),
        Err(gone.clone())
    );
    assert_eq!(api.create_chat(&doomed).await.map(drop), Err(gone.clone()));
    assert_eq!(
        api.list_chats(&doomed, PageRequest::first(10).unwrap())
            .await
            .map(drop),
        Err(gone.clone())
    );
    assert_eq!(
        api.search_messages(&doomed, one, &SearchRequest::new("plover"))
            .await
            .map(drop),
        Err(gone.clone())
    );
    let tokens = all_tokens(&api).await;
    assert!(!tokens.contains(&doomed) && tokens.contains(&kept));

    settle.settle().await;
    assert_eq!(api.get_application(&doomed).await, Err(gone));
    assert_eq!(api.get_application(&kept).await.unwrap().chats_count, 2);
    for n in 1..=2 {
        let c = ChatNumber::new(n).unwrap();
        assert_eq!(api.get_chat(&kept, c).await.unwrap().messages_count, 3);
        assert_eq!(
            found(&api, &kept, c, "plover", SearchSort::Oldest).await,
            [1, 2, 3]
        );
    }
    let summary = api.recount(Some(&kept), NoProgress::arc()).await.unwrap();
    assert_eq!(summary.corrected, 0, "{summary:?}");
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
