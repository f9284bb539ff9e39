//! [`Validator`]: checks a stream of records line by line, as a restore reads it and as an
//! export writes it, and computes the checksum of its content.
//!
//! A stream is refused at the first line that breaks a rule, with that line's number: the
//! header must come first with a known format and version; applications must have distinct
//! tokens (and be the one the header's scope names); chats follow their application and
//! messages their chat, each in strictly increasing number order and at most the highest number
//! their parent handed out; counts must equal the lines that follow; names and bodies obey the
//! API's rules; the end line must repeat the totals and carry the checksum of every line in
//! between; nothing may follow it, and a stream without it is truncated.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use super::record::{
    ApplicationRecord, ChatRecord, End, Header, MessageRecord, Record, Totals, FORMAT, VERSION,
};
use crate::error::{Error, Result};
use crate::model::{Body, Name, Token, MAX_NUMBER};

/// The error for line `line` of a stream.
pub(crate) fn bad_line(line: u64, reason: impl std::fmt::Display) -> Error {
    Error::invalid("stream", format!("line {line}: {reason}"))
}

#[derive(Debug)]
struct OpenApp {
    token: Token,
    chats_count: u64,
    last_chat_number: u32,
    chats: u64,
    last_chat: u32,
}

#[derive(Debug)]
struct OpenChat {
    number: u32,
    messages_count: u64,
    last_message_number: u32,
    messages: u64,
    last_message: u32,
}

/// Checks records in stream order; see the module documentation for the rules.
#[derive(Debug)]
pub struct Validator {
    line: u64,
    header: Option<Header>,
    app: Option<OpenApp>,
    chat: Option<OpenChat>,
    tokens: HashSet<Token>,
    totals: Totals,
    hasher: Sha256,
    ended: bool,
    buf: Vec<u8>,
}

impl Default for Validator {
    fn default() -> Self {
        Self::new()
    }
}

impl Validator {
    /// A validator expecting the header next.
    pub fn new() -> Self {
        Validator {
            line: 0,
            header: None,
            app: None,
            chat: None,
            tokens: HashSet::new(),
            totals: Totals::default(),
            hasher: Sha256::new(),
            ended: false,
            buf: Vec::with_capacity(1024),
        }
    }

