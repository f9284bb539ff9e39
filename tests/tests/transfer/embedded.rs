//! Embedded to embedded, in the library and through chatctl and the server.

use chat_core::transfer::{read_records, RestoreOptions};
use chat_core::NoProgress;
use chat_tests::{Embedded, Harness, Http};

use super::data::{check_target, export_lines, joined, populate, search_all, QUERIES};
use crate::harness::Ctl;

#[tokio::test]
async fn an_embedded_export_restores_into_a_fresh_embedded_target_identically() {
    let source = Embedded::start().await;
    let mut fixture = populate(&source.service).await;
    fixture.searches = search_all(&source.service, &fixture.busy, QUERIES).await;
    assert_eq!(
        fixture.searches[3].1,
        Vec::<u32>::new(),
        "deleted messages are not found"
    );
    let first = export_lines(&source.service).await;
    assert!(first[0].starts_with("{\"type\":\"header\",\"format\":\"chat-export\",\"version\":1,\"profile\":\"embedded\""), "{}", first[0]);
    // header, 2 applications, 3 chats, 7 messages, end
    assert_eq!(first.len(), 1 + 2 + 3 + 7 + 1, "{first:#?}");

    let target = Embedded::start().await;
    let bytes = joined(&first).into_bytes();
    let summary = target
        .service
        .restore(
            read_records(std::io::Cursor::new(bytes)),
            &RestoreOptions::default(),
            NoProgress::arc(),
        )
        .await
        .unwrap();
    assert_eq!(
        (summary.applications, summary.chats, summary.messages),
        (2, 3, 7)
    );
    let second = export_lines(&target.service).await;
    assert_eq!(first[1..], second[1..], "identical after the header");
    check_target(&target.service, &fixture).await;
    source.stop().await;
    target.stop().await;
}

#[tokio::test]
async fn the_server_exports_the_same_stream_as_the_library() {
    let http = Http::start().await;
    let fixture = populate(&http.service).await;
    let direct = export_lines(&http.service).await;
    use futures::TryStreamExt;
    let over_http: Vec<String> = http
        .client()
        .export(None)
        .await
        .unwrap()
        .map_ok(|r| r.to_line())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(direct[1..], over_http[1..]);
    let one: Vec<String> = http
        .client()
        .export(Some(&fixture.empty))
        .await
        .unwrap()
        .map_ok(|r| r.to_line())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(one.len(), 3, "{one:#?}");
    assert!(one[1].contains(fixture.empty.as_str()));
    // Without the admin token: refused.
    let anonymous = chat_core::HttpClient::new(&http.url).unwrap();
    let err = match anonymous.export(None).await {
        Err(e) => e,
        Ok(_) => panic!("exported without the admin token"),
    };
    assert_eq!(err.code(), "forbidden", "{err}");
    http.stop().await;
}

#[test]
fn chatctl_moves_a_deployment_with_a_pipe_and_the_checksums_agree() {
    let from = Ctl::direct();
    let token = from.new_app("moved");
    from.ok(&["chat", "create", &token]);
    from.ok(&["message", "send", &token, "1", "héllo"]);
    from.ok(&["message", "send", &token, "1", "second"]);
    from.ok(&["message", "delete", &token, "1", "2", "--yes"]);
    let stream = from.ok(&["export"]);
    assert_eq!(stream.lines().count(), 5, "{stream}");
    let to = Ctl::direct();
    let restored = to.run_with(&["restore", "-"], Some(&stream));
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    let a = from.ok(&["export", "--checksum-only"]);
    let b = to.ok(&["export", "--checksum-only"]);
    assert!(a.starts_with("sha256:") && a.trim().len() == 7 + 64, "{a}");
    assert_eq!(a, b);
    // Numbers continue above the deleted message 2.
    let next = to.json(&["message", "send", &token, "1", "third"]);
    assert_eq!(next["number"], 3);
    // Over HTTP, the same content.
    let server = harness::Server::start(to.dir.path());
    let over_http = to
        .bare()
        .args([
            "--server",
            &server.url,
            "--admin-token",
            harness::ADMIN_TOKEN,
        ])
        .args(["export", "--checksum-only"])
        .output()
        .unwrap();
    assert!(
        over_http.status.success(),
        "{}",
        String::from_utf8_lossy(&over_http.stderr)
    );
    let c = String::from_utf8(over_http.stdout).unwrap();
    assert_ne!(c, a, "the target has one message more now");
    assert_eq!(c, to.ok(&["export", "--checksum-only"]));
    // A file export is the same stream as stdout's, after the header.
    to.ok(&["export", "all.ndjson"]);
    let file = std::fs::read_to_string(to.dir.path().join("all.ndjson")).unwrap();
    let piped = to.ok(&["export"]);
    assert_eq!(
        file.lines().skip(1).collect::<Vec<_>>(),
        piped.lines().skip(1).collect::<Vec<_>>()
    );
}

use crate::harness;
