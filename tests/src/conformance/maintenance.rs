//! Maintenance jobs: recount and reindex report their work.

use std::sync::Arc;

use chat_core::{ChatApi, ChatNumber, NoProgress, Token};

use super::{hits, Settle};

/// Recount on consistent data corrects nothing and covers every chat; reindex keeps search whole.
pub async fn recount_and_reindex_report_their_work(api: Arc<dyn ChatApi>, settle: &dyn Settle) {
    let app = api.create_application("jobs").await.unwrap();
    let t = app.token.clone();
    for _ in 0..3 {
        let c = api.create_chat(&t).await.unwrap().number;
        for i in 0..5 {
            api.create_message(&t, c, &format!("job message {i}"))
                .await
                .unwrap();
        }
    }
    settle.settle().await;
    let summary = api.recount(Some(&t), NoProgress::arc()).await.unwrap();
    assert_eq!(
        (summary.applications, summary.chats, summary.corrected),
        (1, 3, 0)
    );
    assert!(summary.corrections.is_empty());
    let summary = api.reindex(Some(&t), NoProgress::arc()).await.unwrap();
    assert_eq!(
        (summary.applications, summary.chats, summary.messages),
        (1, 3, 15)
    );
    let c = ChatNumber::new(2).unwrap();
    assert_eq!(hits(&api, &t, c, "message 3").await, ["job message 3"]);
    assert!(api
        .recount(Some(&Token::generate()), NoProgress::arc())
        .await
        .is_err());
    let all = api.reindex(None, NoProgress::arc()).await.unwrap();
    assert!(all.messages >= 15 && all.applications >= 1);
}
