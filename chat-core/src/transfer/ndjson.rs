//! NDJSON in and out: reading records from bytes with a bound on the length of a line, and
//! writing them in their canonical form.

use std::pin::Pin;

use futures::Stream;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use super::record::{Record, RecordStream};
use super::validate::bad_line;
use crate::error::{Error, Result};

/// The longest line a reader accepts (1 MiB): the largest valid line, a 16 KiB body of
/// characters that JSON escapes as `\u00XX`, is about 100 KiB.
pub const MAX_LINE_BYTES: usize = 1 << 20;

struct Lines<R> {
    reader: BufReader<R>,
    buf: Vec<u8>,
    line: u64,
    done: bool,
}

fn read_error(line: u64, e: std::io::Error) -> Error {
    Error::unavailable("input", format!("reading line {line}: {e}"))
}

impl<R: AsyncRead + Unpin> Lines<R> {
    /// The next line without its line break, `None` at the end; a line longer than
    /// [`MAX_LINE_BYTES`] fails as soon as that much of it was read.
    async fn next(&mut self) -> Result<Option<&[u8]>> {
        self.buf.clear();
        self.line += 1;
        let line = self.line;
        loop {
            let available = self
                .reader
                .fill_buf()
                .await
                .map_err(|e| read_error(line, e))?;
            if available.is_empty() {
                return Ok((!self.buf.is_empty()).then_some(&self.buf[..]));
            }
            let (take, found) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (available.len(), false),
            };
            if self.buf.len() + take > MAX_LINE_BYTES {
                return Err(bad_line(
                    line,
                    format!("the line is longer than {MAX_LINE_BYTES} bytes"),
                ));
            }
            self.buf.extend_from_slice(&available[..take]);
            self.reader.consume(take + usize::from(found));
            if found {
                if self.buf.last() == Some(&b'\r') {
                    self.buf.pop();
                }
                return Ok(Some(&self.buf[..]));
            }
        }
    }

    async fn record(&mut self) -> Option<Result<Record>> {
        if self.done {
            return None;
        }
        let result = match self.next().await {
            Ok(None) => return None,
            Ok(Some([])) => Err(bad_line(self.line, "an empty line")),
            Ok(Some(bytes)) => {
                Record::from_line(bytes).map_err(|e| bad_line(self.line, describe(&e)))
            }
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.done = true;
        }
        Some(result)
    }
}

/// A serde_json error without its own line/column (the line is ours; the column stays).
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => format!("{} (column {})", &text[..i], e.column()),
        None => text,
    }
}

/// Reads records from NDJSON bytes, one per line, failing with the line number on a line that
/// is not a record (not JSON, an unknown `type`, a field of the wrong type or out of range,
/// a line over [`MAX_LINE_BYTES`]). The stream's order and checksum are checked by the
/// restore that consumes it ([`super::Validator`]).
pub fn read_records<R>(reader: R) -> RecordStream
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let lines = Lines {
        reader: BufReader::with_capacity(256 * 1024, reader),
        buf: Vec::with_capacity(4096),
        line: 0,
        done: false,
    };
    let stream = futures::stream::unfold(lines, |mut lines| async move {
        let item = lines.record().await?;
        Some((item, lines))
    });
    Box::pin(stream) as Pin<Box<dyn Stream<Item = Result<Record>> + Send>>
}

/// Writes records as NDJSON to `out` (buffered; flushed at the end); returns how many.
pub async fn write_records<W>(mut records: RecordStream, out: &mut W) -> Result<u64>
where
    W: AsyncWrite + Unpin,
{
    use futures::StreamExt;
    let mut buf = Vec::with_capacity(256 * 1024);
    let mut n = 0u64;
    let write_error = |e: std::io::Error| Error::unavailable("output", e);
    while let Some(record) = records.next().await {
        record?.write_line(&mut buf);
        n += 1;
        if buf.len() >= 192 * 1024 {
            out.write_all(&buf).await.map_err(write_error)?;
            buf.clear();
        }
    }
    out.write_all(&buf).await.map_err(write_error)?;
    out.flush().await.map_err(write_error)?;
    Ok(n)
}

/// Bytes arriving in chunks (a response body, a blocking reader's thread), as an
/// [`tokio::io::AsyncRead`].
pub(crate) struct ChunkReader {
    chunks: Pin<Box<dyn Stream<Item = std::io::Result<Vec<u8>>> + Send>>,
    buf: Vec<u8>,
    pos: usize,
}

impl ChunkReader {
    pub(crate) fn new(
        chunks: Pin<Box<dyn Stream<Item = std::io::Result<Vec<u8>>> + Send>>,
    ) -> Self {
        ChunkReader {
            chunks,
            buf: Vec::new(),
            pos: 0,
        }
    }
}

impl AsyncRead for ChunkReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        loop {
            if self.pos < self.buf.len() {
                let n = out.remaining().min(self.buf.len() - self.pos);
                let start = self.pos;
                out.put_slice(&self.buf[start..start + n]);
                self.pos += n;
                return Poll::Ready(Ok(()));
            }
            match self.chunks.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    self.buf = chunk;
                    self.pos = 0;
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// [`read_records`] over a blocking reader (stdin, a pipe), read on a thread of its own a few
/// chunks ahead of the stream.
pub fn read_records_blocking<R>(mut reader: R) -> RecordStream
where
    R: std::io::Read + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    std::thread::spawn(move || loop {
        let mut chunk = vec![0u8; 256 * 1024];
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                chunk.truncate(n);
                if tx.blocking_send(Ok(chunk)).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                break;
            }
        }
    });
    let chunks =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    read_records(ChunkReader::new(Box::pin(chunks)))
}
