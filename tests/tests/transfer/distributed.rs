//! Round trips through the distributed profile (MariaDB + Redis + OpenSearch).

use chat_core::transfer::{read_records, ExportOptions, RestoreOptions};
use chat_core::NoProgress;
use chat_tests::Searching;
use chat_tests::{Embedded, Harness};

use super::data::{check_target, export_lines, joined, populate, search_all, QUERIES};

fn stream(lines: &[String]) -> chat_core::transfer::RecordStream {
    read_records(std::io::Cursor::new(joined(lines).into_bytes()))
}

#[tokio::test]
async fn an_embedded_deployment_moves_to_the_distributed_profile_and_back() {
    let source = Embedded::start().await;
    let mut fixture = populate(&source.service).await;
    fixture.searches = search_all(&source.service, &fixture.busy, QUERIES).await;
    let first = export_lines(&source.service).await;

    let target = Searching::start_with(Default::default()).await;
    let summary = target
        .0
        .service
        .restore(
            stream(&first),
            &RestoreOptions::default(),
            NoProgress::arc(),
        )
        .await
        .unwrap();
    assert_eq!(summary.messages, 7);
    assert_eq!(
        target.indexed().await,
        7,
        "every message indexed at the end"
    );
    let second = export_lines(&target.0.service).await;
    assert!(
        second[0].contains("\"profile\":\"distributed\""),
        "{}",
        second[0]
    );
    assert_eq!(first[1..], second[1..], "identical after the header");

    // And back to a fresh embedded deployment.
    let back = Embedded::start().await;
    back.service
        .restore(
            stream(&second),
            &RestoreOptions::default(),
            NoProgress::arc(),
        )
        .await
        .unwrap();
    assert_eq!(export_lines(&back.service).await[1..], first[1..]);

    check_target(&target.0.service, &fixture).await;
    check_target(&back.service, &fixture).await;
    // A token present in the target is refused, and nothing changes.
    let before = {
        target.0.settle().await;
        export_lines(&target.0.service).await
    };
    let err = target
        .0
        .service
        .restore(
            stream(&first),
            &RestoreOptions { merge: true },
            NoProgress::arc(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict", "{err}");
    assert_eq!(export_lines(&target.0.service).await[1..], before[1..]);
    // The distributed profile has no file to copy: backup says what to use instead.
    let err = target
        .0
        .service
        .backup(std::path::Path::new("x.db"), NoProgress::arc())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("mysqldump"), "{err}");
    source.stop().await;
    back.stop().await;
    target.0.stop().await;
}

#[tokio::test]
async fn a_distributed_deployment_exports_after_draining_its_queue_and_moves_to_embedded() {
    let source = Searching::with_worker().await;
    let mut fixture = populate(&source.0.service).await;
    // The export waits for the worker to persist every acknowledged write, without settling.
    let first = export_lines(&source.0.service).await;
    assert_eq!(first.len(), 1 + 2 + 3 + 7 + 1, "{first:#?}");
    source.0.settle().await;
    fixture.searches = search_all(&source.0.service, &fixture.busy, QUERIES).await;
    assert_eq!(export_lines(&source.0.service).await[1..], first[1..]);

    let target = Embedded::start().await;
    target
        .service
        .restore(
            stream(&first),
            &RestoreOptions::default(),
            NoProgress::arc(),
        )
        .await
        .unwrap();
    assert_eq!(export_lines(&target.service).await[1..], first[1..]);
    check_target(&target.service, &fixture).await;

    // One application alone.
    let one: Vec<String> = {
        use futures::TryStreamExt;
        source
            .0
            .service
            .export(&ExportOptions {
                scope: Some(fixture.empty.clone()),
                ..Default::default()
            })
            .await
            .unwrap()
            .map_ok(|r| r.to_line())
            .try_collect()
            .await
            .unwrap()
    };
    assert_eq!(one.len(), 3);
    target.stop().await;
    source.0.stop().await;
}
