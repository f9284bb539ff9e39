//! What the page keeps and removes: a new application's token can be copied and the page says
//! how to find it again; a message, a chat and an application are deleted from the page after
//! a confirmation step, which can be cancelled.

use chat_core::{ChatApi, Token};
use serde_json::json;

use super::{chat, open_chat, Console, Session, ADMIN, TURN, UI};

/// What `GET` of `path` under the API answers.
async fn status_of(c: &Console, path: &str) -> u16 {
    reqwest::get(format!("{}/api/v1{path}", c.url))
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Asks for a delete with the control under `css`, then cancels: only the confirmation came
/// and went.
async fn ask_then_cancel(s: &Session, css: &str) {
    s.wait_for(&format!("{css} .delete"), UI)
        .await
        .click()
        .await;
    let question = s
        .wait_for(&format!("{css} .question"), UI)
        .await
        .text()
        .await;
    assert!(question.starts_with("Delete "), "{question}");
    s.find(&format!("{css} .confirm-no"))
        .await
        .unwrap()
        .click()
        .await;
    s.wait_until(
        "the confirmation went away",
        &format!(
            "return document.querySelector({}) === null;",
            json!(format!("{css} .confirm-yes"))
        ),
        UI,
    )
    .await;
}

/// Asks for a delete with the control under `css` and confirms it.
async fn ask_then_confirm(s: &Session, css: &str) {
    s.wait_for(&format!("{css} .delete"), UI)
        .await
        .click()
        .await;
    s.wait_for(&format!("{css} .confirm-yes"), UI)
        .await
        .click()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_applications_token_has_a_copy_button_and_says_how_to_find_it_again() {
    let _turn = TURN.lock().await;
    let c = Console::start();
    let s = c.desktop().await;
    s.wait_for("#app-name", UI).await.type_text("keeper").await;
    s.find("#create-app-form button")
        .await
        .unwrap()
        .click()
        .await;
    let token = s.wait_for("#app-token", UI).await.text().await;
    Token::parse(&token).unwrap();
    let note = s.find("#token-note").await.unwrap().text().await;
    for words in ["application's key", "admin token", "chatctl app list"] {
        assert!(note.contains(words), "{note}");
    }

    s.find("#copy-token").await.unwrap().click().await;
    let state = s
        .wait_until(
            "the copy button says what it did",
            "const b = document.getElementById('copy-token'); \
             return b.dataset.state ? [b.dataset.state, b.textContent, \
             String(window.getSelection())] : null;",
            UI,
        )
        .await;
    match state[0].as_str().unwrap() {
        "copied" => assert_eq!(state[1], "Copied"),
        // Where the clipboard is refused, the token is selected for Ctrl+C.
        "selected" => assert_eq!(state[2], token.as_str()),
        other => panic!("copy state {other:?}"),
    }
    s.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_a_chat_and_an_application_are_deleted_after_a_confirmation() {
    let _turn = TURN.lock().await;
    let c = Console::start();
    let api = c.api();
    let app = api.create_application("doomed").await.unwrap();
    let t = app.token.to_string();
    for _ in 0..2 {
        api.create_chat(&app.token).await.unwrap();
    }
    for body in ["one", "two", "three"] {
        api.create_message(&app.token, chat(1), body).await.unwrap();
    }
    let s = c.desktop().await;

    // A message: cancel keeps it; confirmed, it leaves the page and the API.
    open_chat(&s, &t, 1).await;
    let two = "#messages li[data-number=\"2\"]";
    ask_then_cancel(&s, two).await;
    assert_eq!(super::numbers(&s, "#messages li").await, [1, 2, 3]);
    assert_eq!(
        status_of(&c, &format!("/applications/{t}/chats/1/messages/2")).await,
        200
    );
    ask_then_confirm(&s, two).await;
    s.wait_until(
        "message 2 left the page",
        "return document.querySelectorAll('#messages li').length === 2 && \
         document.getElementById('chat-count').textContent === '2 messages';",
        UI,
    )
    .await;
    assert_eq!(super::numbers(&s, "#messages li").await, [1, 3]);
    assert_eq!(
        status_of(&c, &format!("/applications/{t}/chats/1/messages/2")).await,
        404
    );

    // A chat, from the application's list of chats.
    s.find("#crumbs li:nth-child(2) button")
        .await
        .unwrap()
        .click()
        .await;
    let row = "#chats tr[data-number=\"2\"]";
    ask_then_cancel(&s, row).await;
    assert_eq!(
        status_of(&c, &format!("/applications/{t}/chats/2")).await,
        200
    );
    ask_then_confirm(&s, row).await;
    s.wait_until(
        "chat 2 left the list",
        "return document.querySelector('#chats tr[data-number=\"2\"]') === null && \
         document.querySelector('#chats tr[data-number=\"1\"]') !== null;",
        UI,
    )
    .await;
    assert_eq!(
        status_of(&c, &format!("/applications/{t}/chats/2")).await,
        404
    );
    assert_eq!(
        status_of(&c, &format!("/applications/{t}/chats/1")).await,
        200
    );

    // The application, with the admin token the page keeps for the tab; the admin list then
    // no longer holds it.
    s.find("#home").await.unwrap().click().await;
    s.wait_for("#admin-token", UI).await.type_text(ADMIN).await;
    s.find("#admin-form button[type=submit]")
        .await
        .unwrap()
        .click()
        .await;
    s.wait_for("#apps-table:not([hidden]) #apps button", UI)
        .await
        .click()
        .await;
    s.wait_for("#app-token", UI).await;
    ask_then_cancel(&s, "#delete-app").await;
    assert_eq!(status_of(&c, &format!("/applications/{t}")).await, 200);
    ask_then_confirm(&s, "#delete-app").await;
    s.wait_until(
        "back on the applications, listed without it",
        &format!(
            "return document.body.dataset.view === 'home' && \
             !document.getElementById('apps-table').hidden && \
             ![...document.querySelectorAll('#apps code')].some(c => c.textContent === {});",
            json!(t)
        ),
        UI,
    )
    .await;
    assert_eq!(status_of(&c, &format!("/applications/{t}")).await, 404);
    s.quit().await;
}
