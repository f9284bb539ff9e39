//! Live scenarios, generic over [`ChatApi`]: one implementation follows, another (or the same)
//! writes, so every profile and transport — and a follower on one process with writers on
//! another — runs the same checks: every created message exactly once and in number order,
//! edits as `edited`, resumption with nothing lost or repeated.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chat_core::{ChatApi, ChatNumber, LiveEvent, LiveStream, MessageNumber, Token};
use futures::stream::{self, StreamExt};

/// The longest a scenario waits for an event before failing.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// Creates `total` messages in the chat with `writers` concurrent writers; returns each
/// acknowledged number's body.
pub async fn burst(
    api: Arc<dyn ChatApi>,
    token: &Token,
    chat: ChatNumber,
    total: u32,
    writers: usize,
    tag: &str,
) -> BTreeMap<u32, String> {
    stream::iter(0..total)
        .map(|i| {
            let (api, token, body) = (Arc::clone(&api), token.clone(), format!("{tag}-{i}"));
            async move {
                let m = api
                    .create_message(&token, chat, &body)
                    .await
                    .expect("create a message");
                (m.number.get(), m.body)
            }
        })
        .buffer_unordered(writers)
        .collect()
        .await
}

/// Reads events until `created` messages numbered up to `until` arrived and `edits` edited
/// events, failing after [`PATIENCE`] without an event.
pub async fn read_until(
    events: &mut LiveStream,
    until: u32,
    edits: usize,
    created: &mut Vec<chat_core::Message>,
    edited: &mut Vec<chat_core::Message>,
) {
    while created.last().map_or(0, |m| m.number.get()) < until || edited.len() < edits {
        let next = tokio::time::timeout(PATIENCE, events.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no event for {PATIENCE:?}: {} created (last {:?}), {} edited",
                    created.len(),
                    created.last().map(|m| m.number),
                    edited.len()
                )
            })
            .expect("the stream ended early")
            .expect("the stream failed");
        match next {
            LiveEvent::Created(m) => created.push(m),
            LiveEvent::Edited(m) => edited.push(m),
            other => panic!("unexpected event {other:?}"),
        }
    }
}

/// Asserts that `created` is exactly messages 1..=N of `acknowledged`, in order.
pub fn assert_exactly_once(created: &[chat_core::Message], acknowledged: &BTreeMap<u32, String>) {
    let numbers: Vec<u32> = created.iter().map(|m| m.number.get()).collect();
    let expected: Vec<u32> = (1..=acknowledged.len() as u32).collect();
    if numbers != expected {
        let first_bad = numbers
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(numbers.len().min(expected.len()));
        panic!(
            "received {} messages, expected {}; first difference at position {first_bad}: \
             got {:?}, expected {:?}",
            numbers.len(),
            expected.len(),
            numbers.get(first_bad),
            expected.get(first_bad)
        );
    }
    for m in created {
        assert_eq!(
            Some(&m.body),
            acknowledged.get(&m.number.get()),
            "body of message {}",
            m.number
        );
    }
}

/// A follower (on `follower`) of a new chat receives every message of a concurrent burst on
/// `writer` exactly once, in number order, then two edits as `edited`.
pub async fn burst_arrives_once_in_order(
    follower: Arc<dyn ChatApi>,
    writer: Arc<dyn ChatApi>,
    total: u32,
    writers: usize,
) {
    let app = writer.create_application("live").await.unwrap();
    let chat = writer.create_chat(&app.token).await.unwrap().number;
    let mut events = follower.follow(&app.token, chat, None).await.unwrap();
    let writing = tokio::spawn({
        let (writer, token) = (Arc::clone(&writer), app.token.clone());
        async move { burst(writer, &token, chat, total, writers, "b").await }
    });
    let (mut created, mut edited) = (Vec::new(), Vec::new());
    read_until(&mut events, total, 0, &mut created, &mut edited).await;
    let acknowledged = writing.await.unwrap();
    assert_exactly_once(&created, &acknowledged);
    let first = MessageNumber::new(1).unwrap();
    let last = MessageNumber::new(total).unwrap();
    writer
        .update_message(&app.token, chat, first, "first, edited")
        .await
        .unwrap();
    writer
        .update_message(&app.token, chat, last, "last, edited")
        .await
        .unwrap();
    read_until(&mut events, total, 2, &mut created, &mut edited).await;
    assert_eq!(created.len(), total as usize, "a creation after the burst");
    let edits: Vec<(u32, &str)> = edited
        .iter()
        .map(|m| (m.number.get(), m.body.as_str()))
        .collect();
    assert_eq!(edits, [(1, "first, edited"), (total, "last, edited")]);
    assert!(edited.iter().all(|m| m.updated_at >= m.created_at));
}

