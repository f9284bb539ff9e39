//! The embedded profile: the conformance suite on `ChatService` over SQLite, plus what only a
//! file on disk can show (several processes, a killed process, corrupted counts).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_tests::Embedded;

chat_tests::conformance_suite!(Embedded);

mod files {
    use std::collections::{BTreeMap, HashSet};
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    use chat_core::{
        ChatApi, ChatNumber, ChatService, Config, MessageNumber, NoProgress, PageRequest, Token,
    };
    use chat_tests::Embedded;

    async fn open(dir: &std::path::Path) -> ChatService {
        ChatService::open(&Config::with_database_url(Embedded::url(dir)))
            .await
            .unwrap()
    }

    fn writer(
        dir: &std::path::Path,
        token: &Token,
        count: usize,
        prefix: &str,
    ) -> std::process::Child {
        writer_indexing(dir, token, count, prefix, true)
    }

    /// A writer process; with `indexing` off it leaves the search backlog to other processes.
    fn writer_indexing(
        dir: &std::path::Path,
        token: &Token,
        count: usize,
        prefix: &str,
        indexing: bool,
    ) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_chat-writer"))
            .env("CHAT_WORKER", if indexing { "1" } else { "0" })
            .args([
                &Embedded::url(dir),
                token.as_str(),
                "1",
                &count.to_string(),
                prefix,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn chat-writer")
    }

    fn acknowledged(
        child: &mut std::process::Child,
        stop_after: Option<usize>,
    ) -> BTreeMap<u32, String> {
        let out = child.stdout.take().unwrap();
        let mut acks = BTreeMap::new();
        for line in BufReader::new(out).lines() {
            let line = line.unwrap();
            let (n, body) = line.split_once(' ').unwrap();
            assert!(
                acks.insert(n.parse().unwrap(), body.to_owned()).is_none(),
                "number {n} twice"
            );
            if stop_after.is_some_and(|s| acks.len() >= s) {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
        acks
    }

    /// Two services on one file each keep their own id caches: what one deletes, the other
    /// (whose cache still holds the ids) reports as not found at once, and ids are never
    /// handed out again, so a stale cached id can never reach another application's rows.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delete_by_another_process_is_seen_through_its_cached_ids() {
        use chat_core::{Error, Missing};
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (open(dir.path()).await, open(dir.path()).await);
        let t = a.create_application("cached").await.unwrap().token;
        let one = ChatNumber::new(1).unwrap();
        let two = ChatNumber::new(2).unwrap();
        let m1 = MessageNumber::new(1).unwrap();
        a.create_chat(&t).await.unwrap();
        a.create_chat(&t).await.unwrap();
        a.create_message(&t, two, "cached body").await.unwrap();
        // `b` caches the application's and both chats' ids.
        b.get_chat(&t, one).await.unwrap();
        b.get_message(&t, two, m1).await.unwrap();

        // The highest chat id is deleted by `a`; `b` still has it cached.
        a.delete_chat(&t, two).await.unwrap();
        let gone = Error::NotFound(Missing::Chat {
            token: t.clone(),
            chat: two,
        });
        assert_eq!(b.get_chat(&t, two).await, Err(gone.clone()));
        assert_eq!(
            b.get_message(&t, two, m1).await.map(drop),
            Err(gone.clone())
        );
        let first = PageRequest::first(10).unwrap();
        assert_eq!(
            b.list_messages(&t, two, first).await.map(drop),
            Err(gone.clone())
        );
        assert_eq!(
            b.create_message(&t, two, "late").await.map(drop),
            Err(gone.clone())
        );
        // A new chat elsewhere does not take the deleted chat's id.
        let other = a.create_application("other").await.unwrap().token;
        a.create_chat(&other).await.unwrap();
        a.create_message(&other, one, "someone else's")
            .await
            .unwrap();
        assert_eq!(b.get_message(&t, two, m1).await.map(drop), Err(gone));

        a.delete_application(&t).await.unwrap();
        let gone = Error::NotFound(Missing::Application { token: t.clone() });
        assert_eq!(b.get_chat(&t, one).await.map(drop), Err(gone.clone()));
        let first = PageRequest::first(10).unwrap();
        assert_eq!(b.list_chats(&t, first).await.map(drop), Err(gone.clone()));
        assert_eq!(b.create_chat(&t).await.map(drop), Err(gone.clone()));
        assert_eq!(b.delete_application(&t).await, Err(gone));
        // A new application does not take the deleted one's id either.
        let third = a.create_application("third").await.unwrap().token;
        a.create_chat(&third).await.unwrap();
        assert!(b.get_chat(&t, one).await.is_err());
        assert_eq!(b.get_chat(&third, one).await.unwrap().number, one);
        a.close().await;
        b.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_processes_writing_one_file_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let service = open(dir.path()).await;
        let app = service.create_application("shared file").await.unwrap();
        service.create_chat(&app.token).await.unwrap();
        let mut a = writer(dir.path(), &app.token, 1500, "a");
        let mut b = writer(dir.path(), &app.token, 1500, "b");
        // In-process writes to the same chat at the same time, a third writer.
        let mut mine = Vec::new();
        for i in 0..300 {
            mine.push(
                service
                    .create_message(&app.token, ChatNumber::new(1).unwrap(), &format!("c-{i}"))
                    .await
                    .unwrap()
                    .number
                    .get(),
            );
        }
        let acks_a = tokio::task::spawn_blocking(move || {
            let r = acknowledged(&mut a, None);
            assert!(a.wait().unwrap().success());
            r
        });
        let acks_b = tokio::task::spawn_blocking(move || {
            let r = acknowledged(&mut b, None);
            assert!(b.wait().unwrap().success());
            r
        });
        let (acks_a, acks_b) = (acks_a.await.unwrap(), acks_b.await.unwrap());
        assert_eq!((acks_a.len(), acks_b.len()), (1500, 1500));
        let mut all: Vec<u32> = acks_a
            .keys()
            .chain(acks_b.keys())
            .copied()
            .chain(mine)
            .collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (1..=3300).collect::<Vec<_>>(),
            "numbers collide or have gaps"
        );
        let chat = service
            .get_chat(&app.token, ChatNumber::new(1).unwrap())
            .await
            .unwrap();
        assert_eq!(chat.messages_count, 3300);
        for (n, body) in acks_a.iter().chain(&acks_b).take(200) {
            let m = service
                .get_message(&app.token, chat.number, MessageNumber::new(*n).unwrap())
                .await
                .unwrap();
            assert_eq!(&m.body, body);
        }
        service.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_killed_process_loses_no_acknowledged_message() {
        let dir = tempfile::tempdir().unwrap();
        let service = open(dir.path()).await;
        let app = service.create_application("crash").await.unwrap();
        service.create_chat(&app.token).await.unwrap();
        service.close().await;

        let mut child = writer(dir.path(), &app.token, 1_000_000, "k");
        let acks = tokio::task::spawn_blocking(move || {
            let acks = acknowledged(&mut child, Some(2000));
            let _ = child.wait();
            acks
        })
        .await
        .unwrap();
        assert!(acks.len() >= 2000);

        let service = open(dir.path()).await;
        let chat = ChatNumber::new(1).unwrap();
        let first = PageRequest::first(1000).unwrap();
        let (messages, _) =
            chat_core::collect_pages(first, true, |p| service.list_messages(&app.token, chat, p))
                .await
                .unwrap();
        let stored: BTreeMap<u32, String> = messages
            .into_iter()
            .map(|m| (m.number.get(), m.body))
            .collect();
        for (n, body) in &acks {
            assert_eq!(stored.get(n), Some(body), "acknowledged message {n} lost");
        }
        // What was committed is gapless, and the count matches it.
        let numbers: Vec<u32> = stored.keys().copied().collect();
        assert_eq!(numbers, (1..=numbers.len() as u32).collect::<Vec<_>>());
        assert_eq!(
            service
                .get_chat(&app.token, chat)
                .await
                .unwrap()
                .messages_count,
            numbers.len() as u64
        );
        // And numbering continues after the crash without reuse.
        let next = service
            .create_message(&app.token, chat, "after the crash")
            .await
            .unwrap();
        assert_eq!(next.number.get() as usize, numbers.len() + 1);
        service.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recount_fixes_corrupted_counts_and_says_what_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let service = open(dir.path()).await;
        let app = service.create_application("recount").await.unwrap();
        let other = service.create_application("untouched").await.unwrap();
        for _ in 0..3 {
            let c = service.create_chat(&app.token).await.unwrap().number;
            for _ in 0..4 {
                service
                    .create_message(&app.token, c, "hello")
                    .await
                    .unwrap();
            }
        }
        service.create_chat(&other.token).await.unwrap();
        // Corrupt the counts behind the service's back.
        let db = sqlx::SqlitePool::connect(&Embedded::url(dir.path()))
            .await
            .unwrap();
        sqlx::query("UPDATE applications SET chats_count = 42 WHERE token = ?")
            .bind(app.token.as_str())
            .execute(&db)
            .await
            .unwrap();
        sqlx::query("UPDATE chats SET messages_count = 0 WHERE number = 2")
            .execute(&db)
            .await
            .unwrap();
        sqlx::query(
            "UPDATE chats SET messages_count = 7, last_message_number = 1 WHERE number = 3",
        )
        .execute(&db)
        .await
        .unwrap();
        db.close().await;
        assert_eq!(
            service
                .get_application(&app.token)
                .await
                .unwrap()
                .chats_count,
            42
        );

        let summary = service.recount(None, NoProgress::arc()).await.unwrap();
        assert_eq!((summary.applications, summary.chats), (2, 4));
        let changed: HashSet<(Option<u32>, String, u64, u64)> = summary
            .corrections
            .iter()
            .filter(|c| c.application == app.token)
            .map(|c| (c.chat.map(ChatNumber::get), c.field.clone(), c.was, c.now))
            .collect();
        assert_eq!(summary.corrected, 3);
        assert!(
            changed.contains(&(None, "chats_count".into(), 42, 3)),
            "{changed:?}"
        );
        assert!(
            changed.contains(&(Some(2), "messages_count".into(), 0, 4)),
            "{changed:?}"
        );
        assert!(
            changed.contains(&(Some(3), "messages_count".into(), 7, 4)),
            "{changed:?}"
        );
        assert_eq!(
            service
                .get_application(&app.token)
                .await
                .unwrap()
                .chats_count,
            3
        );
        for n in 1..=3 {
            assert_eq!(
                service
                    .get_chat(&app.token, ChatNumber::new(n).unwrap())
                    .await
                    .unwrap()
                    .messages_count,
                4
            );
        }
        // The numbering counter that was pushed back is healed too: no number is reused.
        let m = service
            .create_message(&app.token, ChatNumber::new(3).unwrap(), "next")
            .await
            .unwrap();
        assert_eq!(m.number.get(), 5);
        let again = service.recount(None, NoProgress::arc()).await.unwrap();
        assert_eq!(again.corrected, 0);
        service.close().await;
    }

    /// The search backlog as `/ready` reports it.
    async fn backlog(service: &ChatService) -> u64 {
        service
            .health()
            .await
            .iter()
            .find_map(|h| h.search_backlog)
            .expect("the embedded profile reports its search backlog")
    }

    /// Waits (at most 60 s) until the search backlog is empty.
    async fn backlog_drained(service: &ChatService) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while backlog(service).await > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the search backlog did not drain within 60 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Every number of chat 1 whose body contains `q`, newest first, every page.
    async fn found(service: &ChatService, token: &Token, q: &str) -> Vec<u32> {
        let mut request = chat_core::SearchRequest::new(q).limited(1000);
        let mut numbers = Vec::new();
        loop {
            let page = service
                .search_messages(token, ChatNumber::new(1).unwrap(), &request)
                .await
                .unwrap();
            numbers.extend(page.items.iter().map(|m| m.number.get()));
            match page.next {
                Some(next) => request = next,
                None => return numbers,
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_killed_with_a_search_backlog_leaves_everything_findable_and_it_drains_alone()
    {
        let dir = tempfile::tempdir().unwrap();
        let service = open(dir.path()).await;
        let app = service.create_application("backlog crash").await.unwrap();
        service.create_chat(&app.token).await.unwrap();
        service.close().await;
        // A writer that leaves the backlog alone, killed mid-run: its messages wait in it.
        let mut child = writer_indexing(dir.path(), &app.token, 100_000, "kept", false);
        let acks = tokio::task::spawn_blocking(move || {
            let acks = acknowledged(&mut child, Some(2000));
            let _ = child.wait();
            acks
        })
        .await
        .unwrap();
        assert!(acks.len() >= 2000);
        // Reopened (the drain starts at once): every acknowledged message is found right away,
        // from the index or the backlog, and the backlog was really there.
        let config = Config {
            worker: false,
            ..Config::with_database_url(Embedded::url(dir.path()))
        };
        let reader = ChatService::open(&config).await.unwrap();
        let left = backlog(&reader).await;
        assert!(left >= 2000, "only {left} records were waiting");
        let mut hits = found(&reader, &app.token, "kept-").await;
        hits.sort_unstable();
        let stored: Vec<u32> = hits.clone();
        assert!(
            acks.keys().all(|n| stored.binary_search(n).is_ok()),
            "an acknowledged message is not found"
        );
        let one = acks.iter().next_back().unwrap();
        let exact = found(&reader, &app.token, one.1).await;
        assert_eq!(exact, [*one.0]);
        // A process that drains (the default) empties it on its own, and search is unchanged.
        let drainer = open(dir.path()).await;
        backlog_drained(&drainer).await;
        let mut after = found(&reader, &app.token, "kept-").await;
        after.sort_unstable();
        assert_eq!(after, stored);
        assert_eq!(found(&reader, &app.token, one.1).await, [*one.0]);
        // And it is the index that answers now: without it, nothing would be found.
        let db = sqlx::SqlitePool::connect(&Embedded::url(dir.path()))
            .await
            .unwrap();
        let indexed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '\"kept-\"'",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        db.close().await;
        assert_eq!(indexed as usize, stored.len());
        drainer.close().await;
        reader.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_processes_on_one_file_both_find_every_message() {
        let dir = tempfile::tempdir().unwrap();
        let service = open(dir.path()).await;
        let app = service.create_application("two finders").await.unwrap();
        service.create_chat(&app.token).await.unwrap();
        // Another process writes (and drains) while this one writes and searches.
        let mut child = writer(dir.path(), &app.token, 3000, "theirs");
        let mut mine = Vec::new();
        for i in 0..300 {
            let m = service
                .create_message(
                    &app.token,
                    ChatNumber::new(1).unwrap(),
                    &format!("mine-{i}"),
                )
                .await
                .unwrap();
            // Found by the very next search, whoever's writes are in the backlog.
            assert_eq!(
                found(&service, &app.token, &format!("mine-{i}"))
                    .await
                    .first(),
                Some(&m.number.get())
            );
            mine.push(m.number.get());
        }
        let acks = tokio::task::spawn_blocking(move || {
            let r = acknowledged(&mut child, None);
            assert!(child.wait().unwrap().success());
            r
        })
        .await
        .unwrap();
        let mut theirs = found(&service, &app.token, "theirs-").await;
        theirs.sort_unstable();
        assert_eq!(theirs, acks.keys().copied().collect::<Vec<_>>());
        // A third process (chatctl, direct mode on the file) finds both processes' messages.
        let chatctl = chat_tests::cargo_build(&["chatctl"]).remove(0);
        for (q, want) in [("theirs-", acks.len()), ("mine-", mine.len())] {
            let out = Command::new(&chatctl)
                .args(["--database-url", &Embedded::url(dir.path())])
                .args(["search", app.token.as_str(), "1", q, "--all", "-o", "name"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let lines = String::from_utf8_lossy(&out.stdout).lines().count();
            assert_eq!(lines, want, "{q}");
        }
        service.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reindex_rebuilds_a_damaged_index() {
        let dir = tempfile::tempdir().unwrap();
        // Searches ask the index alone (no rows read first), so what they find is the index's.
        let service = ChatService::open(&Config {
            search_probe: 0,
            ..Config::with_database_url(Embedded::url(dir.path()))
        })
        .await
        .unwrap();
        let app = service.create_application("reindex").await.unwrap();
        let c = service.create_chat(&app.token).await.unwrap().number;
        for i in 0..50 {
            service
                .create_message(&app.token, c, &format!("needle {i} in a haystack"))
                .await
                .unwrap();
        }
        // Everything in the index (not only findable through the backlog), then damage it.
        backlog_drained(&service).await;
        let db = sqlx::SqlitePool::connect(&Embedded::url(dir.path()))
            .await
            .unwrap();
        sqlx::query("DELETE FROM messages_fts")
            .execute(&db)
            .await
            .unwrap();
        db.close().await;
        let q = chat_core::SearchRequest::new("haystack");
        assert!(service
            .search_messages(&app.token, c, &q)
            .await
            .unwrap()
            .items
            .is_empty());
        let summary = service
            .reindex(Some(&app.token), NoProgress::arc())
            .await
            .unwrap();
        assert_eq!(summary.messages, 50);
        assert_eq!(
            service
                .search_messages(&app.token, c, &q)
                .await
                .unwrap()
                .items
                .len(),
            50
        );
        service.close().await;
    }
}
