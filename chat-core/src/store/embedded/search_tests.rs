//! Property test of embedded search with the backlog: random bodies (Unicode included) and
//! queries, with creates, edits, deletes and drains of the backlog (by another connection, as
//! another process would) interleaved at random points; every search, in every order and at any
//! page size, equals a brute-force substring filter of the chat's messages, and once drained the
//! index holds exactly the messages that are left. The planner's probe varies: 0 (the index
//! alone), a few rows (rows first, then the index for the rest), and more rows than any chat
//! holds (the rows alone), so every path of a newest/oldest search meets brute force.

use proptest::prelude::*;

use super::indexer::drain_chunk;
use super::rows::message_id;
use super::search::{bounds, walk};
use crate::model::Matcher;
use crate::model::{Query, SearchRequest, SearchSort};
use crate::store::SearchSpec;
use crate::{ChatApi, ChatNumber, ChatService, Config, MessageNumber};

/// Characters that fold (`A`/`a`, `É`/`é`, `Σ`/`σ`), one that does not change (`ß`), an emoji,
/// a space and quote characters the query language would otherwise read.
const ALPHABET: &[char] = &[
    'a', 'b', 'A', 'B', 'é', 'É', 'σ', 'Σ', 'ß', '🎉', ' ', '"', '*',
];

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 1..=max)
        .prop_map(|c| c.into_iter().collect())
        .prop_filter("not blank", |s: &String| !s.trim().is_empty())
}

#[derive(Debug, Clone)]
enum Step {
    Create(String),
    /// Edit the message at this index (modulo the count) to this body.
    Edit(usize, String),
    /// Delete the message at this index (modulo the count).
    Delete(usize),
    /// Drain up to this many records.
    Drain(u32),
    /// Search for this text, with this page size.
    Search(String, u32),
    /// Search for three characters of the body at this index (modulo the count), from this
    /// character on (modulo its length), with this page size: a query that matches.
    SearchBody(usize, usize, u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => text(10).prop_map(Step::Create),
        2 => (any::<usize>(), text(10)).prop_map(|(i, b)| Step::Edit(i, b)),
        1 => any::<usize>().prop_map(Step::Delete),
        2 => (1u32..6).prop_map(Step::Drain),
        3 => (text(4), 1u32..5).prop_map(|(q, l)| Step::Search(q, l)),
        3 => (any::<usize>(), any::<usize>(), 1u32..5).prop_map(|(i, at, l)| Step::SearchBody(i, at, l)),
    ]
}

/// The numbers containing `q`, in `sort`'s order (relevance: newest first, compared as a set);
/// deleted messages are `None`.
fn expected(bodies: &[Option<String>], q: &Query, sort: SearchSort) -> Vec<u32> {
    let mut n: Vec<u32> = (1..=bodies.len() as u32)
        .filter(|&i| {
            bodies[i as usize - 1]
                .as_ref()
                .is_some_and(|b| q.matches(b))
        })
        .collect();
    if sort != SearchSort::Oldest {
        n.reverse();
    }
    n
}

fn chat() -> ChatNumber {
    ChatNumber::new(1).expect("chat 1")
}

async fn all_pages(
    service: &ChatService,
    token: &crate::Token,
    request: SearchRequest,
) -> Vec<u32> {
    let mut request = request;
    let mut found = Vec::new();
    loop {
        let page = service
            .search_messages(token, chat(), &request)
            .await
            .expect("search");
        found.extend(page.items.iter().map(|m| m.number.get()));
        match page.next {
            Some(next) => request = next,
            None => return found,
        }
    }
}

async fn run(steps: Vec<Step>, probe: u32) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("prop.db").display());
    let config = Config {
        fsync: false,
        // Only the test drains, at the steps it chose.
        worker: false,
        search_probe: probe,
        ..Config::with_database_url(&url)
    };
    let service = ChatService::open(&config).await.expect("open");
    let mut drainer = rusqlite::Connection::open(dir.path().join("prop.db")).expect("drainer");
    drainer
        .busy_timeout(std::time::Duration::from_secs(5))
        .expect("busy timeout");
    let app = service.create_application("prop").await.expect("app");
    let token = app.token;
    service.create_chat(&token).await.expect("chat");
    let mut bodies: Vec<Option<String>> = Vec::new();
    for step in steps {
        match step {
            Step::Create(body) => {
                let m = service
                    .create_message(&token, chat(), &body)
                    .await
                    .expect("create");
                bodies.push(Some(m.body));
            }
            Step::Edit(i, body) if !bodies.is_empty() => {
                let i = i % bodies.len();
                let n = MessageNumber::new(i as u32 + 1).expect("number");
                let edited = service.update_message(&token, chat(), n, &body).await;
                match &mut bodies[i] {
                    Some(b) => *b = edited.expect("edit").body,
                    None => assert!(edited.is_err(), "a deleted message was edited"),
                }
            }
            Step::Delete(i) if !bodies.is_empty() => {
                let i = i % bodies.len();
                let n = MessageNumber::new(i as u32 + 1).expect("number");
                let deleted = service.delete_message(&token, chat(), n).await;
                assert_eq!(deleted.is_ok(), bodies[i].take().is_some(), "{deleted:?}");
            }
            Step::Edit(..) | Step::Delete(_) => {}
            Step::Drain(chunk) => {
                drain_chunk(&mut drainer, chunk).expect("drain");
            }
            Step::SearchBody(..) | Step::Search(..) => {
                let (q, limit) = match step {
                    Step::Search(q, limit) => (q, limit),
                    Step::SearchBody(i, at, limit) => {
                        let Some(Some(body)) = bodies.get(i % bodies.len().max(1)) else {
                            continue;
                        };
                        let chars: Vec<char> = body.chars().collect();
                        let from = at % chars.len();
                        (chars[from..].iter().take(3).collect(), limit)
                    }
                    _ => unreachable!(),
                };
                let Ok(query) = Query::parse(&q) else {
                    continue;
                };
                for sort in SearchSort::ALL {
                    let request = SearchRequest::new(q.clone()).sorted(sort).limited(limit);
                    let mut got = all_pages(&service, &token, request).await;
                    let want = expected(&bodies, &query, sort);
                    if sort == SearchSort::Relevance {
                        got.sort_unstable_by(|a, b| b.cmp(a));
                    }
                    assert_eq!(
                        got, want,
                        "query {q:?}, {sort}, limit {limit}, probe {probe}, bodies {bodies:?}"
                    );
                }
            }
        }
    }
    // Drained, the index holds exactly the messages that are left.
    while drain_chunk(&mut drainer, 64).expect("drain").more {}
    let indexed: Vec<i64> = drainer
        .prepare("SELECT rowid FROM messages_fts ORDER BY rowid")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("index entries");
    let numbers: Vec<i64> = indexed.iter().map(|id| id & i64::from(u32::MAX)).collect();
    let left: Vec<i64> = (1..=bodies.len() as i64)
        .filter(|&n| bodies[n as usize - 1].is_some())
        .collect();
    assert_eq!(numbers, left, "bodies {bodies:?}");
    service.close().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn search_equals_a_brute_force_filter_whatever_the_backlog(
        steps in prop::collection::vec(step(), 1..40),
        probe in prop_oneof![Just(0u32), 1u32..4, Just(100_000u32)],
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(run(steps, probe));
    }
}