/// A follower dropped in the middle of a burst follows again after the last number it
/// received: the two parts together are exactly 1..=N.
pub async fn resume_after_a_dropped_stream(
    follower: Arc<dyn ChatApi>,
    writer: Arc<dyn ChatApi>,
    total: u32,
) {
    let app = writer.create_application("live").await.unwrap();
    let chat = writer.create_chat(&app.token).await.unwrap().number;
    let mut events = follower.follow(&app.token, chat, None).await.unwrap();
    let writing = tokio::spawn({
        let (writer, token) = (Arc::clone(&writer), app.token.clone());
        async move { burst(writer, &token, chat, total, 8, "r").await }
    });
    let (mut created, mut edited) = (Vec::new(), Vec::new());
    read_until(&mut events, total / 3, 0, &mut created, &mut edited).await;
    drop(events);
    let resume = created.last().map(|m| m.number);
    let mut events = follower.follow(&app.token, chat, resume).await.unwrap();
    read_until(&mut events, total, 0, &mut created, &mut edited).await;
    assert_exactly_once(&created, &writing.await.unwrap());
}

/// A follower that stops reading while more than its chat's channel holds is cut off with
/// `Unavailable` (backend `live`); following again after its last number completes 1..=N.
pub async fn a_slow_follower_is_cut_off_and_resumes(api: Arc<dyn ChatApi>, total: u32) {
    let app = api.create_application("live").await.unwrap();
    let chat = api.create_chat(&app.token).await.unwrap().number;
    let mut events = api.follow(&app.token, chat, None).await.unwrap();
    let (mut created, mut edited) = (Vec::new(), Vec::new());
    let acknowledged = burst(Arc::clone(&api), &app.token, chat, 10, 1, "s").await;
    read_until(&mut events, 10, 0, &mut created, &mut edited).await;
    // Not reading while a burst larger than the channel goes by.
    let mut acknowledged_rest = burst(Arc::clone(&api), &app.token, chat, total, 8, "t").await;
    let mut cut_off = false;
    while let Some(item) = events.next().await {
        match item {
            Ok(LiveEvent::Created(m)) => created.push(m),
            Ok(_) => {}
            Err(chat_core::Error::Unavailable { backend, .. }) => {
                assert_eq!(backend, "live");
                cut_off = true;
                break;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert!(cut_off, "the slow follower was not cut off");
    let resume = created.last().map(|m| m.number);
    let mut events = api.follow(&app.token, chat, resume).await.unwrap();
    let mut all = acknowledged;
    all.append(&mut acknowledged_rest);
    read_until(&mut events, total + 10, 0, &mut created, &mut edited).await;
    assert_exactly_once(&created, &all);
}

/// Resident memory of a process in KiB (Linux), from `/proc/PID/status`.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A metric's value in a `/metrics` page (0 when absent).
pub async fn metric(base_url: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{base_url}/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Following an unknown application or chat fails at once with `NotFound`.
pub async fn unknown_chats_are_not_found(api: Arc<dyn ChatApi>) {
    let app = api.create_application("live").await.unwrap();
    let nine = ChatNumber::new(9).unwrap();
    let err = api.follow(&app.token, nine, None).await.err();
    assert!(
        matches!(err, Some(chat_core::Error::NotFound(_))),
        "unknown chat: {err:?}"
    );
    let err = api.follow(&Token::generate(), nine, None).await.err();
    assert!(
        matches!(err, Some(chat_core::Error::NotFound(_))),
        "unknown application: {err:?}"
    );
}

/// The next event, failing after [`PATIENCE`] or when the stream ends or fails.
async fn next_event(events: &mut LiveStream) -> LiveEvent {
    tokio::time::timeout(PATIENCE, events.next())
        .await
        .unwrap_or_else(|_| panic!("no event for {PATIENCE:?}"))
        .expect("the stream ended early")
        .expect("the stream failed")
}

/// A follower receives `deleted` with the number of a message it received (replayed or
/// live), in the order of the changes, and no `id`-bearing event for it; a follower that
/// starts after a delete never sees the deleted message in its replay.
pub async fn deletions_reach_followers(follower: Arc<dyn ChatApi>, writer: Arc<dyn ChatApi>) {
    let app = writer.create_application("live deletes").await.unwrap();
    let t = app.token.clone();
    let chat = writer.create_chat(&t).await.unwrap().number;
    for i in 1..=3 {
        writer
            .create_message(&t, chat, &format!("d{i}"))
            .await
            .unwrap();
    }
    let n = |n: u32| MessageNumber::new(n).unwrap();
    let mut events = follower.follow(&t, chat, None).await.unwrap();
    let mut replayed = Vec::new();
    for _ in 0..3 {
        replayed.push(next_event(&mut events).await);
    }
    let replayed: Vec<(&str, u32)> = replayed
        .iter()
        .map(|e| (e.kind(), e.number().get()))
        .collect();
    assert_eq!(replayed, [("created", 1), ("created", 2), ("created", 3)]);

    // A replayed message, then a live one, are deleted; each change reaches the follower
    // before the next is made (changes made together may be seen together: a message created
    // and deleted between two looks of a watcher is never seen at all).
    let mut live = Vec::new();
    writer.delete_message(&t, chat, n(2)).await.unwrap();
    live.push(next_event(&mut events).await);
    writer
        .update_message(&t, chat, n(1), "d1 edited")
        .await
        .unwrap();
    live.push(next_event(&mut events).await);
    writer.create_message(&t, chat, "d4").await.unwrap();
    live.push(next_event(&mut events).await);
    writer.delete_message(&t, chat, n(4)).await.unwrap();
    live.push(next_event(&mut events).await);
    writer.create_message(&t, chat, "d5").await.unwrap();
    live.push(next_event(&mut events).await);
    let kinds: Vec<(&str, u32)> = live.iter().map(|e| (e.kind(), e.number().get())).collect();
    assert_eq!(
        kinds,
        [
            ("deleted", 2),
            ("edited", 1),
            ("created", 4),
            ("deleted", 4),
            ("created", 5)
        ]
    );
    assert!(live
        .iter()
        .all(|e| e.resume_id().is_none() || e.kind() == "created"));
    assert_eq!(
        live[0],
        LiveEvent::Deleted { number: n(2) },
        "a deletion carries only its number"
    );

    // A new follower replays what is left: 1, 3, 5.
    let mut fresh = follower.follow(&t, chat, None).await.unwrap();
    let mut replay = Vec::new();
    for _ in 0..3 {
        replay.push(next_event(&mut fresh).await.number().get());
    }
    assert_eq!(replay, [1, 3, 5]);
}

/// Deleting a followed chat ends its followers' streams (over HTTP: the reconnection finds the
/// chat gone and reports `NotFound`); with `application_too`, so does deleting the application
/// of a followed chat.
pub async fn a_deleted_chat_ends_its_followers(
    follower: Arc<dyn ChatApi>,
    writer: Arc<dyn ChatApi>,
    application_too: bool,
) {
    async fn ends(events: &mut LiveStream) {
        loop {
            match tokio::time::timeout(PATIENCE, events.next()).await {
                Err(_) => panic!("the stream of a deleted chat went on for {PATIENCE:?}"),
                Ok(None) | Ok(Some(Err(chat_core::Error::NotFound(_)))) => return,
                Ok(Some(Ok(LiveEvent::Created(_)))) => {}
                Ok(other) => panic!("unexpected {other:?}"),
            }
        }
    }
    let t = writer.create_application("ended").await.unwrap().token;
    let one = writer.create_chat(&t).await.unwrap().number;
    let two = writer.create_chat(&t).await.unwrap().number;
    writer.create_message(&t, one, "before").await.unwrap();
    let mut events = follower.follow(&t, one, None).await.unwrap();
    let mut kept = follower.follow(&t, two, None).await.unwrap();
    writer.delete_chat(&t, one).await.unwrap();
    ends(&mut events).await;
    // The other chat's followers go on.
    writer.create_message(&t, two, "after").await.unwrap();
    let next = tokio::time::timeout(PATIENCE, kept.next()).await.unwrap();
    assert!(matches!(next, Some(Ok(LiveEvent::Created(_)))), "{next:?}");
    if application_too {
        writer.delete_application(&t).await.unwrap();
        ends(&mut kept).await;
    }
}
