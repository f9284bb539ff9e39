//! The rules of [`super::Validator`], on streams built by hand.

use chrono::{DateTime, Utc};

use super::*;
use crate::model::{ChatNumber, MessageNumber};

fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// A valid stream: one application with chats 1 and 3 (2 was deleted) of which 3 holds
/// messages 1, 2 and 5, and an application without chats.
fn stream() -> Vec<Record> {
    let a = Token::generate();
    let b = Token::generate();
    let mut records = vec![
        Record::Header(Header {
            format: FORMAT.into(),
            version: VERSION,
            profile: "embedded".into(),
            exported_at: at(1),
            scope: None,
            applications: 2,
            chats: 2,
            messages: 3,
        }),
        Record::Application(ApplicationRecord {
            token: a.clone(),
            name: "support ☕".into(),
            chats_count: 2,
            last_chat_number: 3,
            created_at: at(10),
            updated_at: at(11),
        }),
        Record::Chat(ChatRecord {
            application: a.clone(),
            number: ChatNumber::new(1).unwrap(),
            messages_count: 0,
            last_message_number: 0,
            created_at: at(20),
            updated_at: at(20),
        }),
        Record::Chat(ChatRecord {
            application: a.clone(),
            number: ChatNumber::new(3).unwrap(),
            messages_count: 3,
            last_message_number: 6,
            created_at: at(30),
            updated_at: at(30),
        }),
    ];
    for n in [1, 2, 5] {
        records.push(Record::Message(MessageRecord {
            application: a.clone(),
            chat: ChatNumber::new(3).unwrap(),
            number: MessageNumber::new(n).unwrap(),
            body: format!("body {n} ü"),
            created_at: at(40),
            updated_at: at(41),
        }));
    }
    records.push(Record::Application(ApplicationRecord {
        token: b,
        name: "empty".into(),
        chats_count: 0,
        last_chat_number: 0,
        created_at: at(50),
        updated_at: at(50),
    }));
    let mut v = Validator::new();
    for r in &records {
        v.check(r).unwrap();
    }
    records.push(v.end_record());
    records
}

fn check_all(records: &[Record]) -> Result<()> {
    let mut v = Validator::new();
    for r in records {
        v.check(r)?;
    }
    v.finish()
}

fn refused_at(records: &[Record], line: u64) {
    let err = check_all(records).expect_err("the stream was accepted");
    let text = err.to_string();
    assert!(
        text.contains(&format!("line {line}:")),
        "expected a refusal at line {line}, got: {text}"
    );
    assert_eq!(err.code(), "invalid", "{text}");
}

#[test]
fn a_well_formed_stream_passes() {
    check_all(&stream()).unwrap();
}

#[test]
fn a_truncated_stream_is_refused_after_its_last_line() {
    let mut s = stream();
    s.pop();
    refused_at(&s, 9);
    s.truncate(5);
    refused_at(&s, 6);
    let err = check_all(&[]).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}

#[test]
fn the_header_must_come_first_with_a_known_version() {
    let mut s = stream();
    s.remove(0);
    refused_at(&s, 1);
    let mut s = stream();
    if let Record::Header(h) = &mut s[0] {
        h.version = 2;
    }
    refused_at(&s, 1);
    let mut s = stream();
    let header = s[0].clone();
    s.insert(3, header);
    refused_at(&s, 4);
}

#[test]
fn reordered_and_duplicated_lines_are_refused() {
    let mut s = stream();
    s.swap(4, 5); // messages 2 then 1
    refused_at(&s, 6);
    let mut s = stream();
    let dup = s[5].clone();
    s.insert(6, dup);
    refused_at(&s, 7);
    let mut s = stream();
    s.swap(2, 3); // chat 3 before chat 1
    refused_at(&s, 4);
    let mut s = stream();
    let app = s[1].clone();
    s.insert(8, app); // the same application twice
    refused_at(&s, 9);
}

#[test]
fn a_message_above_the_highest_number_or_a_wrong_count_is_refused() {
    let mut s = stream();
    if let Record::Message(m) = &mut s[6] {
        m.number = MessageNumber::new(7).unwrap();
    }
    refused_at(&s, 7);
    let mut s = stream();
    if let Record::Chat(c) = &mut s[3] {
        c.messages_count = 4;
    }
    refused_at(&s, 8);
}

#[test]
fn an_altered_body_fails_the_checksum() {
    let mut s = stream();
    if let Record::Message(m) = &mut s[4] {
        m.body = "changed".into();
    }
    refused_at(&s, 9);
}

#[test]
fn an_empty_body_and_a_line_after_the_end_are_refused() {
    let mut s = stream();
    if let Record::Message(m) = &mut s[4] {
        m.body = "   ".into();
    }
    refused_at(&s, 5);
    let mut s = stream();
    let extra = s[1].clone();
    s.push(extra);
    refused_at(&s, 10);
}
