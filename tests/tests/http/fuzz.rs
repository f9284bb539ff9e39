//! A property-based fuzzer over the served OpenAPI document (tests/fuzz/schemathesis.sh), in
//! the suite: no 5xx, every answer fits the document, no schema-valid request refused.

use std::path::PathBuf;

use chat_core::ChatApi;
use chat_tests::{Harness, Http};
use serde_json::{json, Value};

const SEED: &str = "14";
const EXAMPLES: &str = "40";

/// Runs the fuzzer over `schema`; panics with its report when it finds anything.
async fn fuzz(server: &Http, schema: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    // TARGET/PROFILE/deps/this-test: the virtualenv lives in TARGET, reused across runs.
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_owned();
    let out = tokio::process::Command::new(root.join("tests/fuzz/schemathesis.sh"))
        .args([
            target.join("schemathesis-venv").to_str().unwrap(),
            schema,
            &server.url,
            &server.admin_token,
            SEED,
            EXAMPLES,
        ])
        .output()
        .await
        .expect("run tests/fuzz/schemathesis.sh (needs python3 with venv and pip)");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the fuzzer found problems with {schema}:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains(" passed"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_get_no_5xx_and_answers_that_fit_the_document() {
    let server = Http::start().await;
    // The document as served: generated tokens name nothing, so this covers parsing and
    // validation of every parameter and body.
    fuzz(&server, &format!("{}/openapi.json", server.url)).await;

    // The same document with the path's token and chat number pinned to existing ones, so
    // generated requests reach real applications, chats and messages.
    let api = server.client();
    let app = api.create_application("fuzzed").await.unwrap();
    for _ in 0..2 {
        let chat = api.create_chat(&app.token).await.unwrap();
        for i in 0..3 {
            api.create_message(&app.token, chat.number, &format!("message {i}"))
                .await
                .unwrap();
        }
    }
    let mut doc: Value = reqwest::get(format!("{}/openapi.json", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut pinned = 0;
    for item in doc["paths"].as_object_mut().unwrap().values_mut() {
        // Without the deletes: a generated DELETE of the pinned application or chats would
        // leave every later request of the run a 404 (still accepted, but testing nothing).
        // The first run covers them: its DELETEs of generated tokens get their 404s (the
        // admin token is sent, so an application's DELETE gets past its 401/403).
        item.as_object_mut().unwrap().remove("delete");
        for op in item.as_object_mut().unwrap().values_mut() {
            let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
                continue;
            };
            for p in params.iter_mut().filter(|p| p["in"] == "path") {
                match p["name"].as_str() {
                    Some("token") => p["schema"] = json!({"type": "string", "enum": [app.token]}),
                    Some("number") => p["schema"] = json!({"type": "integer", "enum": [1, 2]}),
                    _ => continue,
                }
                pinned += 1;
            }
        }
    }
    assert!(pinned > 10, "only {pinned} path parameters pinned");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi-pinned.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    fuzz(&server, file.to_str().unwrap()).await;
    server.stop().await;
}
