//! A minimal HTTP/1.1 client over plain TCP to 127.0.0.1: just enough to
//! read a response head, a `Content-Length` or chunked body, and an SSE
//! stream's `event:`/`id:` lines. Used where reqwest's per-connection and
//! per-request cost would be measured instead of the server's (10,000 SSE
//! connections; the OFREP/healthz comparison) and where a timestamp must not
//! wait for a busy runtime (the admin PATCH of `sse`, on a blocking thread).

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::net::TcpStream;

/// Largest response head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest non-streamed body accepted.
const MAX_BODY: usize = 1 << 20;

/// The parts of a response head this tool needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub content_length: Option<usize>,
    pub chunked: bool,
    /// `Connection: close`.
    pub close: bool,
    /// `Retry-After` in seconds.
    pub retry_after: Option<u64>,
}

/// Where a head ends (`\r\n\r\n`): the index just after it.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Parses a head (status line and headers, up to and including the blank line).
pub fn parse_head(head: &[u8]) -> anyhow::Result<Head> {
    let text = std::str::from_utf8(head).context("response head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if !version.starts_with("HTTP/1.") {
        bail!("not an HTTP/1.x response: `{status_line}`");
    }
    let status = code.parse().with_context(|| format!("bad status line `{status_line}`"))?;
    let mut out = Head { status, content_length: None, chunked: false, close: false, retry_after: None };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            out.content_length = Some(value.parse().with_context(|| format!("bad Content-Length `{value}`"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            out.chunked = value.to_ascii_lowercase().split(',').any(|t| t.trim() == "chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            out.close = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("retry-after") {
            out.retry_after = value.parse().ok();
        }
    }
    Ok(out)
}

/// An incremental decoder of a chunked body.
#[derive(Debug, Default)]
pub struct Chunked {
    state: ChunkState,
    /// Data bytes left in the current chunk, or the size being parsed.
    size: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Hex digits of a chunk size.
    #[default]
    Size,
    /// A chunk extension, up to the line's end.
    Ext,
    /// `\n` after the size line's `\r`.
    SizeLf,
    Data,
    /// `\r\n` after a chunk's data.
    DataCr,
    DataLf,
    /// Trailers after the last (empty) chunk, up to an empty line.
    Trailer {
        line_len: u8,
    },
    Done,
}

impl Chunked {
    /// Decodes `input`, handing each run of body bytes to `out`; `Ok(true)`
    /// once the last chunk (and its trailers) has been read.
    pub fn feed(&mut self, input: &[u8], mut out: impl FnMut(&[u8])) -> anyhow::Result<bool> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                ChunkState::Size => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        let digit = (b as char).to_digit(16).unwrap_or(0) as u64;
                        self.size = self.size.checked_mul(16).context("chunk size overflow")? + digit;
                        i += 1;
                    }
                    b';' | b' ' | b'\t' => {
                        self.state = ChunkState::Ext;
                        i += 1;
                    }
                    b'\r' => {
                        self.state = ChunkState::SizeLf;
                        i += 1;
                    }
                    _ => bail!("bad chunk size byte {b:#04x}"),
                },
                ChunkState::Ext => {
                    if b == b'\r' {
                        self.state = ChunkState::SizeLf;
                    }
                    i += 1;
                }
                ChunkState::SizeLf => {
                    if b != b'\n' {
                        bail!("chunk size line not ended by CRLF");
                    }
                    i += 1;
                    self.state = if self.size == 0 { ChunkState::Trailer { line_len: 0 } } else { ChunkState::Data };
                }
                ChunkState::Data => {
                    let n = (input.len() - i).min(usize::try_from(self.size).unwrap_or(usize::MAX));
                    out(&input[i..i + n]);
                    i += n;
                    self.size -= n as u64;
                    if self.size == 0 {
                        self.state = ChunkState::DataCr;
                    }
                }
                ChunkState::DataCr | ChunkState::DataLf => {
                    let want = if self.state == ChunkState::DataCr { b'\r' } else { b'\n' };
                    if b != want {
                        bail!("chunk data not followed by CRLF");
                    }
                    i += 1;
                    self.state = if want == b'\r' { ChunkState::DataLf } else { ChunkState::Size };
                }
                ChunkState::Trailer { line_len } => {
                    i += 1;
                    self.state = match b {
                        b'\r' => ChunkState::Trailer { line_len },
                        b'\n' if line_len == 0 => ChunkState::Done,
                        b'\n' => ChunkState::Trailer { line_len: 0 },
                        _ => ChunkState::Trailer { line_len: line_len.saturating_add(1) },
                    };
                }
                ChunkState::Done => return Ok(true),
            }
        }
        Ok(self.state == ChunkState::Done)
    }
}

/// What an SSE line scanner reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseItem {
    /// An event with an `id:` was dispatched (its blank line was read: an
    /// SSE client has the whole event only then), with its `event:` type.
    Id { id: i64, event: Event },
    /// An event whose `id:` value is not a whole number was dispatched.
    BadId,
}