proptest! {
    #[test]
    fn the_matcher_finds_what_folding_both_texts_finds(q in text(4), t in text(16)) {
        let Ok(query) = Query::parse(&q) else { return Ok(()) };
        let want = crate::model::fold_case(&t).contains(&crate::model::fold_case(query.as_str()));
        let mut matcher = Matcher::new(&query);
        prop_assert_eq!(matcher.is_match(&t), want);
        prop_assert_eq!(matcher.occurrences(&t) > 0, want);
        prop_assert_eq!(query.matches(&t), want);
    }
}

/// The planner's walk on a chat of 200 messages: a common word fills the page from the
/// newest rows alone; a word in one message of ten reads on past the probe, since the page
/// projects to fill within the budget; a rare word stops at the probe and leaves the rest of
/// the chat, below the last row read, to the index.
#[test]
fn the_walk_reads_rows_while_they_fill_the_page_and_leaves_the_rest_to_the_index() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    rt.block_on(async {
        let url = format!("sqlite://{}", dir.path().join("walk.db").display());
        let config = Config {
            fsync: false,
            ..Config::with_database_url(&url)
        };
        let service = ChatService::open(&config).await.expect("open");
        let app = service.create_application("walk").await.expect("app");
        service.create_chat(&app.token).await.expect("chat");
        for n in 1..=200u32 {
            let mut body = format!("message {n}");
            if n % 2 == 0 {
                body.push_str(" common");
            }
            if n % 10 == 0 {
                body.push_str(" tenth");
            }
            if n == 5 {
                body.push_str(" rare");
            }
            service
                .create_message(&app.token, chat(), &body)
                .await
                .expect("create");
        }
        service.close().await;
    });
    let conn = rusqlite::Connection::open(dir.path().join("walk.db")).expect("open");
    let chat_id: i64 = conn
        .query_row("SELECT id FROM chats", [], |r| r.get(0))
        .expect("chat id");
    let spec = SearchSpec {
        sort: SearchSort::Newest,
        limit: 10,
        after: None,
        offset: 0,
    };
    let (lo, hi) = bounds(chat_id, &spec);
    let walk_for = |q: &str| {
        let mut matcher = Matcher::new(&Query::parse(q).expect("query"));
        walk(&conn, lo, hi, &mut matcher, true, 10, 32).expect("walk")
    };
    let numbers = |found: &[(i64, crate::Message)]| {
        found
            .iter()
            .map(|(_, m)| m.number.get())
            .collect::<Vec<_>>()
    };

    let (found, rest) = walk_for("common");
    assert_eq!(
        numbers(&found),
        (0..10).map(|i| 200 - 2 * i).collect::<Vec<_>>()
    );
    assert_eq!(rest, None, "the page is full: nothing is left to the index");

    let (found, rest) = walk_for("tenth");
    assert_eq!(
        numbers(&found),
        (0..10).map(|i| 200 - 10 * i).collect::<Vec<_>>()
    );
    assert_eq!(
        rest, None,
        "read on past the probe: the page filled within the budget"
    );

    let (found, rest) = walk_for("rare");
    assert!(found.is_empty(), "{:?}", numbers(&found));
    assert_eq!(
        rest,
        Some((lo, message_id(chat_id, 168))),
        "the probe read 32 rows (200 down to 169) and left the rest to the index"
    );

    // Oldest first: the same walk from the other end.
    let mut matcher = Matcher::new(&Query::parse("rare").expect("query"));
    let (found, rest) = walk(&conn, lo, hi, &mut matcher, false, 10, 32).expect("walk");
    assert_eq!(numbers(&found), [5]);
    assert_eq!(rest, Some((message_id(chat_id, 33), hi)));
    // A probe of 0 leaves everything to the index.
    let (found, rest) = walk(&conn, lo, hi, &mut matcher, true, 10, 0).expect("walk");
    assert!(found.is_empty());
    assert_eq!(rest, Some((lo, hi)));
}
