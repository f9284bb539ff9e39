//! Deletes: of a message, a chat and an application, each gone at once with what it holds.

use std::sync::Arc;

use chat_core::{
    ChatApi, ChatNumber, Error, MessageNumber, Missing, NoProgress, PageRequest, SearchRequest,
    SearchSort,
};

use super::{all_tokens, found, message_numbers, Settle};

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