/// The event type of an SSE event, as far as this tool cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Event {
    Put,
    Patch,
    #[default]
    Other,
}

/// Splits an SSE byte stream into lines, keeping only each line's first
/// bytes (`event:` and `id:` lines are short; `data:` lines are skipped).
#[derive(Debug, Default)]
pub struct SseLines {
    line: [u8; 32],
    len: usize,
    event: Event,
    /// The current event's `id:` (`Some(None)`: not a number), reported at
    /// the blank line that ends the event.
    id: Option<Option<i64>>,
}

impl SseLines {
    /// Scans `data`, calling `on` for every event with an `id:` line when
    /// the event ends (the blank line after its `data:`).
    pub fn feed(&mut self, mut data: &[u8], mut on: impl FnMut(SseItem)) {
        while !data.is_empty() {
            // memchr: a 20 KB `data:` line is scanned a word at a time, not
            // a byte (1,000 clients share the server's two cores).
            match memchr::memchr(b'\n', data) {
                Some(nl) => {
                    self.push(&data[..nl]);
                    self.line_done(&mut on);
                    data = &data[nl + 1..];
                }
                None => {
                    self.push(data);
                    data = &[];
                }
            }
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.line.len() - self.len);
        self.line[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        // Past the buffer: remember that the line is long without keeping it.
        self.len += n;
        if n < bytes.len() {
            self.len = self.line.len();
        }
    }

    fn line_done(&mut self, on: &mut impl FnMut(SseItem)) {
        let mut line = &self.line[..self.len];
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        if line.is_empty() {
            match self.id.take() {
                Some(Some(id)) => on(SseItem::Id { id, event: self.event }),
                Some(None) => on(SseItem::BadId),
                None => {}
            }
            self.event = Event::Other;
        } else if let Some(v) = field(line, b"event") {
            self.event = match v {
                b"put" => Event::Put,
                b"patch" => Event::Patch,
                _ => Event::Other,
            };
        } else if let Some(v) = field(line, b"id") {
            self.id = Some(std::str::from_utf8(v).ok().and_then(|s| s.parse::<i64>().ok()));
        }
        self.len = 0;
    }
}

/// The value of an SSE field line `name: value` (one optional space).
fn field<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let rest = line.strip_prefix(name)?.strip_prefix(b":")?;
    Some(rest.strip_prefix(b" ").unwrap_or(rest))
}

