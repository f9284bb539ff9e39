//! Search: every sort order and its paging, literal queries, substrings within one chat, and
//! short queries folding case like longer ones.

use std::sync::Arc;

use chat_core::{ChatApi, ChatNumber, Error, MessageNumber, SearchRequest, SearchSort, Token};

use super::{all_pages, expected, hits, numbers, Settle};

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
    every_order_at_every_page_size_finds_every_match_once(&api, &t, c, &bodies).await;
    after_continues_past_any_number(&api, &t, c, &bodies).await;
    found_right_after_the_write_and_by_the_new_text(&api, &t, c, settle).await;
    offset_and_after_skip_in_every_order(&api, &t, c, &bodies).await;
    out_of_range_pages_are_refused(&api, &t, c).await;
}

/// Five queries, in every order, at page sizes 1 to 1,000: exactly the matches of `bodies`,
/// none repeated.
async fn every_order_at_every_page_size_finds_every_match_once(
    api: &Arc<dyn ChatApi>,
    t: &Token,
    c: ChatNumber,
    bodies: &[String],
) {
    for q in ["needle", "NEEDLE a", "ne", "y o", "e"] {
        for sort in SearchSort::ALL {
            let want = expected(bodies, q, sort);
            for limit in [1, 7, 50, 1000] {
                let request = SearchRequest::new(q).sorted(sort).limited(limit);
                let got = numbers(&all_pages(api, t, c, request).await);
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
}

/// A page in the middle: `after` continues past any number, matching or not.
async fn after_continues_past_any_number(
    api: &Arc<dyn ChatApi>,
    t: &Token,
    c: ChatNumber,
    bodies: &[String],
) {
    let page = api
        .search_messages(
            t,
            c,
            &SearchRequest {
                after: Some(MessageNumber::new(30).unwrap()),
                ..SearchRequest::new("needle").limited(3)
            },
        )
        .await
        .unwrap();
    let want: Vec<u32> = expected(bodies, "needle", SearchSort::Newest)
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
            t,
            c,
            &SearchRequest {
                after: Some(MessageNumber::new(50).unwrap()),
                ..SearchRequest::new("needle").sorted(SearchSort::Oldest)
            },
        )
        .await
        .unwrap();
    let want: Vec<u32> = expected(bodies, "needle", SearchSort::Oldest)
        .into_iter()
        .filter(|&n| n > 50)
        .collect();
    assert!(!want.is_empty());
    assert_eq!(numbers(&page.items), want);
    assert_eq!(page.next, None);
}

/// Found right after the write, and by the new text after an edit.
async fn found_right_after_the_write_and_by_the_new_text(
    api: &Arc<dyn ChatApi>,
    t: &Token,
    c: ChatNumber,
    settle: &dyn Settle,
) {
    let fresh = api.create_message(t, c, "a fresh pin").await.unwrap();
    settle.settle().await;
    for sort in SearchSort::ALL {
        let request = SearchRequest::new("fresh pin").sorted(sort);
        let page = api.search_messages(t, c, &request).await.unwrap();
        assert_eq!(numbers(&page.items), [fresh.number.get()], "{sort}");
    }
    api.update_message(t, c, fresh.number, "now a rusty nail")
        .await
        .unwrap();
    settle.settle().await;
    for sort in SearchSort::ALL {
        let page = api
            .search_messages(t, c, &SearchRequest::new("rusty nail").sorted(sort))
            .await
            .unwrap();
        assert_eq!(numbers(&page.items), [fresh.number.get()], "{sort}");
        let page = api
            .search_messages(t, c, &SearchRequest::new("fresh pin").sorted(sort))
            .await
            .unwrap();
        assert!(page.items.is_empty(), "{sort}: the old text is still found");
    }
}

/// `offset` skips in every order, as the same skip by `after` would in number order; `after`
/// cuts relevance's window below a number too.
async fn offset_and_after_skip_in_every_order(
    api: &Arc<dyn ChatApi>,
    t: &Token,
    c: ChatNumber,
    bodies: &[String],
) {
    // An offset in number order skips that many results, as the same skip by `after` would.
    for sort in [SearchSort::Newest, SearchSort::Oldest] {
        let want: Vec<u32> = expected(bodies, "needle", sort)
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
        let got = numbers(&all_pages(api, t, c, request.clone()).await);
        assert_eq!(got, want, "{sort} with offset 2");
        let past_the_end = SearchRequest {
            offset: u32::try_from(want.len() + 2).unwrap(),
            ..request
        };
        let page = api.search_messages(t, c, &past_the_end).await.unwrap();
        assert!(page.items.is_empty() && page.next.is_none(), "{sort}");
    }

    // `offset` skips in every order; `after` cuts relevance's window below a number too.
    for sort in [SearchSort::Newest, SearchSort::Oldest] {
        let page = api
            .search_messages(
                t,
                c,
                &SearchRequest {
                    offset: 2,
                    ..SearchRequest::new("needle").sorted(sort).limited(3)
                },
            )
            .await
            .unwrap();
        let want: Vec<u32> = expected(bodies, "needle", sort)
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
        api,
        t,
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
    let want: Vec<u32> = expected(bodies, "needle", SearchSort::Newest)
        .into_iter()
        .filter(|&n| n < 20)
        .collect();
    assert_eq!(below, want, "relevance below 20");
}

/// Out-of-range pages are refused, typed; the last offset of the window is accepted.
async fn out_of_range_pages_are_refused(api: &Arc<dyn ChatApi>, t: &Token, c: ChatNumber) {
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
                api.search_messages(t, c, &bad).await,
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
        .search_messages(t, c, &last)
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
