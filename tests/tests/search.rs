//! Search on a real Elasticsearch / OpenSearch (`CHAT_TEST_ELASTICSEARCH_URL`, started by
//! `tests/services/services.sh start opensearch`) for the distributed profile: the conformance
//! suite — whose search cases pin substrings, case, Unicode, isolation, literal operators,
//! edits, ranking and paging — directly and through a chat-server, plus what only an engine
//! can show: the analyzer really yields contiguous grams, an outage is caught up without a
//! hand, a reindex under load swaps the alias without a moment without results, and a chat's
//! documents are routed to one shard. `scripts/test` runs this binary once per engine:
//! OpenSearch 2, Elasticsearch 8 (`CHAT_TEST_ES8_URL`) and the three-node OpenSearch cluster
//! (`CHAT_TEST_SEARCH_CLUSTER_URLS`, 3 shards, 1 replica).
#![cfg(feature = "distributed")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_tests::Searching;

chat_tests::conformance_suite!(Searching);

mod over_http {
    chat_tests::conformance_suite!(chat_tests::HttpSearching);
}

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::{NoProgress, SearchRequest};
use chat_tests::conformance::hits;
use chat_tests::Harness;
use serde_json::{json, Value};

/// Deletes remove their documents from the engine once the worker applied them (search
/// leaves deleted messages out before that too: the conformance suite's delete cases).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_remove_their_documents_from_the_engine() {
    use chat_core::{ChatNumber, MessageNumber};
    let h = Searching::start().await;
    let api = h.api();
    let t = api.create_application("indexed").await.unwrap().token;
    for _ in 0..2 {
        let c = api.create_chat(&t).await.unwrap().number;
        for i in 1..=3 {
            api.create_message(&t, c, &format!("kestrel {c} {i}"))
                .await
                .unwrap();
        }
    }
    let other = api.create_application("other").await.unwrap().token;
    let c = api.create_chat(&other).await.unwrap().number;
    for i in 1..=2 {
        api.create_message(&other, c, &format!("kestrel {i}"))
            .await
            .unwrap();
    }
    h.settle().await;
    assert_eq!(h.indexed().await, 8);
    let one = ChatNumber::new(1).unwrap();
    api.delete_message(&t, one, MessageNumber::new(2).unwrap())
        .await
        .unwrap();
    h.settle().await;
    assert_eq!(h.indexed().await, 7);
    api.delete_chat(&t, ChatNumber::new(2).unwrap())
        .await
        .unwrap();
    h.settle().await;
    assert_eq!(h.indexed().await, 4);
    api.delete_application(&other).await.unwrap();
    h.settle().await;
    assert_eq!(h.indexed().await, 2);
    assert_eq!(
        hits(&api, &t, one, "kestrel").await,
        ["kestrel 1 3", "kestrel 1 1"]
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_substring_analyzer_yields_contiguous_lowercased_grams() {
    let h = Searching::start().await;
    let index = h.engine().indices().await.unwrap();
    assert_eq!(index.len(), 1, "the alias points at one index");
    let v: Value = reqwest::Client::new()
        .post(format!(
            "{}/{}/_analyze",
            chat_tests::engine_url(),
            index[0]
        ))
        .json(&json!({"analyzer": "chat_substring", "text": "Wo nD!"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tokens: Vec<(String, u64)> = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["token"].as_str().unwrap().to_owned(),
                t["position"].as_u64().unwrap(),
            )
        })
        .collect();
    // Every window of three characters, spaces and punctuation included, one position apart:
    // a phrase query on these is a substring match.
    assert_eq!(
        tokens,
        [
            ("wo ".to_owned(), 0),
            ("o n".to_owned(), 1),
            (" nd".to_owned(), 2),
            ("nd!".to_owned(), 3)
        ]
    );
    // The grams of a query that are all present but not contiguous do not match.
    let api = h.api();
    let app = api.create_application("grams").await.unwrap();
    let c = api.create_chat(&app.token).await.unwrap().number;
    api.create_message(&app.token, c, "wonderful")
        .await
        .unwrap();
    h.settle().await;
    assert_eq!(hits(&api, &app.token, c, "DERF").await, ["wonderful"]);
    assert!(hits(&api, &app.token, c, "fulwon").await.is_empty());
    assert!(hits(&api, &app.token, c, "wonful").await.is_empty());
    h.stop().await;
}

/// The index keeps each segment's documents by number, highest first, which is `newest`'s own
/// order: with no total hit count, the engine stops at the first page's worth of matches. A
/// reindex builds its new index the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indices_are_sorted_by_number_for_newest_to_stop_early() {
    let h = Searching::start().await;
    let api = h.api();
    let app = api.create_application("sorted").await.unwrap();
    let c = api.create_chat(&app.token).await.unwrap().number;
    for i in 1..=30 {
        api.create_message(&app.token, c, &format!("sorted message {i}"))
            .await
            .unwrap();
    }
    h.settle().await;
    let sort_of = |index: String| async move {
        let v: Value = reqwest::get(format!("{}/{index}/_settings", chat_tests::engine_url(),))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v[&index]["settings"]["index"]["sort"].clone()
    };
    let index = h.engine().indices().await.unwrap();
    assert_eq!(
        sort_of(index[0].clone()).await,
        json!({"field": ["number"], "order": ["desc"]})
    );
    let newest: Vec<u32> = api
        .search_messages(&app.token, c, &SearchRequest::new("sorted").limited(5))
        .await
        .unwrap()
        .items
        .iter()
        .map(|m| m.number.get())
        .collect();
    assert_eq!(newest, [30, 29, 28, 27, 26]);
    let before = index[0].clone();
    api.reindex(None, NoProgress::arc()).await.unwrap();
    let index = h.engine().indices().await.unwrap();
    assert_ne!(index[0], before, "a whole reindex builds a new index");
    assert_eq!(
        sort_of(index[0].clone()).await,
        json!({"field": ["number"], "order": ["desc"]})
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_searchable_within_the_refresh_interval_of_its_persistence() {
    let h = Searching::with_worker().await;
    let api = h.api();
    let app = api.create_application("fresh").await.unwrap();
    let c = api.create_chat(&app.token).await.unwrap().number;
    let created = Instant::now();
    api.create_message(&app.token, c, "a freshly written line")
        .await
        .unwrap();
    // No settling: the background worker persists and indexes, the engine refreshes each second.
    loop {
        if hits(&api, &app.token, c, "freshly").await == ["a freshly written line"] {
            break;
        }
        assert!(
            created.elapsed() < Duration::from_secs(5),
            "not searchable 5 s after its 201"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("searchable {:?} after the 201", created.elapsed());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reindex_under_load_swaps_the_alias_and_indexes_everything_exactly_once() {
    let h = Searching::with_worker().await;
    let api = h.api();
    let app = api.create_application("reindex").await.unwrap();
    let t = app.token.clone();
    let c = api.create_chat(&t).await.unwrap().number;
    for i in 0..3000 {
        api.create_message(&t, c, &format!("steady line {i} zz"))
            .await
            .unwrap();
    }
    h.settle().await;
    let before = h.engine().indices().await.unwrap();

    let done = Arc::new(AtomicBool::new(false));
    // Writers keep creating and editing during the reindex.
    let writer = {
        let (api, t, done) = (api.clone(), t.clone(), Arc::clone(&done));
        tokio::spawn(async move {
            let mut i = 0u32;
            while !done.load(Ordering::Relaxed) {
                api.create_message(&t, c, &format!("written during the reindex {i}"))
                    .await
                    .unwrap();
                let edited = chat_core::MessageNumber::new(i % 3000 + 1).unwrap();
                api.update_message(&t, c, edited, &format!("edited during the reindex {i} zz"))
                    .await
                    .unwrap();
                i += 1;
            }
            i
        })
    };
    // A reader checks that searches never come back empty.
    let reader = {
        let (api, t, done) = (api.clone(), t.clone(), Arc::clone(&done));
        tokio::spawn(async move {
            let mut searches = 0;
            while !done.load(Ordering::Relaxed) {
                let hits = api
                    .search_messages(&t, c, &SearchRequest::new(" zz"))
                    .await
                    .unwrap()
                    .items;
                assert!(
                    !hits.is_empty(),
                    "a search found nothing during the reindex"
                );
                searches += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            searches
        })
    };
    let summary = api.reindex(None, NoProgress::arc()).await.unwrap();
    done.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    let searches = reader.await.unwrap();
    println!(
        "reindexed {} messages in {} ms while {written} were created and edited; {searches} searches all had results",
        summary.messages, summary.duration_ms
    );
    assert!(summary.messages >= 3000);
    h.settle().await;
    let after = h.engine().indices().await.unwrap();
    assert_eq!(after.len(), 1);
    assert_ne!(after, before, "the alias points at the new index");
    // Exactly once: one document per stored message, each with its latest body.
    assert_eq!(h.indexed().await, h.stored().await);
    let last = written - 1;
    assert_eq!(
        hits(&api, &t, c, &format!("reindex {last} zz")).await,
        [format!("edited during the reindex {last} zz")]
    );
    assert_eq!(
        hits(&api, &t, c, &format!("written during the reindex {last}")).await,
        [format!("written during the reindex {last}")]
    );
    h.stop().await;
}

/// Documents are routed by chat: with several shards, one chat's search reads one shard (the
/// engine's own `_shards.total`) and finds every message of the chat there; the chats spread
/// over the shards; a full reindex keeps the routing; a chat's delete finds its documents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chats_search_reads_one_shard_of_several_and_reindex_keeps_the_routing() {
    use chat_core::testing::DistributedOptions;
    use chat_core::ChatNumber;
    const SHARDS: u64 = 4;
    const CHATS: u32 = 8;
    const PER_CHAT: u32 = 3;
    let h = Searching::start_with(DistributedOptions {
        background_worker: false,
        index_shards: SHARDS as u32,
        ..DistributedOptions::default()
    })
    .await;
    let api = h.api();
    let t = api.create_application("routed").await.unwrap().token;
    for _ in 0..CHATS {
        let c = api.create_chat(&t).await.unwrap().number;
        for i in 1..=PER_CHAT {
            api.create_message(&t, c, &format!("routed {c} {i}"))
                .await
                .unwrap();
        }
    }
    h.settle().await;
    let mut db = h.0.mysql().await;
    let app: i64 = sqlx::query_scalar("SELECT id FROM applications WHERE token = ?")
        .bind(t.as_str())
        .fetch_one(&mut db)
        .await
        .unwrap();
    drop(db);
    let http = &reqwest::Client::new();
    let engine = h.engine();
    // What the engine holds: shards of the index behind the alias, and documents per shard.
    let layout = || async move {
        let index = engine.indices().await.unwrap().remove(0);
        let stats: Value = http
            .get(format!(
                "{}/{index}/_stats/docs?level=shards",
                chat_tests::engine_url()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let shards = stats["indices"][&index]["shards"].as_object().unwrap();
        let with_docs = shards
            .values()
            .filter(|copies| {
                copies.as_array().unwrap().iter().any(|c| {
                    c["routing"]["primary"] == true && c["docs"]["count"].as_u64().unwrap() > 0
                })
            })
            .count();
        (shards.len() as u64, with_docs)
    };
    let routed_searches_read_one_shard = |chats: u32| async move {
        for c in 1..=chats {
            let answer = engine.raw_search(app, c, "routed").await.unwrap();
            assert_eq!(answer["_shards"]["total"], 1, "chat {c}: {answer}");
            assert_eq!(answer["_shards"]["successful"], 1, "chat {c}: {answer}");
            let mut found: Vec<String> = answer["hits"]["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|hit| hit["_source"]["body"].as_str().unwrap().to_owned())
                .collect();
            found.sort();
            let expected: Vec<String> = (1..=PER_CHAT).map(|i| format!("routed {c} {i}")).collect();
            assert_eq!(found, expected, "chat {c}");
        }
    };
    let (shards, with_docs) = layout().await;
    assert_eq!(shards, SHARDS);
    assert!(
        with_docs > 1,
        "{CHATS} chats all landed on one shard of {SHARDS}"
    );
    routed_searches_read_one_shard(CHATS).await;
    // An unrouted search of the same index reads every shard: the count above is routing's.
    let all: Value = http
        .post(format!(
            "{}/{}/_search",
            chat_tests::engine_url(),
            h.engine().alias()
        ))
        .json(&json!({"size": 0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["_shards"]["total"], SHARDS, "{all}");

    // A full reindex builds a new index (as many shards) and routes as the workers do.
    let before = h.engine().indices().await.unwrap();
    api.reindex(None, NoProgress::arc()).await.unwrap();
    let after = h.engine().indices().await.unwrap();
    assert_ne!(before, after, "a full reindex swaps in a new index");
    let (shards, with_docs) = layout().await;
    assert_eq!(shards, SHARDS);
    assert!(with_docs > 1);
    routed_searches_read_one_shard(CHATS).await;

    // A chat's delete finds its documents on its shard.
    api.delete_chat(&t, ChatNumber::new(CHATS).unwrap())
        .await
        .unwrap();
    h.settle().await;
    assert_eq!(h.indexed().await, u64::from((CHATS - 1) * PER_CHAT));
    routed_searches_read_one_shard(CHATS - 1).await;
    h.stop().await;
}
