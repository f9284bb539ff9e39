//! Validation: bad input gets a typed error and changes nothing.

use std::sync::Arc;

use chat_core::{ChatApi, ChatNumber, Error, MessageNumber, SearchRequest, Token};

use super::{all_tokens, Settle};

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
