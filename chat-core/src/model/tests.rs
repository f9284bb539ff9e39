use super::*;
use crate::error::Error;
use chrono::Utc;

#[test]
fn a_trigram_needs_three_characters_not_bytes() {
    assert!(!Query::parse("wo").unwrap().has_trigram());
    assert!(!Query::parse("🎉🎉").unwrap().has_trigram());
    assert!(Query::parse("🎉🎉🎉").unwrap().has_trigram());
    assert!(Query::parse("abc").unwrap().has_trigram());
}

#[test]
fn generated_tokens_are_32_lowercase_hex_and_distinct() {
    let a = Token::generate();
    let b = Token::generate();
    assert_ne!(a, b);
    for t in [&a, &b] {
        assert_eq!(t.as_str().len(), 32);
        assert!(Token::parse(t.as_str()).is_ok());
    }
}

#[test]
fn malformed_tokens_are_bad_requests() {
    for bad in [
        "",
        "abc",
        "6F1C0E0B8A4D4A51B0F7C1E2D3A4B5C6",
        "6f1c0e0b8a4d4a51b0f7c1e2d3a4b5cg",
        "6f1c0e0b8a4d4a51b0f7c1e2d3a4b5c67",
        "' OR 1=1 --                     ",
        "6f1c0e0b8a4d4a51b0f7c1e2d3a4b5c\u{e9}",
    ] {
        assert!(
            matches!(Token::parse(bad), Err(Error::BadRequest(_))),
            "{bad}"
        );
    }
}

#[test]
fn numbers_reject_zero_overflow_and_text() {
    for bad in [
        "0",
        "-1",
        "abc",
        "1.5",
        "99999999999999999999",
        "2147483648",
        "",
    ] {
        assert!(
            matches!(ChatNumber::parse(bad), Err(Error::BadRequest(_))),
            "{bad}"
        );
    }
    assert_eq!(
        MessageNumber::parse("2147483647").unwrap().get(),
        MAX_NUMBER
    );
    assert!(serde_json::from_str::<ChatNumber>("0").is_err());
}

#[test]
fn names_bodies_and_queries_are_checked() {
    assert!(Name::parse("  ").is_err());
    assert!(Name::parse(&"é".repeat(255)).is_ok());
    assert!(Name::parse(&"é".repeat(256)).is_err());
    assert_eq!(Name::parse("  team  ").unwrap().as_str(), "team");
    assert!(Body::parse("").is_err());
    assert!(Body::parse(&"x".repeat(MAX_BODY_BYTES)).is_ok());
    assert!(Body::parse(&"x".repeat(MAX_BODY_BYTES + 1)).is_err());
    assert_eq!(Body::parse(" hi ").unwrap().as_str(), " hi ");
    assert!(Query::parse(" \t ").is_err());
    assert!(matches!(
        Query::parse(""),
        Err(Error::Invalid { ref field, .. }) if field == "query"
    ));
}

#[test]
fn representations_have_no_ids() {
    let now = Utc::now();
    let json = serde_json::to_value(Chat {
        number: ChatNumber::new(1).unwrap(),
        messages_count: 0,
        created_at: now,
        updated_at: now,
    })
    .unwrap();
    let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        ["created_at", "messages_count", "number", "updated_at"]
    );
}
