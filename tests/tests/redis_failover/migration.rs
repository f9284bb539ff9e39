//! A slot moved from one master to another while creates run in its chats: the API's
//! per-master pipelines meet `ASK`, `TRYAGAIN` and `MOVED` and send those commands again
//! through the cluster client. Nothing acknowledged is lost, nothing runs twice (a
//! create sent twice would take two numbers for one body), and the numbers stay gapless.

use super::*;

/// `CLUSTER MYID` of the node at `url`.
async fn node_id(url: &str) -> String {
    let mut conn = node(url).await.expect("the node answers");
    redis::cmd("CLUSTER")
        .arg("MYID")
        .query_async(&mut conn)
        .await
        .unwrap()
}

/// Moves `slot` from the master at `from` to the one at `to` the way `redis-cli --cluster
/// reshard` does: importing and migrating states, the keys a few at a time (creates go on
/// meanwhile), then the slot's new owner told to every master.
async fn move_slot(slot: u16, from: &str, to: &str, masters: &[String]) {
    let (from_id, to_id) = (node_id(from).await, node_id(to).await);
    let mut source = node(from).await.unwrap();
    let mut target = node(to).await.unwrap();
    let setslot = |state: &str, id: &str| {
        let mut c = redis::cmd("CLUSTER");
        c.arg("SETSLOT").arg(slot).arg(state).arg(id);
        c
    };
    let _: () = setslot("IMPORTING", &from_id)
        .query_async(&mut target)
        .await
        .unwrap();
    let _: () = setslot("MIGRATING", &to_id)
        .query_async(&mut source)
        .await
        .unwrap();
    let to_addr = to.trim_start_matches("redis://");
    let (host, port) = to_addr.rsplit_once(':').unwrap();
    loop {
        let keys: Vec<String> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(2)
            .query_async(&mut source)
            .await
            .unwrap();
        if keys.is_empty() {
            break;
        }
        let _: redis::Value = redis::cmd("MIGRATE")
            .arg(host)
            .arg(port)
            .arg("")
            .arg(0)
            .arg(5000)
            .arg("KEYS")
            .arg(&keys)
            .query_async(&mut source)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    for url in std::iter::once(to).chain(masters.iter().map(String::as_str)) {
        let mut conn = node(url).await.unwrap();
        let _: () = setslot("NODE", &to_id)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

/// The slot of the first message counter of `prefix` found on a master, and that master.
async fn a_chat_slot(prefix: &str, masters: &[String]) -> (u16, String) {
    for url in masters {
        let mut conn = node(url).await.unwrap();
        let (_, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(0)
            .arg("MATCH")
            .arg(format!("{prefix}mc:*"))
            .arg("COUNT")
            .arg(100_000)
            .query_async(&mut conn)
            .await
            .unwrap();
        if let Some(key) = keys.first() {
            let slot: u16 = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(key)
                .query_async(&mut conn)
                .await
                .unwrap();
            return (slot, url.clone());
        }
    }
    panic!("no message counter of {prefix} on any master");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_moved_under_load_loses_and_repeats_nothing() {
    const CHATS: u32 = 8;
    const TOTAL: usize = 2000;
    let _turn = TURN.lock().await;
    ready_cluster().await;
    let admin = env("CHAT_TEST_MYSQL_URL");
    let redis = cluster_urls();
    let (database, url) = create_database(&admin).await;
    let prefix = prefix();
    let extra = ["--redis-ack-replicas", "1"];
    let apis: Vec<Server> = (0..2)
        .map(|_| Server::spawn(binary(), &url, &redis, &prefix, "api", &extra))
        .collect();
    let worker = Server::spawn(binary(), &url, &redis, &prefix, "worker", &extra);
    let clients: Vec<HttpClient> = apis.iter().map(|s| s.client.clone()).collect();
    let app = clients[0].create_application("migration").await.unwrap();
    for _ in 0..CHATS {
        // A 503 (a replica late) undoes the create: try again.
        let mut tries = 0;
        while let Err(e) = clients[0].create_chat(&app.token).await {
            tries += 1;
            assert!(
                matches!(e, Error::Unavailable { .. }) && tries < 20,
                "{e:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let masters: Vec<String> = masters().await.into_iter().map(|(u, _)| u).collect();
    assert_eq!(masters.len(), 3, "{masters:?}");
    // A first message in every chat, so its counter exists, then the slot of one of them.
    let (warm, errors) = create_until(&clients, &app.token, CHATS, 8, |n| n >= 16).await;
    assert!(
        errors
            .iter()
            .all(|e| matches!(e, Error::Unavailable { .. })),
        "{errors:?}"
    );
    let (slot, from) = a_chat_slot(&prefix, &masters).await;
    let to = masters.iter().find(|m| **m != from).unwrap().clone();

    let moved = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (moved_flag, started_flag) = (Arc::clone(&moved), Arc::clone(&started));
    let (from2, to2, masters2) = (from.clone(), to.clone(), masters.clone());
    let runtime = tokio::runtime::Handle::current();
    let began = Instant::now();
    let (acks, errors) = create_until(&clients, &app.token, CHATS, 32, move |n| {
        if n >= 300 && !started_flag.swap(true, Ordering::SeqCst) {
            let (from, to, masters, moved) = (
                from2.clone(),
                to2.clone(),
                masters2.clone(),
                Arc::clone(&moved_flag),
            );
            runtime.spawn(async move {
                move_slot(slot, &from, &to, &masters).await;
                moved.store(true, Ordering::SeqCst);
            });
        }
        (n >= TOTAL && moved_flag.load(Ordering::SeqCst))
            || began.elapsed() > Duration::from_secs(90)
    })
    .await;
    let elapsed = began.elapsed();
    let was_moved = moved.load(Ordering::SeqCst);
    println!(
        "{} acknowledged, {} failed in {elapsed:?} while slot {slot} moved from {from} to {to}",
        acks.len(),
        errors.len()
    );
    apis[0].wait_for_drain(Duration::from_secs(120)).await;
    let rows = stored(&url).await;
    // Put the slot back before judging, so a failure leaves the cluster as it found it.
    move_slot(slot, &to, &from, &masters).await;
    drop(apis);
    drop(worker);

    assert!(was_moved, "the slot moved during the load");
    assert!(acks.len() >= TOTAL, "creates went on while the slot moved");
    // A create may fail with 503 (its replica late), never otherwise; it is then undone.
    assert!(
        errors
            .iter()
            .all(|e| matches!(e, Error::Unavailable { .. })),
        "{:?}",
        &errors[..errors.len().min(5)]
    );
    let all: Vec<Ack> = warm.into_iter().chain(acks).collect();
    assert_all_persisted(&all, &rows);
    if errors.is_empty() {
        assert_gapless(&all);
    }
    assert_eq!(
        rows.len(),
        all.len(),
        "nothing stored beyond what was acknowledged"
    );
    drop_database(&admin, &database).await;
}
