//! Property tests of the parsers every request goes through: tokens, numbers, page
//! parameters, names, bodies, queries, form and JSON bodies. Each parser must never panic,
//! and must accept exactly the language the API documents, which each property states again
//! independently of the code under test.
#![allow(clippy::unwrap_used)]

use chat_core::model::{
    fold_case, parse_limit, parse_offset, MAX_BODY_BYTES, MAX_LIMIT, MAX_NAME_CHARS, MAX_NUMBER,
    MAX_QUERY_CHARS, RELEVANCE_WINDOW,
};
use chat_core::wire::{form_pairs, Fields};
use chat_core::{Body, ChatNumber, Error, MessageNumber, Missing, Name, Query, Token};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Text of every kind: arbitrary, digit-heavy, hex-heavy, spaced and controlled.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,25}",
        "[ +\\-]?[0-9]{1,12}",
        "[0-9a-fA-G]{30,34}",
        "[ \\t\\n\\u{a0}\\u{3000}]{0,3}[a-zé\\u{1}\\u{0}\\u{85}\\u{7f} ]{0,8}[ \\t\\n]{0,3}",
    ]
}

/// Whether `e` is a 422 about `field`.
fn invalid(e: &Error, field: &str) -> bool {
    matches!(e, Error::Invalid { field: f, .. } if f == field)
}