    /// The number of the last line checked (1 for the header).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The lines counted so far.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// The header, once checked.
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// `sha256:` and the hex digest of the content lines checked so far.
    pub fn checksum(&self) -> String {
        let digest = self.hasher.clone().finalize();
        let mut s = String::with_capacity(7 + 64);
        s.push_str("sha256:");
        for b in digest {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// The end line of the content checked so far (what an export writes last).
    pub fn end_record(&self) -> Record {
        Record::End(End {
            applications: self.totals.applications,
            chats: self.totals.chats,
            messages: self.totals.messages,
            checksum: self.checksum(),
        })
    }

    /// Checks the next line's record.
    pub fn check(&mut self, record: &Record) -> Result<()> {
        self.line += 1;
        let line = self.line;
        if self.ended {
            return Err(bad_line(line, "a line after the end line"));
        }
        if self.header.is_none() {
            return match record {
                Record::Header(h) => self.check_header(h),
                other => Err(bad_line(
                    line,
                    format!(
                        "expected the header ({{\"type\":\"header\",\"format\":\"{FORMAT}\",…}}), \
                         found a {} line: is this an export stream?",
                        other.kind()
                    ),
                )),
            };
        }
        match record {
            Record::Header(_) => Err(bad_line(line, "a second header")),
            Record::Application(a) => self.check_application(a),
            Record::Chat(c) => self.check_chat(c),
            Record::Message(m) => self.check_message(m),
            Record::End(e) => self.check_end(e),
        }?;
        if !matches!(record, Record::End(_)) {
            self.buf.clear();
            record.write_line(&mut self.buf);
            self.hasher.update(&self.buf);
        }
        Ok(())
    }

    /// Confirms that the stream ended with its end line (else it was truncated).
    pub fn finish(&self) -> Result<()> {
        if self.ended {
            Ok(())
        } else if self.header.is_none() {
            Err(bad_line(1, "the stream is empty (no header line)"))
        } else {
            Err(bad_line(
                self.line + 1,
                format!(
                    "the stream is truncated: it ends after line {} without its end line",
                    self.line
                ),
            ))
        }
    }

    fn check_header(&mut self, h: &Header) -> Result<()> {
        if h.format != FORMAT {
            return Err(bad_line(
                1,
                format!("unknown format {:?} (expected {FORMAT:?})", h.format),
            ));
        }
        if h.version != VERSION {
            return Err(bad_line(
                1,
                format!(
                    "unknown format version {} (this chatctl reads version {VERSION})",
                    h.version
                ),
            ));
        }
        self.header = Some(h.clone());
        Ok(())
    }

    /// Closes the open chat: its message lines must match its count.
    fn close_chat(&mut self) -> Result<()> {
        if let Some(chat) = self.chat.take() {
            if chat.messages != chat.messages_count {
                return Err(bad_line(
                    self.line,
                    format!(
                        "chat {} announced messages_count {} but {} message lines followed it",
                        chat.number, chat.messages_count, chat.messages
                    ),
                ));
            }
        }
        Ok(())
    }

    fn close_app(&mut self) -> Result<()> {
        self.close_chat()?;
        if let Some(app) = self.app.take() {
            if app.chats != app.chats_count {
                return Err(bad_line(
                    self.line,
                    format!(
                        "application {} announced chats_count {} but {} chat lines followed it",
                        app.token, app.chats_count, app.chats
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_application(&mut self, a: &ApplicationRecord) -> Result<()> {
        let line = self.line;
        self.close_app()?;
        if let Some(Some(scope)) = self.header.as_ref().map(|h| &h.scope) {
            if *scope != a.token {
                return Err(bad_line(
                    line,
                    format!(
                        "application {} is outside the header's scope {scope}",
                        a.token
                    ),
                ));
            }
        }
        if !self.tokens.insert(a.token.clone()) {
            return Err(bad_line(
                line,
                format!("application {} appears twice", a.token),
            ));
        }
        Name::parse(&a.name).map_err(|e| bad_line(line, e))?;
        if a.last_chat_number > MAX_NUMBER {
            return Err(bad_line(
                line,
                format!(
                    "last_chat_number {} is above {MAX_NUMBER}",
                    a.last_chat_number
                ),
            ));
        }
        self.totals.applications += 1;
        self.app = Some(OpenApp {
            token: a.token.clone(),
            chats_count: a.chats_count,
            last_chat_number: a.last_chat_number,
            chats: 0,
            last_chat: 0,
        });
        Ok(())
    }

    fn check_chat(&mut self, c: &ChatRecord) -> Result<()> {
        let line = self.line;
        self.close_chat()?;
        let Some(app) = self.app.as_mut() else {
            return Err(bad_line(line, "a chat line before any application line"));
        };
        if c.application != app.token {
            return Err(bad_line(
                line,
                format!(
                    "chat {} belongs to application {}, but the lines before it are of {}",
                    c.number, c.application, app.token
                ),
            ));
        }
        let n = c.number.get();
        if n <= app.last_chat {
            return Err(bad_line(
                line,
                format!(
                    "chat {n} after chat {}: chats must be in increasing number order, each once",
                    app.last_chat
                ),
            ));
        }
        if n > app.last_chat_number {
            return Err(bad_line(
                line,
                format!(
                    "chat {n} is above its application's last_chat_number {}",
                    app.last_chat_number
                ),
            ));
        }
        if c.last_message_number > MAX_NUMBER {
            return Err(bad_line(
                line,
                format!(
                    "last_message_number {} is above {MAX_NUMBER}",
                    c.last_message_number
                ),
            ));
        }
        app.last_chat = n;
        app.chats += 1;
        self.totals.chats += 1;
        self.chat = Some(OpenChat {
            number: n,
            messages_count: c.messages_count,
            last_message_number: c.last_message_number,
            messages: 0,
            last_message: 0,
        });
        Ok(())
    }

    fn check_message(&mut self, m: &MessageRecord) -> Result<()> {
        let line = self.line;
        let (Some(app), Some(chat)) = (self.app.as_ref(), self.chat.as_mut()) else {
            return Err(bad_line(line, "a message line before any chat line"));
        };
        if m.application != app.token || m.chat.get() != chat.number {
            return Err(bad_line(
                line,
                format!(
                    "message {} belongs to chat {} of {}, but the lines before it are of chat {} of {}",
                    m.number, m.chat, m.application, chat.number, app.token
                ),
            ));
        }
        let n = m.number.get();
        if n <= chat.last_message {
            return Err(bad_line(
                line,
                format!(
                    "message {n} after message {}: messages must be in increasing number order, \
                     each once",
                    chat.last_message
                ),
            ));
        }
        if n > chat.last_message_number {
            return Err(bad_line(
                line,
                format!(
                    "message {n} is above its chat's last_message_number {}",
                    chat.last_message_number
                ),
            ));
        }
        Body::parse(&m.body).map_err(|e| bad_line(line, e))?;
        chat.last_message = n;
        chat.messages += 1;
        self.totals.messages += 1;
        Ok(())
    }

    fn check_end(&mut self, e: &End) -> Result<()> {
        let line = self.line;
        self.close_app()?;
        let counted = self.totals;
        let said = Totals {
            applications: e.applications,
            chats: e.chats,
            messages: e.messages,
        };
        let announced = self.header.as_ref().map(Header::totals).unwrap_or_default();
        if said != counted || announced != counted {
            return Err(bad_line(
                line,
                format!(
                    "the totals do not match the lines: counted {counted:?}, the header said \
                     {announced:?}, the end line says {said:?}"
                ),
            ));
        }
        let checksum = self.checksum();
        if e.checksum != checksum {
            return Err(bad_line(
                line,
                format!(
                    "checksum mismatch: the end line says {}, the content gives {checksum}: \
                     the stream was altered",
                    e.checksum
                ),
            ));
        }
        self.ended = true;
        Ok(())
    }
}
