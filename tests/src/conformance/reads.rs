//! Reads: read-your-writes, representations and updates, ordered and paged lists, and
//! `NotFound` for what is missing.

use std::sync::Arc;

use chat_core::{
    ChatApi, ChatNumber, Error, MessageNumber, Missing, PageRequest, SearchRequest, Token,
};

use super::{concurrently, no_ids, Settle};

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
