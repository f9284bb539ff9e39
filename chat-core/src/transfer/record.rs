//! The lines of an export stream, as Rust types, and their one canonical JSON form.
//!
//! Every line is one JSON object whose first field, `type`, says what it is. The serialization
//! here is the only one: field order is fixed, timestamps are RFC 3339 UTC with exactly six
//! fractional digits, so two exports of the same data are identical byte for byte whichever
//! profile wrote them, and the checksum can be recomputed from the records alone.

use std::pin::Pin;

use chrono::{DateTime, Utc};
use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::{ChatNumber, MessageNumber, Token};

/// A stream of records, as export produces and restore consumes them.
pub type RecordStream = Pin<Box<dyn Stream<Item = Result<Record>> + Send>>;

/// The value of [`Header::format`].
pub const FORMAT: &str = "chat-export";

/// The version of the format this library writes and reads.
pub const VERSION: u32 = 1;

/// One line of an export stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// The first line: what the stream is and what it holds.
    Header(Header),
    /// An application; its chats follow it.
    Application(ApplicationRecord),
    /// A chat of the last application; its messages follow it.
    Chat(ChatRecord),
    /// A message of the last chat.
    Message(MessageRecord),
    /// The last line: the totals again and the checksum of every line in between.
    End(End),
}

/// What a stream holds, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format's version ([`VERSION`]); a reader refuses versions it does not know.
    pub version: u32,
    /// The profile that wrote the stream: `embedded` or `distributed`.
    pub profile: String,
    /// When the export started (the moment of the snapshot).
    #[serde(with = "timestamp")]
    pub exported_at: DateTime<Utc>,
    /// The one application exported, or `None` for the whole deployment.
    pub scope: Option<Token>,
    /// Application lines that follow.
    pub applications: u64,
    /// Chat lines that follow.
    pub chats: u64,
    /// Message lines that follow.
    pub messages: u64,
}

impl Header {
    /// The totals the header announces.
    pub fn totals(&self) -> Totals {
        Totals {
            applications: self.applications,
            chats: self.chats,
            messages: self.messages,
        }
    }
}

/// How many applications, chats and messages a stream holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Application lines.
    pub applications: u64,
    /// Chat lines.
    pub chats: u64,
    /// Message lines.
    pub messages: u64,
}

/// An application, with the highest chat number it ever handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRecord {
    /// Its token, unchanged by a restore.
    pub token: Token,
    /// Its name.
    pub name: String,
    /// How many chat lines follow it.
    pub chats_count: u64,
    /// The highest chat number ever handed out, deleted chats included (0 for none): a restored
    /// application numbers its next chat above it.
    pub last_chat_number: u32,
    /// Creation time.
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change of its name.
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// A chat, with the highest message number it ever handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRecord {
    /// Its application's token (the application line before it).
    pub application: Token,
    /// Its number.
    pub number: ChatNumber,
    /// How many message lines follow it.
    pub messages_count: u64,
    /// The highest message number ever handed out, deleted messages included (0 for none).
    pub last_message_number: u32,
    /// Creation time.
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// A message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageRecord {
    /// Its application's token.
    pub application: Token,
    /// Its chat's number (the chat line before it).
    pub chat: ChatNumber,
    /// Its number.
    pub number: MessageNumber,
    /// Its text.
    pub body: String,
    /// Creation time.
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last edit (the creation time when never edited).
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// The closing line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct End {
    /// Application lines written (equal to the header's count).
    pub applications: u64,
    /// Chat lines written.
    pub chats: u64,
    /// Message lines written.
    pub messages: u64,
    /// `sha256:` and the hex SHA-256 of every line between the header and this one, each with
    /// its line break, in their canonical form ([`Record::to_line`]).
    pub checksum: String,
}

impl Record {
    /// The record's canonical line, without the line break.
    pub fn to_line(&self) -> String {
        let mut out = Vec::with_capacity(256);
        self.write_line(&mut out);
        out.pop();
        // serde_json writes UTF-8 only.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends the record's canonical line and a line break to `out`.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        // Serializing these types cannot fail: every field is a string, number or null.
        if serde_json::to_writer(&mut *out, self).is_ok() {
            out.push(b'\n');
        }
    }

    /// Parses one line (without its line break).
    pub fn from_line(line: &[u8]) -> serde_json::Result<Record> {
        serde_json::from_slice(line)
    }

    /// What the record is, as its `type` says.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Header(_) => "header",
            Record::Application(_) => "application",
            Record::Chat(_) => "chat",
            Record::Message(_) => "message",
            Record::End(_) => "end",
        }
    }
}

