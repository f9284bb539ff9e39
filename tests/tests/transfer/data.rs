//! The test data every round trip carries, and helpers to compare deployments.

use chat_core::transfer::{ExportOptions, Record};
use chat_core::{ChatApi, ChatNumber, ChatService, MessageNumber, SearchRequest, Token};
use futures::TryStreamExt;

/// What was created, to check the target against.
pub struct Fixture {
    /// The application with chats and messages.
    pub busy: Token,
    /// An application without chats.
    pub empty: Token,
    /// Highest chat number ever handed out in `busy` (the deleted chat 4).
    pub last_chat: u32,
    /// Highest message number ever handed out in chat 1 of `busy` (a deleted one).
    pub last_message: u32,
    /// Queries, with the numbers search found for each in chat 1.
    pub searches: Vec<(String, Vec<u32>)>,
}

/// Unicode, a 16 KiB body, an edited and a deleted message (the highest), an empty chat, a
/// deleted chat (the highest), an empty application and a deleted one.
pub async fn populate(api: &dyn ChatApi) -> Fixture {
    let busy = api
        .create_application("support ☕ équipe")
        .await
        .unwrap()
        .token;
    let empty = api.create_application("empty").await.unwrap().token;
    let gone = api.create_application("gone").await.unwrap().token;
    api.create_chat(&gone).await.unwrap();
    api.delete_application(&gone).await.unwrap();
    let one = api.create_chat(&busy).await.unwrap().number;
    let two = api.create_chat(&busy).await.unwrap().number; // stays empty
    let three = api.create_chat(&busy).await.unwrap().number;
    let four = api.create_chat(&busy).await.unwrap().number;
    assert_eq!((one.get(), two.get(), four.get()), (1, 2, 4));
    let bodies = [
        "Wonderful weather".to_owned(),
        "naïve café — 東京 🚀 emoji".to_owned(),
        "x".repeat(16 * 1024),
        "line one\nline \"two\"\t\\ end".to_owned(),
        "🦀".repeat(4096), // 16 KiB of four-byte characters
        "to be edited".to_owned(),
        "to be deleted in the middle".to_owned(),
        "the last, deleted".to_owned(),
    ];
    for b in &bodies {
        api.create_message(&busy, one, b).await.unwrap();
    }
    let n = |k: u32| MessageNumber::new(k).unwrap();
    api.update_message(&busy, one, n(6), "edited: wonderful again")
        .await
        .unwrap();
    api.delete_message(&busy, one, n(7)).await.unwrap();
    api.delete_message(&busy, one, n(8)).await.unwrap();
    api.create_message(&busy, three, "in chat three")
        .await
        .unwrap();
    api.create_message(&busy, four, "in a deleted chat")
        .await
        .unwrap();
    api.delete_chat(&busy, four).await.unwrap();
    Fixture {
        busy,
        empty,
        last_chat: 4,
        last_message: 8,
        searches: Vec::new(),
    }
}

/// The numbers search finds in chat 1 for each query (sorted oldest first).
pub async fn search_all(
    api: &dyn ChatApi,
    token: &Token,
    queries: &[&str],
) -> Vec<(String, Vec<u32>)> {
    let mut out = Vec::new();
    for q in queries {
        let request = SearchRequest {
            sort: chat_core::SearchSort::Oldest,
            ..SearchRequest::new(*q)
        };
        let found = api
            .search_messages(token, ChatNumber::new(1).unwrap(), &request)
            .await
            .unwrap()
            .items
            .iter()
            .map(|m| m.number.get())
            .collect();
        out.push(((*q).to_owned(), found));
    }
    out
}

/// Queries whose results the round trips compare (the deleted message's text included).
pub const QUERIES: &[&str] = &[
    "onderf",
    "東京",
    "🦀🦀",
    "deleted",
    "EDITED",
    "line \"two\"",
    "xxxx",
];

/// The export of `service` as NDJSON lines.
pub async fn export_lines(service: &ChatService) -> Vec<String> {
    let records: Vec<Record> = service
        .export(&ExportOptions::default())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    records.iter().map(Record::to_line).collect()
}

/// The stream as bytes.
pub fn joined(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// Checks that the target continues numbering above everything the source ever handed out,
/// deleted numbers included, and that search finds what it found in the source.
pub async fn check_target(api: &dyn ChatApi, fixture: &Fixture) {
    let app = api.get_application(&fixture.busy).await.unwrap();
    assert_eq!(app.name, "support ☕ équipe");
    assert_eq!(app.chats_count, 3);
    let chat = api
        .get_chat(&fixture.busy, ChatNumber::new(1).unwrap())
        .await
        .unwrap();
    assert_eq!(chat.messages_count, 6);
    let found = search_all(api, &fixture.busy, QUERIES).await;
    assert_eq!(found, fixture.searches, "search in the target");
    let next_chat = api.create_chat(&fixture.busy).await.unwrap();
    assert_eq!(next_chat.number.get(), fixture.last_chat + 1);
    let next_message = api
        .create_message(&fixture.busy, ChatNumber::new(1).unwrap(), "after the move")
        .await
        .unwrap();
    assert_eq!(next_message.number.get(), fixture.last_message + 1);
    let first_in_empty = api.create_chat(&fixture.empty).await.unwrap();
    assert_eq!(first_in_empty.number.get(), 1);
}