/// Writes all of `bytes` to a non-blocking tokio stream.
pub async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads what is available (at least one byte, or 0 at end of stream).
pub async fn read_some(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        stream.readable().await?;
        match stream.try_read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// One keep-alive connection sending requests one at a time (async).
pub struct KeepAlive {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

impl KeepAlive {
    pub async fn connect(addr: std::net::SocketAddr) -> io::Result<KeepAlive> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(KeepAlive { stream, buf: vec![0; 16 * 1024], start: 0, end: 0 })
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX_HEAD + MAX_BODY {
                bail!("response too large");
            }
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = read_some(&self.stream, &mut self.buf[self.end..]).await?;
        if n == 0 {
            bail!("connection closed by the server");
        }
        self.end += n;
        Ok(())
    }

    /// Sends `request` (a whole HTTP/1.1 request) and reads the answer;
    /// the body is appended to `body` (cleared first). Fails when the server
    /// closes the connection after answering.
    pub async fn exchange(&mut self, request: &[u8], body: &mut Vec<u8>) -> anyhow::Result<Head> {
        let head = self.send(request, body).await?;
        if head.close {
            bail!("the server closed the keep-alive connection");
        }
        Ok(head)
    }

    /// Like [`exchange`](Self::exchange), but answers also when the server
    /// says it closes the connection (`Head::close`: connect again).
    pub async fn send(&mut self, request: &[u8], body: &mut Vec<u8>) -> anyhow::Result<Head> {
        body.clear();
        write_all(&self.stream, request).await?;
        let head = loop {
            if let Some(n) = head_end(&self.buf[self.start..self.end]) {
                let head = parse_head(&self.buf[self.start..self.start + n])?;
                self.start += n;
                break head;
            }
            if self.end - self.start > MAX_HEAD {
                bail!("response head too large");
            }
            self.fill().await?;
        };
        if head.chunked {
            let mut decoder = Chunked::default();
            loop {
                let input = &self.buf[self.start..self.end];
                let done = decoder.feed(input, |b| body.extend_from_slice(b))?;
                self.start = self.end;
                if done {
                    break;
                }
                if body.len() > MAX_BODY {
                    bail!("response body too large");
                }
                self.fill().await?;
            }
        } else {
            let len = head.content_length.unwrap_or(0);
            if len > MAX_BODY {
                bail!("response body too large");
            }
            while self.end - self.start < len {
                self.fill().await?;
            }
            body.extend_from_slice(&self.buf[self.start..self.start + len]);
            self.start += len;
        }
        Ok(head)
    }
}

/// One keep-alive connection on a blocking socket (for a thread of its own).
pub struct BlockingConn {
    stream: std::net::TcpStream,
    buf: Vec<u8>,
}

impl BlockingConn {
    pub fn connect(addr: std::net::SocketAddr, timeout: Duration) -> io::Result<BlockingConn> {
        let stream = std::net::TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(BlockingConn { stream, buf: Vec::with_capacity(16 * 1024) })
    }

    /// Sends `request`, reads the whole answer, and returns its head, body and
    /// the instant its last byte was read.
    pub fn exchange(&mut self, request: &[u8]) -> anyhow::Result<(Head, Vec<u8>, Instant)> {
        self.stream.write_all(request)?;
        self.buf.clear();
        let mut chunk = [0u8; 8192];
        let (head, head_len) = loop {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                bail!("connection closed by the server");
            }
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = head_end(&self.buf) {
                break (parse_head(&self.buf[..end])?, end);
            }
            if self.buf.len() > MAX_HEAD {
                bail!("response head too large");
            }
        };
        let mut body = Vec::new();
        if head.chunked {
            let mut decoder = Chunked::default();
            let mut done = decoder.feed(&self.buf[head_len..], |b| body.extend_from_slice(b))?;
            while !done {
                let n = self.stream.read(&mut chunk)?;
                if n == 0 || body.len() > MAX_BODY {
                    bail!("chunked body cut short or too large");
                }
                done = decoder.feed(&chunk[..n], |b| body.extend_from_slice(b))?;
            }
        } else {
            let len = head.content_length.unwrap_or(0);
            if len > MAX_BODY {
                bail!("response body too large");
            }
            body.extend_from_slice(&self.buf[head_len..]);
            while body.len() < len {
                let n = self.stream.read(&mut chunk)?;
                if n == 0 {
                    bail!("body cut short");
                }
                body.extend_from_slice(&chunk[..n]);
            }
            body.truncate(len);
        }
        let at = Instant::now();
        if head.close {
            bail!("the server closed the keep-alive connection");
        }
        Ok((head, body, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\nxx";
        let end = head_end(raw).unwrap();
        assert_eq!(&raw[end..], b"xx");
        let h = parse_head(&raw[..end]).unwrap();
        assert_eq!(h, Head { status: 200, content_length: None, chunked: true, close: false, retry_after: None });
        let h = parse_head(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 12\r\nconnection: close\r\n\r\n").unwrap();
        assert_eq!((h.status, h.content_length, h.close), (401, Some(12), true));
        assert!(parse_head(b"SSH-2.0\r\n\r\n").is_err());
        let retry_after = |raw: &[u8]| parse_head(raw).unwrap().retry_after;
        assert_eq!(retry_after(b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 2\r\n\r\n"), Some(2));
        assert_eq!(retry_after(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After:7\r\n\r\n"), Some(7));
        assert_eq!(retry_after(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"), None);
    }

    #[test]
    fn chunked_in_any_split() {
        let raw = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-T: 1\r\n\r\n";
        for split in 0..raw.len() {
            let mut d = Chunked::default();
            let mut out = Vec::new();
            let a = d.feed(&raw[..split], |b| out.extend_from_slice(b)).unwrap();
            let b = d.feed(&raw[split..], |b| out.extend_from_slice(b)).unwrap();
            assert!(!a || split == raw.len());
            assert!(b, "split {split}");
            assert_eq!(out, b"hello, world");
        }
        assert!(Chunked::default().feed(b"zz\r\n", |_| {}).is_err());
    }

    #[test]
    fn sse_ids_in_any_split() {
        let long = "x".repeat(500);
        let raw = format!(
            "retry: 1000\n\nevent: put\nid: 7\ndata: {{\"a\":\"{long}\"}}\n\n: heartbeat\n\n\
             event: patch\nid: 8\ndata: {{}}\n\nevent: patch\r\nid:9\r\ndata: {{}}\r\n\r\nid: nope\n\n"
        );
        let raw = raw.as_bytes();
        for split in [0, 1, 5, 20, 30, 300, raw.len() - 3, raw.len()] {
            let mut lines = SseLines::default();
            let mut got = Vec::new();
            lines.feed(&raw[..split], |i| got.push(i));
            lines.feed(&raw[split..], |i| got.push(i));
            assert_eq!(
                got,
                vec![
                    SseItem::Id { id: 7, event: Event::Put },
                    SseItem::Id { id: 8, event: Event::Patch },
                    SseItem::Id { id: 9, event: Event::Patch },
                    SseItem::BadId,
                ],
                "split {split}"
            );
        }
    }

    #[test]
    fn an_event_counts_once_its_data_is_read() {
        let mut lines = SseLines::default();
        let mut got = Vec::new();
        lines.feed(b"event: patch\nid: 8\ndata: {\"flags\":", |i| got.push(i));
        assert!(got.is_empty(), "reported before the data: {got:?}");
        lines.feed(b"{}}\n", |i| got.push(i));
        assert!(got.is_empty(), "reported before the blank line: {got:?}");
        lines.feed(b"\n", |i| got.push(i));
        assert_eq!(got, vec![SseItem::Id { id: 8, event: Event::Patch }]);
    }
}