/// RFC 3339 UTC with microseconds, always six digits: what both profiles store, written one way.
mod timestamp {
    use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 27];
        match format(at, &mut buf) {
            Some(text) => s.serialize_str(text),
            None => s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Micros, true)),
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ` written digit by digit (what `to_rfc3339_opts` writes,
    /// without its allocation: two per message line); `None` for a year outside 0–9999 or a
    /// leap second, which chrono writes instead.
    pub(super) fn format<'b>(at: &DateTime<Utc>, buf: &'b mut [u8; 27]) -> Option<&'b str> {
        let year = u32::try_from(at.year()).ok().filter(|y| *y <= 9999)?;
        if at.nanosecond() >= 1_000_000_000 {
            return None;
        }
        let mut put = |at: usize, value: u32, digits: usize| {
            let mut v = value;
            for i in (0..digits).rev() {
                buf[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, year, 4);
        put(5, at.month(), 2);
        put(8, at.day(), 2);
        put(11, at.hour(), 2);
        put(14, at.minute(), 2);
        put(17, at.second(), 2);
        put(20, at.nanosecond() / 1000, 6);
        for (i, c) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (26, b'Z'),
        ] {
            buf[i] = c;
        }
        std::str::from_utf8(&buf[..]).ok()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let at = DateTime::parse_from_rfc3339(&s)
            .map_err(|e| serde::de::Error::custom(format!("timestamp {s:?}: {e}")))?
            .with_timezone(&Utc);
        if at.timestamp_subsec_nanos() % 1000 != 0 {
            return Err(serde::de::Error::custom(format!(
                "timestamp {s:?} is finer than a microsecond"
            )));
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        use chrono::SecondsFormat;
        let mut buf = [0u8; 27];
        for micros in [
            0,
            1,
            999_999,
            1_790_000_000_000_001,
            -62_135_596_800_000_000, // 0001-01-01
            253_402_300_799_999_999, // 9999-12-31T23:59:59.999999
            -1,
        ] {
            let t = at(micros);
            assert_eq!(
                timestamp::format(&t, &mut buf),
                Some(t.to_rfc3339_opts(SecondsFormat::Micros, true).as_str()),
                "{micros}"
            );
        }
        let far = at(253_402_300_800_000_000); // year 10000
        assert_eq!(timestamp::format(&far, &mut buf), None);
    }

    fn at(micros: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(micros).unwrap_or_default()
    }

    #[test]
    fn a_message_line_starts_with_its_type_and_has_six_fractional_digits() {
        let token = Token::generate();
        let record = Record::Message(MessageRecord {
            application: token.clone(),
            chat: ChatNumber::new(3).unwrap(),
            number: MessageNumber::new(17).unwrap(),
            body: "héllo \"you\"".into(),
            created_at: at(1_790_000_000_000_000),
            updated_at: at(1_790_000_000_000_001),
        });
        let line = record.to_line();
        assert!(
            line.starts_with("{\"type\":\"message\",\"application\":\""),
            "{line}"
        );
        assert!(
            line.contains("\"created_at\":\"2026-09-21T14:13:20.000000Z\""),
            "{line}"
        );
        assert!(
            line.contains("\"updated_at\":\"2026-09-21T14:13:20.000001Z\""),
            "{line}"
        );
        assert_eq!(Record::from_line(line.as_bytes()).unwrap(), record);
    }

    #[test]
    fn the_header_and_end_carry_flat_totals() {
        let header = Record::Header(Header {
            format: FORMAT.into(),
            version: VERSION,
            profile: "embedded".into(),
            exported_at: at(0),
            scope: None,
            applications: 1,
            chats: 2,
            messages: 3,
        });
        let line = header.to_line();
        assert!(
            line.contains("\"applications\":1,\"chats\":2,\"messages\":3"),
            "{line}"
        );
        assert_eq!(Record::from_line(line.as_bytes()).unwrap(), header);
    }

    #[test]
    fn numbers_out_of_range_and_unknown_fields_are_refused() {
        let t = Token::generate();
        let ok = format!(
            r#"{{"type":"chat","application":"{t}","number":1,"messages_count":0,"last_message_number":0,"created_at":"2026-01-01T00:00:00.000000Z","updated_at":"2026-01-01T00:00:00.000000Z"}}"#
        );
        assert!(Record::from_line(ok.as_bytes()).is_ok());
        for bad in [
            ok.replace("\"number\":1", "\"number\":0"),
            ok.replace("\"number\":1", "\"number\":4294967296"),
            ok.replace("\"number\":1", "\"number\":\"1\""),
            ok.replace("\"messages_count\":0", "\"messages_count\":0,\"id\":5"),
            ok.replace(&t.to_string(), "ABC"),
            ok.replace("\"type\":\"chat\"", "\"type\":\"room\""),
            ok.replace("00.000000Z\",\"updated", "00.0000001Z\",\"updated"),
        ] {
            assert!(Record::from_line(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
