//! Search within a chat: the phases of the messages test that search (its statuses, and a
//! deleted message gone from it).

use reqwest::Method as M;
use serde_json::json;

use super::recorder::{case, Body, Recorder};
use super::SEARCH;

/// Search in chat 1 (`base`) after the messages test's creates and edits: both parameter
/// names, case-insensitive substrings, every order and its paging, and every refusal.
pub(super) async fn answers_every_documented_status(r: &mut Recorder, base: &str) {
    let hits = r
        .expect(
            M::GET,
            SEARCH,
            &format!("{base}/search?query=ONDERF"),
            Body::None,
            200,
        )
        .await;
    assert_eq!(hits[0]["number"], 1);
    let hits = r
        .expect(
            M::GET,
            SEARCH,
            &format!("{base}/search?q=marvel"),
            Body::None,
            200,
        )
        .await;
    assert_eq!(hits[0]["body"], "edited marvellous!");
    let search = format!("{base}/search");
    r.expect_all(vec![
        case(
            M::GET,
            SEARCH,
            format!("{search}?q=%20%20"),
            Body::None,
            422,
        ),
        case(M::GET, SEARCH, &search, Body::None, 422),
        // `offset` is taken in every order.
        case(
            M::GET,
            SEARCH,
            format!("{search}?q=abc&offset=1"),
            Body::None,
            200,
        ),
        case(
            M::GET,
            SEARCH,
            format!("{search}?q=abc&sort=oldest&offset=2"),
            Body::None,
            200,
        ),
    ])
    .await;
    // Orders and their paging: a bad order, an offset past the window, a bad number.
    for bad in [
        "q=abc&sort=best",
        "q=abc&sort=",
        "q=abc&sort=relevance&offset=10000",
        "q=abc&offset=10000",
        "q=abc&after=0",
        "q=abc&after=x",
    ] {
        let v = r
            .expect(M::GET, SEARCH, &format!("{search}?{bad}"), Body::None, 400)
            .await;
        assert_eq!(v["error"]["code"], "bad_request", "{bad}: {v}");
    }
}

/// The message deleted by the messages test (number 2, "edited marvellous!") is found no more.
pub(super) async fn a_deleted_message_is_not_found(r: &mut Recorder, base: &str) {
    let hits = r
        .expect(
            M::GET,
            SEARCH,
            &format!("{base}/search?q=marvel"),
            Body::None,
            200,
        )
        .await;
    assert_eq!(hits, json!([]));
}