/// The decimal value of `s` if it is `[0-9]+`.
fn decimal(s: &str) -> Option<u128> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = s.trim_start_matches('0');
    if digits.len() > 30 {
        return Some(u128::MAX);
    }
    Some(digits.parse().unwrap_or(0))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn tokens_are_exactly_32_lowercase_hex(s in text()) {
        let valid = s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        match Token::parse(&s) {
            Ok(t) => { prop_assert!(valid); prop_assert_eq!(t.as_str(), s.as_str()); }
            Err(e) => { prop_assert!(!valid); prop_assert!(matches!(e, Error::BadRequest(_))); }
        }
        match Token::lookup(&s) {
            Ok(_) => prop_assert!(valid),
            Err(e) => {
                prop_assert!(!valid);
                prop_assert!(matches!(e, Error::NotFound(Missing::MalformedToken { .. })), "{:?}", e);
                prop_assert!(e.to_body().error.message.contains("32 lowercase hex characters"));
            }
        }
    }

    #[test]
    fn generated_tokens_parse(_n in 0..10u8) {
        let t = Token::generate();
        prop_assert_eq!(Token::parse(t.as_str()).unwrap(), t);
    }

    #[test]
    fn numbers_are_decimal_digits_from_1_to_max(s in text()) {
        let value = decimal(&s);
        let valid = value.is_some_and(|n| (1..=u128::from(MAX_NUMBER)).contains(&n));
        for result in [ChatNumber::parse(&s).map(ChatNumber::get), MessageNumber::parse(&s).map(MessageNumber::get)] {
            match result {
                Ok(n) => { prop_assert!(valid); prop_assert_eq!(Some(u128::from(n)), value); }
                Err(Error::BadRequest(m)) => {
                    prop_assert!(!valid);
                    // The message quotes what was sent (shortened past 40 characters).
                    let shown: String = s.chars().take(40).collect();
                    prop_assert!(m.contains(&format!("{shown:?}").trim_end_matches('"').to_owned()), "{}", m);
                }
                Err(e) => prop_assert!(false, "unexpected {:?}", e),
            }
        }
    }

    #[test]
    fn every_integer_is_a_number_exactly_in_range(n in any::<u64>()) {
        let ok = (1..=u64::from(MAX_NUMBER)).contains(&n);
        prop_assert_eq!(ChatNumber::parse(&n.to_string()).is_ok(), ok);
        prop_assert_eq!(ChatNumber::new(u32::try_from(n).unwrap_or(u32::MAX)).is_ok(), ok);
        if let Err(Error::BadRequest(m)) = ChatNumber::parse(&n.to_string()) {
            prop_assert!(m.contains(&format!("\"{n}\"")), "{}", m);
        }
    }

    #[test]
    fn limits_and_offsets_are_decimal_in_their_ranges(s in text()) {
        let value = decimal(&s);
        let limit_ok = value.is_some_and(|n| (1..=u128::from(MAX_LIMIT)).contains(&n));
        prop_assert_eq!(parse_limit(&s).is_ok(), limit_ok);
        if let Ok(n) = parse_limit(&s) { prop_assert_eq!(Some(u128::from(n)), value); }
        let offset_ok = value.is_some_and(|n| n < u128::from(RELEVANCE_WINDOW));
        prop_assert_eq!(parse_offset(&s).is_ok(), offset_ok);
        for r in [parse_limit(&s).map(|_| ()), parse_offset(&s).map(|_| ())] {
            if let Err(e) = r { prop_assert!(matches!(e, Error::BadRequest(_))); }
        }
    }

    #[test]
    fn names_are_trimmed_not_blank_short_and_without_controls(s in text()) {
        let t = s.trim();
        let valid = !t.is_empty() && t.chars().count() <= MAX_NAME_CHARS && !t.chars().any(char::is_control);
        match Name::parse(&s) {
            Ok(n) => { prop_assert!(valid); prop_assert_eq!(n.as_str(), t); }
            Err(e) => { prop_assert!(!valid); prop_assert!(invalid(&e, "name"), "{:?}", e); }
        }
    }

    #[test]
    fn name_lengths_are_counted_in_characters(c in any::<char>(), n in 250usize..260) {
        let s: String = std::iter::repeat_n(c, n).collect();
        let valid = !c.is_whitespace() && !c.is_control() && n <= MAX_NAME_CHARS;
        prop_assert_eq!(Name::parse(&s).is_ok(), valid);
    }

    #[test]
    fn bodies_are_verbatim_not_blank_without_nul_and_at_most_16_kib(s in text(), pad in 0usize..3, c in any::<char>()) {
        // Around the size limit too.
        let big: String = std::iter::repeat_n(c, (MAX_BODY_BYTES / c.len_utf8()) - 1 + pad).collect();
        for s in [s, big] {
            let valid = !s.trim().is_empty() && s.len() <= MAX_BODY_BYTES && !s.contains('\0');
            match Body::parse(&s) {
                Ok(b) => { prop_assert!(valid); prop_assert_eq!(b.as_str(), s.as_str()); }
                Err(e) => { prop_assert!(!valid); prop_assert!(invalid(&e, "body"), "{:?}", e); }
            }
        }
    }

    #[test]
    fn queries_are_trimmed_not_blank_without_nul_and_at_most_1024_chars(s in text(), n in 1020usize..1030) {
        for s in [s, "q".repeat(n)] {
            let t = s.trim();
            let valid = !t.is_empty() && t.chars().count() <= MAX_QUERY_CHARS && !t.contains('\0');
            match Query::parse(&s) {
                Ok(q) => { prop_assert!(valid); prop_assert_eq!(q.as_str(), t); }
                Err(e) => { prop_assert!(!valid); prop_assert!(invalid(&e, "query"), "{:?}", e); }
            }
        }
    }

    #[test]
    fn a_query_matches_any_text_holding_it_in_any_case(a in ".{0,8}", q in "\\PC{1,6}", b in ".{0,8}") {
        let Ok(query) = Query::parse(&q) else { return Ok(()); };
        let text = format!("{a}{}{b}", query.as_str());
        prop_assert!(query.matches(&text));
        // Upper-casing the text (where that maps one character to one that folds back) keeps the match.
        let upper: String = text.chars().map(|c| {
            let mut u = c.to_uppercase();
            match (u.next(), u.next()) {
                (Some(x), None) if fold_case(&x.to_string()) == fold_case(&c.to_string()) => x,
                _ => c,
            }
        }).collect();
        prop_assert!(query.matches(&upper), "{:?} in {:?}", query.as_str(), upper);
        prop_assert_eq!(fold_case(&text).chars().count(), text.chars().count());
    }

    #[test]
    fn any_bytes_as_a_form_or_json_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let json_ok = bytes.iter().all(u8::is_ascii_whitespace)
            || matches!(serde_json::from_slice::<Value>(&bytes), Ok(Value::Object(_) | Value::Null));
        prop_assert_eq!(Fields::from_json(&bytes).is_ok(), json_ok);
        for r in [Fields::from_form(&bytes), Fields::from_json(&bytes)] {
            match r {
                Ok(f) => { let _ = f.string("name", &["application", "chat_application"]); }
                Err(e) => prop_assert!(matches!(e, Error::BadRequest(_)), "{:?}", e),
            }
        }
        let _ = form_pairs(&bytes);
    }

    #[test]
    fn form_values_decode_to_what_was_encoded(value in any::<String>(), plus in any::<bool>(), wrapped in any::<bool>()) {
        // Percent-encode every byte, or only what must be, with `+` for spaces.
        let mut encoded = String::new();
        for b in value.bytes() {
            match b {
                b' ' if plus => encoded.push('+'),
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' if plus => encoded.push(char::from(b)),
                _ => encoded.push_str(&format!("%{b:02X}")),
            }
        }
        let key = if wrapped { "message%5Bbody%5D" } else { "body" };
        let form = format!("utf8=%E2%9C%93&{key}={encoded}&commit=Send");
        let fields = Fields::from_form(form.as_bytes()).unwrap();
        prop_assert_eq!(fields.required("body", &["message"]).unwrap(), value.clone());
        // The same body as JSON reads the same.
        let json = if wrapped { json!({"message": {"body": value}}) } else { json!({"body": value}) };
        let from_json = Fields::from_json(json.to_string().as_bytes()).unwrap();
        prop_assert_eq!(from_json.required("body", &["message"]).unwrap(), fields.required("body", &["message"]).unwrap());
    }

    #[test]
    fn form_keys_are_a_name_and_bracketed_names(key in "[a-z\\[\\]]{0,12}") {
        let valid = {
            let (base, mut rest) = key.split_at(key.find('[').unwrap_or(key.len()));
            let mut ok = !base.is_empty() && !base.contains(']');
            let mut segments = 0;
            while ok && !rest.is_empty() {
                match rest.strip_prefix('[').and_then(|r| r.find(']').map(|i| (&r[..i], &r[i + 1..]))) {
                    Some((seg, after)) if !seg.is_empty() && !seg.contains('[') => { segments += 1; rest = after; }
                    _ => ok = false,
                }
            }
            ok && segments <= 8
        };
        // Any key reads: a well-formed one at the path it names, any other as a literal field.
        let f = Fields::from_form(format!("{key}=v").as_bytes()).unwrap();
        let mut at: &Value = &Value::Object(f.0.clone());
        if valid {
            for part in key.split(['[', ']']).filter(|p| !p.is_empty()) { at = &at[part]; }
        } else {
            at = &at[key.as_str()];
        }
        prop_assert_eq!(at, &json!("v"), "{:?} → {:?}", key, f);
        // A name given both as a value and as a group is refused.
        if valid && key.contains('[') {
            let base = &key[..key.find('[').unwrap()];
            for clash in [format!("{base}=x&{key}=v"), format!("{key}=v&{base}=x")] {
                prop_assert!(matches!(Fields::from_form(clash.as_bytes()), Err(Error::BadRequest(_))), "{}", clash);
            }
        }
    }

    #[test]
    fn json_fields_are_strings_or_refused(v in prop_oneof![
        Just(json!(null)), Just(json!(true)), any::<i64>().prop_map(|n| json!(n)),
        any::<String>().prop_map(|s| json!(s)), Just(json!([])), Just(json!({"name": "x"}))
    ], wrapped in any::<bool>()) {
        let body = if wrapped { json!({"application": {"name": v.clone()}}) } else { json!({"name": v.clone()}) };
        let f = Fields::from_json(body.to_string().as_bytes()).unwrap();
        match (f.string("name", &["application"]), &v) {
            (Ok(Some(s)), Value::String(want)) => prop_assert_eq!(&s, want),
            (Ok(None), Value::Null) => {}
            (Err(Error::BadRequest(_)), v) => prop_assert!(!v.is_string() && !v.is_null()),
            (other, v) => prop_assert!(false, "{:?} for {}", other, v),
        }
    }
}
