use super::*;

#[test]
fn keys_are_written_as_shown() {
    let keys = Keys::new("p:", 16);
    let (a, c) = (keys.app_shard(7), keys.chat_shard(7, 3));
    let (ta, tc) = (&keys.tags[a], &keys.tags[c]);
    assert_eq!(
        keys.message_counter(7, 3).to_string(),
        format!("p:mc:{{{tc}}}:7:3")
    );
    assert_eq!(keys.chat_counter(7).to_string(), format!("p:cc:{{{ta}}}:7"));
    assert_eq!(
        keys.stream(0).to_string(),
        format!("p:q:{{{}}}", keys.tags[0])
    );
    assert_eq!(
        keys.deleted_messages(7, 3).to_string(),
        format!("p:xm:{{{tc}}}:7:3")
    );
    assert_eq!(keys.deleted_app(7).to_string(), format!("p:xa:{{{ta}}}:7"));
    assert_eq!(keys.unindexed().to_string(), "p:unindexed");
    let mut cmd = redis::cmd("GET");
    cmd.arg(keys.pending_messages(7, 3)).arg(JsonString("a\"b"));
    let packed = String::from_utf8(cmd.get_packed_command()).unwrap();
    let key = keys.pending_messages(7, 3).to_string();
    assert!(
        packed.contains(&format!("${}\r\n{key}\r\n", key.len())),
        "{packed:?}"
    );
    assert!(packed.contains("$6\r\n\"a\\\"b\"\r\n"), "{packed:?}");
}

#[test]
fn every_script_key_of_a_chat_or_an_application_shares_its_shard_slot() {
    let keys = Keys::new("p:", 16);
    let slot = |k: Key<'_>| conn::slot(k.to_string().as_bytes());
    for app in [1, 7, 12_345, i64::MAX] {
        let s = slot(keys.stream(keys.app_shard(app)));
        for k in [
            keys.chat_counter(app),
            keys.pending_chats(app),
            keys.deleted_app(app),
            keys.deleted_chats(app),
        ] {
            assert_eq!(slot(k), s, "{k}");
        }
        for chat in [1, 2, 99, u32::MAX] {
            let s = slot(keys.stream(keys.chat_shard(app, chat)));
            for k in [
                keys.message_counter(app, chat),
                keys.pending_messages(app, chat),
                keys.chat_deleted(app, chat),
                keys.deleted_messages(app, chat),
                keys.live(app, chat),
            ] {
                assert_eq!(slot(k), s, "{k}");
            }
        }
    }
    for k in 0..keys.shards() {
        assert_eq!(slot(keys.stream(k)), slot(keys.dead(k)));
        assert_eq!(keys.shard_slot(k), slot(keys.stream(k)));
        assert_eq!(slot(keys.stream(k)), slot(keys.errors(k)));
    }
}

#[test]
fn shards_spread_over_the_slot_space_and_chats_over_the_shards() {
    let keys = Keys::new("p:", 16);
    for k in 0..16 {
        let s = usize::from(conn::slot(keys.stream(k).to_string().as_bytes()));
        assert!(
            (k * 1024..(k + 1) * 1024).contains(&s),
            "shard {k}: slot {s}"
        );
    }
    let mut per_shard = [0u32; 16];
    for chat in 1..=1600 {
        per_shard[keys.chat_shard(3, chat)] += 1;
    }
    assert!(
        per_shard.iter().all(|&n| (50..=150).contains(&n)),
        "{per_shard:?}"
    );
    // The mapping is fixed: these must never change.
    assert_eq!(Keys::new("x:", 16).chat_shard(1, 1), keys.chat_shard(1, 1));
}

#[test]
fn replies_are_typed() {
    let int = |n| Value::Int(n);
    assert_eq!(
        MessageCreated::from_redis_value(int(12)).unwrap(),
        MessageCreated::Numbered(12)
    );
    assert_eq!(
        MessageCreated::from_redis_value(int(0)).unwrap(),
        MessageCreated::NoChat
    );
    assert_eq!(
        MessageCreated::from_redis_value(int(-2)).unwrap(),
        MessageCreated::SeedMessages
    );
    assert!(MessageCreated::from_redis_value(int(-1)).is_err());
    assert!(MessageCreated::from_redis_value(int(-3)).is_err());
    assert!(MessageCreated::from_redis_value(Value::Nil).is_err());
    assert_eq!(
        ChatCreated::from_redis_value(int(-1)).unwrap(),
        ChatCreated::SeedChats
    );
    assert!(ChatCreated::from_redis_value(int(0)).is_err());
    assert!(ChatCreated::from_redis_value(int(i64::from(u32::MAX) + 1)).is_err());
    assert_eq!(
        MessageEdited::from_redis_value(Value::BulkString(b"1790000000123456".to_vec())).unwrap(),
        MessageEdited::Edited {
            created_at: 1_790_000_000_123_456
        }
    );
    assert_eq!(
        MessageEdited::from_redis_value(int(-3)).unwrap(),
        MessageEdited::NeedCreatedAt
    );
    assert!(MessageEdited::from_redis_value(Value::BulkString(b"x".to_vec())).is_err());
    assert!(MessageEdited::from_redis_value(int(5)).is_err());
    assert_eq!(Deleted::from_redis_value(int(1)).unwrap(), Deleted::Done);
    assert_eq!(Deleted::from_redis_value(int(2)).unwrap(), Deleted::Already);
    assert_eq!(Deleted::from_redis_value(int(-5)).unwrap(), Deleted::NoApp);
    assert_eq!(
        Deleted::from_redis_value(int(-4)).unwrap(),
        Deleted::NoMessage
    );
    assert!(Deleted::from_redis_value(int(-3)).is_err());
    assert!(Deleted::from_redis_value(int(3)).is_err());
}
