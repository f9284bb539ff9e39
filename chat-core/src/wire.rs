//! Request bodies shared by chat-server and `HttpClient` (feature `client`), so both sides agree on the
//! wire format by construction, and [`Fields`], how the server reads them (JSON or form).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::model::Token;

/// Body of the create and update requests of applications.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NameBody {
    /// The application's name.
    pub name: String,
}

/// Body of the create and update requests of messages.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BodyBody {
    /// The message's text.
    pub body: String,
}

/// Body of `POST …/messages/batch`: the messages to create, in order.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchBody {
    /// One to 1,000 messages; their numbers follow this order.
    #[schema(min_items = 1, max_items = 1000)]
    pub messages: Vec<BodyBody>,
}

/// Body of the admin jobs' requests.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobScope {
    /// Limit the job to one application.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(value_type = Option<String>)]
    pub application: Option<Token>,
}

/// The fields of a request body as clients send them, before validation: a JSON object or an
/// HTML form (`application/x-www-form-urlencoded`), its fields bare (`name`) or wrapped the
/// Rails way (`{"application": {"name": …}}`, `application[name]=…`). Both kinds give the
/// same shape, so they are validated by the same code and fail with the same errors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(pub Map<String, Value>);

/// Most bracketed segments in a form field's name (`a[b][c]` has two).
const MAX_FORM_DEPTH: usize = 8;

impl Fields {
    /// Reads a JSON object. A body of only whitespace, or `null`, is an empty object (no
    /// body); anything but an object is a [`Error::BadRequest`].
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Fields::default());
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Fields(map)),
            Ok(Value::Null) => Ok(Fields::default()),
            Ok(_) => Err(Error::BadRequest(
                "the request body must be a JSON object".into(),
            )),
            Err(e) => Err(Error::BadRequest(format!("malformed JSON: {e}"))),
        }
    }

    /// Reads an HTML form: `&`-separated `key=value` pairs, `+` for space, `%XX` escapes, the
    /// decoded text UTF-8. A key that is a name followed by bracketed names (`message[body]`,
    /// at most 8 of them) nests as JSON objects would; any other key (`a[]`, `[x]`, `a[b`) is
    /// a field of that literal name, which no operation reads, like an unknown JSON field.
    /// Empty pairs are skipped, a key without `=` has the empty value and a repeated key keeps
    /// its last value (as Rails does). Text that is not UTF-8, and a name given both as a value
    /// and as a group (`a=1&a[b]=2`), are a [`Error::BadRequest`].
    pub fn from_form(bytes: &[u8]) -> Result<Self> {
        let mut map = Map::new();
        for (key, value) in form_pairs(bytes)? {
            let path = form_key(&key).unwrap_or_else(|| vec![key.as_str()]);
            insert(&mut map, &path, value, &key)?;
        }
        Ok(Fields(map))
    }

    /// The string field `field`, bare or inside one of the `wrappers` objects (the bare field
    /// wins). Missing or `null` is `None`; any other type is a [`Error::BadRequest`].
    pub fn string(&self, field: &str, wrappers: &[&str]) -> Result<Option<String>> {
        let mut found = self.0.get(field);
        for w in wrappers {
            if found.is_some() {
                break;
            }
            match self.0.get(*w) {
                None => {}
                Some(Value::Object(inner)) => found = inner.get(field),
                Some(_) => {
                    return Err(Error::BadRequest(format!(
                        "{w} must be an object (JSON {{\"{w}\": {{…}}}} or form {w}[field]=…)"
                    )))
                }
            }
        }
        match found {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(Error::BadRequest(format!(
                "{field} must be a string, got {}",
                kind(other)
            ))),
        }
    }

    /// The top-level string field `field` where only its absence means "not given": missing is
    /// `None`; `null` or any other type is a [`Error::BadRequest`] (an admin job's
    /// `application`, whose absence means every application).
    pub fn optional(&self, field: &str) -> Result<Option<String>> {
        match self.0.get(field) {
            Some(Value::Null) => Err(Error::BadRequest(format!(
                "{field} must be a string, got null (leave {field} out to mean all)"
            ))),
            _ => self.string(field, &[]),
        }
    }

    /// Like [`Fields::string`], but a missing field is an [`Error::Invalid`] (HTTP 422).
    pub fn required(&self, field: &str, wrappers: &[&str]) -> Result<String> {
        self.string(field, wrappers)?
            .ok_or_else(|| Error::invalid(field, "is required"))
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The decoded `key=value` pairs of a form or query string, in order: `&`-separated, empty
/// pairs skipped, a pair without `=` has the empty value, `+` is a space and `%XX` a byte (a `%`
/// not followed by two hex digits stands for itself). Text that is not UTF-8 once decoded is a
/// [`Error::BadRequest`].
pub fn form_pairs(bytes: &[u8]) -> Result<Vec<(String, String)>> {
    bytes
        .split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            Ok((form_decode(key)?, form_decode(value)?))
        })
        .collect()
}

/// Encodes `key=value` pairs as a query string that [`form_pairs`] reads back: letters,
/// digits and `-._~` stay, everything else becomes `%XX` (so the result is plain ASCII, fit for
/// a URL in a header).
pub fn query_string<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    fn push(out: &mut String, text: &str) {
        for b in text.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(b));
            } else {
                out.push('%');
                out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
                out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 0xf)]));
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        push(&mut out, k.as_ref());
        out.push('=');
        push(&mut out, v.as_ref());
    }
    out
}

/// Decodes one side of a form pair: `+` is a space, `%XX` a byte (a `%` not followed by two
/// hex digits stands for itself), and the result must be UTF-8.
fn form_decode(raw: &[u8]) -> Result<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                raw.get(i + 1).and_then(|b| hex(*b)),
                raw.get(i + 2).and_then(|b| hex(*b)),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| {
        Error::BadRequest("the form or query string is not UTF-8 once percent-decoded".into())
    })
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits `a[b][c]` into `["a", "b", "c"]`; `None` for a key of any other shape.
fn form_key(key: &str) -> Option<Vec<&str>> {
    let (base, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if base.is_empty() || base.contains(']') {
        return None;
    }
    let mut path = vec![base];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let end = inner.find(']')?;
        let segment = &inner[..end];
        if segment.is_empty() || segment.contains('[') || path.len() > MAX_FORM_DEPTH {
            return None;
        }
        path.push(segment);
        rest = &inner[end + 1..];
    }
    Some(path)
}

/// Sets `path` in `map` to `value`, creating the objects on the way.
fn insert(map: &mut Map<String, Value>, path: &[&str], value: String, key: &str) -> Result<()> {
    let clash = || {
        Error::BadRequest(format!(
            "form field {key:?} clashes with another field: a name is either a value or a \
             group of bracketed fields, not both"
        ))
    };
    let Some((last, groups)) = path.split_last() else {
        return Ok(());
    };
    let mut current = map;
    for group in groups {
        let slot = current
            .entry((*group).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        current = match slot {
            Value::Object(inner) => inner,
            _ => return Err(clash()),
        };
    }
    if matches!(current.get(*last), Some(Value::Object(_))) {
        return Err(clash());
    }
    current.insert((*last).to_owned(), Value::String(value));
    Ok(())
}
