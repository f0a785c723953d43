//! The ingest connection: a keep-alive HTTP/1.1 connection like
//! [`KeepAlive`](crate::rawhttp::KeepAlive) that also reports `Retry-After`.

use std::io;
use std::net::SocketAddr;

use anyhow::bail;
use tokio::net::TcpStream;

use crate::rawhttp::{self, Chunked};

/// One answer of the ingest connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Answer {
    pub(super) status: u16,
    /// `Retry-After` in seconds.
    pub(super) retry_after: Option<u64>,
    pub(super) close: bool,
}

/// The `Retry-After` delta-seconds of a response head, if any.
fn retry_after(head: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(head).ok()?;
    text.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if name.trim().eq_ignore_ascii_case("retry-after") { value.trim().parse().ok() } else { None }
    })
}

/// A keep-alive connection like [`KeepAlive`](crate::rawhttp::KeepAlive), which also reports `Retry-After`.
pub(super) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

/// Largest response accepted (head and body; answers here are small).
const MAX_RESPONSE: usize = 1 << 20;

impl Conn {
    pub(super) async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, buf: vec![0; 16 * 1024], start: 0, end: 0 })
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX_RESPONSE {
                bail!("response too large");
            }
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = rawhttp::read_some(&self.stream, &mut self.buf[self.end..]).await?;
        if n == 0 {
            bail!("connection closed by the server");
        }
        self.end += n;
        Ok(())
    }

    /// Sends `request` and reads the answer; its body goes to `body` (cleared first).
    pub(super) async fn exchange(&mut self, request: &[u8], body: &mut Vec<u8>) -> anyhow::Result<Answer> {
        body.clear();
        rawhttp::write_all(&self.stream, request).await?;
        let (head, retry) = loop {
            if let Some(n) = rawhttp::head_end(&self.buf[self.start..self.end]) {
                let raw = &self.buf[self.start..self.start + n];
                let parsed = (rawhttp::parse_head(raw)?, retry_after(raw));
                self.start += n;
                break parsed;
            }
            self.fill().await?;
        };
        if head.chunked {
            let mut decoder = Chunked::default();
            loop {
                let done = decoder.feed(&self.buf[self.start..self.end], |b| body.extend_from_slice(b))?;
                self.start = self.end;
                if done {
                    break;
                }
                if body.len() > MAX_RESPONSE {
                    bail!("response body too large");
                }
                self.fill().await?;
            }
        } else {
            let len = head.content_length.unwrap_or(0);
            if len > MAX_RESPONSE {
                bail!("response body too large");
            }
            while self.end - self.start < len {
                self.fill().await?;
            }
            body.extend_from_slice(&self.buf[self.start..self.start + len]);
            self.start += len;
        }
        Ok(Answer { status: head.status, retry_after: retry, close: head.close })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_header() {
        assert_eq!(retry_after(b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 2\r\n\r\n"), Some(2));
        assert_eq!(retry_after(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After:7\r\n\r\n"), Some(7));
        assert_eq!(retry_after(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"), None);
    }
}
