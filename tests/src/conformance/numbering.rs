//! Numbering: gapless numbers and exact counts under concurrency, and batches numbered in
//! their order.

use std::collections::BTreeMap;
use std::sync::Arc;

use chat_core::{ChatApi, ChatNumber, Error, MessageNumber, PageRequest, Token};

use super::{assert_gapless, concurrently, Settle};

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
