//! [`crate::HttpClient`]'s follow: reads a chat-server's `…/messages/stream` (server-sent
//! events) and reconnects by itself with `Last-Event-ID`, so its stream has the same
//! guarantees as [`crate::ChatService`]'s across server restarts and dropped connections.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use reqwest::Response;

use crate::error::{Error, Result};
use crate::live::{LiveEvent, LiveStream};
use crate::model::{Message, MessageNumber};

/// Opens the chat's event stream after a message number (`Last-Event-ID`), with no overall
/// timeout: a stream stays open as long as it is followed. The client supplies it, so this file
/// needs nothing of the client but this.
pub(crate) type Open = Arc<dyn Fn(u32) -> BoxFuture<'static, Result<Response>> + Send + Sync>;

/// First wait before reconnecting; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long the server may stay unreachable before the stream gives up with the error.
const GIVE_UP_AFTER: Duration = Duration::from_secs(120);
/// The server sends a comment every 15 s: this much silence means the connection is dead.
const IDLE: Duration = Duration::from_secs(45);

/// Opens the stream (failing at once for an unknown chat or a server that refuses it) and
/// returns the reconnecting stream of events after `after`.
pub(crate) async fn follow(open: Open, after: u32) -> Result<LiveStream> {
    let response = open(after).await?;
    let reader = Reader {
        open,
        last: after,
        response: Some(response),
        buf: Vec::new(),
        frame: Frame::default(),
        queue: VecDeque::new(),
        done: false,
    };
    Ok(Box::pin(futures::stream::unfold(
        reader,
        |mut r| async move { r.next().await.map(|item| (item, r)) },
    )))
}

/// The fields of the event being read.
#[derive(Default)]
struct Frame {
    event: String,
    data: String,
}

struct Reader {
    open: Open,
    last: u32,
    response: Option<Response>,
    buf: Vec<u8>,
    frame: Frame,
    queue: VecDeque<LiveEvent>,
    done: bool,
}

impl Reader {
    async fn next(&mut self) -> Option<Result<LiveEvent>> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            let Some(response) = self.response.as_mut() else {
                match self.reconnect().await {
                    Ok(r) => self.response = Some(r),
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
                continue;
            };
            match tokio::time::timeout(IDLE, response.chunk()).await {
                Ok(Ok(Some(bytes))) => {
                    self.buf.extend_from_slice(&bytes);
                    if let Err(e) = self.parse() {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
                // Ended (server shutdown, a follower cut off for being slow), broken or silent:
                // resume after the last message received.
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => {
                    self.response = None;
                    self.buf.clear();
                    self.frame = Frame::default();
                }
            }
        }
    }

    /// Opens the stream again after the last message received, waiting longer after each
    /// failure; gives up on an error that retrying cannot fix, or after [`GIVE_UP_AFTER`].
    async fn reconnect(&self) -> Result<Response> {
        let start = Instant::now();
        let mut delay = FIRST_BACKOFF;
        loop {
            tokio::time::sleep(delay).await;
            match (self.open)(self.last).await {
                Ok(r) => return Ok(r),
                Err(e @ Error::Unavailable { .. }) if start.elapsed() < GIVE_UP_AFTER => {
                    tracing::debug!(error = %e, "live stream: reconnecting");
                }
                Err(e) => return Err(e),
            }
            delay = (delay * 2).min(MAX_BACKOFF);
        }
    }

    /// Takes every complete line out of the buffer.
    fn parse(&mut self) -> Result<()> {
        while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buf.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8(line).map_err(|_| {
                Error::Internal("the server sent an event stream that is not UTF-8".into())
            })?;
            self.line(&line)?;
        }
        Ok(())
    }

    fn line(&mut self, line: &str) -> Result<()> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.frame.event = value.to_owned(),
            "data" => {
                if !self.frame.data.is_empty() {
                    self.frame.data.push('\n');
                }
                self.frame.data.push_str(value);
            }
            // `id` repeats the created message's number, which the data carries too.
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self) -> Result<()> {
        let frame = std::mem::take(&mut self.frame);
        let message = || -> Result<Message> {
            serde_json::from_str(&frame.data)
                .map_err(|e| Error::Internal(format!("unexpected event from the server: {e}")))
        };
        match frame.event.as_str() {
            "created" => {
                let m = message()?;
                // A reconnection resumes after `last`; never deliver a number twice.
                if m.number.get() > self.last {
                    self.last = m.number.get();
                    self.queue.push_back(LiveEvent::Created(m));
                }
            }
            "edited" => self.queue.push_back(LiveEvent::Edited(message()?)),
            "deleted" => {
                #[derive(serde::Deserialize)]
                struct Deleted {
                    number: MessageNumber,
                }
                let d: Deleted = serde_json::from_str(&frame.data).map_err(|e| {
                    Error::Internal(format!("unexpected event from the server: {e}"))
                })?;
                self.queue
                    .push_back(LiveEvent::Deleted { number: d.number });
            }
            // Kinds this client does not know yet (and empty frames) are skipped.
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn reader(last: u32) -> Reader {
        Reader {
            open: Arc::new(|_| Box::pin(async { Err(Error::Internal("not opened".into())) })),
            last,
            response: None,
            buf: Vec::new(),
            frame: Frame::default(),
            queue: VecDeque::new(),
            done: false,
        }
    }

    const M: &str = r#"{"number":N,"body":"hi","created_at":"2026-11-28T06:00:00Z","updated_at":"2026-11-28T06:00:00Z"}"#;

    #[test]
    fn frames_split_anywhere_are_parsed_once_complete() {
        let mut r = reader(1);
        let text = format!(
            ": keep-alive\n\nevent: created\r\ndata: {}\r\nid: 2\r\n\r\nevent: edited\ndata: {}\n\n\
             event: deleted\ndata: {{\"number\":1}}\n\nevent: archived\ndata: {{}}\n\n\
             event: created\ndata: {}\nid: 1\n\n",
            M.replace('N', "2"),
            M.replace('N', "1"),
            M.replace('N', "1"),
        );
        for piece in text.as_bytes().chunks(7) {
            r.buf.extend_from_slice(piece);
            r.parse().unwrap();
        }
        let kinds: Vec<(&str, u32)> = r
            .queue
            .iter()
            .map(|e| (e.kind(), e.number().get()))
            .collect();
        // The unknown kind is skipped; a created number at or below the last one is dropped.
        assert_eq!(kinds, [("created", 2), ("edited", 1), ("deleted", 1)]);
        assert_eq!(r.last, 2);
        assert!(r.buf.is_empty());
    }

    #[test]
    fn undecodable_data_is_an_error() {
        let mut r = reader(0);
        r.buf.extend_from_slice(b"event: created\ndata: {oops\n\n");
        assert!(matches!(r.parse(), Err(Error::Internal(_))));
    }
}
