//! A Server-Sent Events parser following the WHATWG `EventSource` rules
//! (HTML § 9.2.6 "Interpreting an event stream").
//!
//! Bytes go in as they arrive, in chunks of any size; lines end with CR, LF
//! or CRLF (a CRLF split across chunks counts once); a UTF-8 BOM at the start
//! is skipped; `data:` lines are joined with `\n`; `id:` persists across
//! events (and is ignored when it holds NUL); `retry:` is taken only when it
//! is all ASCII digits; unknown fields are ignored; comment lines (`:`)
//! are reported so the caller can count them as liveness; an event is
//! dispatched on a blank line and only when it has data; a partial event at
//! the end of the stream is dropped (the caller simply stops feeding).

use std::borrow::Cow;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` field, `message` when absent.
    pub(crate) event: String,
    /// The `data:` lines joined with `\n`.
    pub(crate) data: String,
    /// The last event id seen (`id:` persists until changed).
    pub(crate) id: String,
}

/// What a chunk of bytes produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    Event(SseEvent),
    /// A `retry:` field: the reconnection delay in milliseconds.
    Retry(u64),
    /// A comment line (heartbeat).
    Comment,
}

/// An event or line larger than the parser's limit.
#[derive(Debug, thiserror::Error)]
#[error("an SSE event exceeds {0} bytes")]
pub(crate) struct TooLarge(pub(crate) usize);

#[derive(Debug)]
pub(crate) struct Parser {
    /// Bytes of the line being received.
    line: Vec<u8>,
    /// The previous chunk ended with CR: a leading LF of the next one is
    /// the second half of a CRLF.
    after_cr: bool,
    /// No line processed yet (a BOM may lead the stream).
    first_line: bool,
    event: String,
    data: String,
    last_id: String,
    max: usize,
}

impl Parser {
    /// A parser refusing lines or events above `max` bytes.
    pub(crate) fn new(max: usize) -> Self {
        Parser {
            line: Vec::new(),
            after_cr: false,
            first_line: true,
            event: String::new(),
            data: String::new(),
            last_id: String::new(),
            max,
        }
    }

    /// Parses one chunk, appending what it completes to `out`.
    pub(crate) fn feed(&mut self, chunk: &[u8], out: &mut Vec<Item>) -> Result<(), TooLarge> {
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while let Some(i) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            if self.line.is_empty() {
                self.line_done(&rest[..i], out);
            } else {
                self.line.extend_from_slice(&rest[..i]);
                let line = std::mem::take(&mut self.line);
                self.line_done(&line, out);
                self.line = line;
                self.line.clear();
            }
            if self.data.len() > self.max {
                return Err(TooLarge(self.max));
            }
            let cr = rest[i] == b'\r';
            rest = &rest[i + 1..];
            if cr {
                match rest.first() {
                    None => self.after_cr = true,
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                }
            }
        }
        if self.line.len() + rest.len() > self.max {
            return Err(TooLarge(self.max));
        }
        self.line.extend_from_slice(rest);
        Ok(())
    }

    fn line_done(&mut self, mut line: &[u8], out: &mut Vec<Item>) {
        if self.first_line {
            self.first_line = false;
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            out.push(Item::Comment);
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let value: Cow<'_, str> = String::from_utf8_lossy(value);
        let value: &str = &value;
        match field {
            b"event" => value.clone_into(&mut self.event),
            b"data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            b"id" if !value.contains('\0') => value.clone_into(&mut self.last_id),
            b"retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                out.push(Item::Retry(value.parse().unwrap_or(u64::MAX)));
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Item>) {
        if self.data.is_empty() {
            self.event.clear();
            return;
        }
        self.data.pop(); // the trailing '\n'
        let event = if self.event.is_empty() { "message".to_owned() } else { std::mem::take(&mut self.event) };
        out.push(Item::Event(SseEvent { event, data: std::mem::take(&mut self.data), id: self.last_id.clone() }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: &str, data: &str, id: &str) -> Item {
        Item::Event(SseEvent { event: event.into(), data: data.into(), id: id.into() })
    }

    fn parse_chunks(chunks: &[&[u8]]) -> Vec<Item> {
        let mut p = Parser::new(1 << 20);
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out).unwrap();
        }
        out
    }

    /// Every split of `input` into two and three chunks parses the same.
    fn parse_all_splits(input: &[u8]) -> Vec<Item> {
        let whole = parse_chunks(&[input]);
        for i in 0..=input.len() {
            assert_eq!(parse_chunks(&[&input[..i], &input[i..]]), whole, "split at {i}");
            for j in i..=input.len() {
                assert_eq!(parse_chunks(&[&input[..i], &input[i..j], &input[j..]]), whole, "split at {i},{j}");
            }
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(parse_chunks(&bytes), whole, "byte by byte");
        whole
    }

    #[test]
    fn protocol_stream() {
        let input = b"retry: 1000\n\n: heartbeat\n\nevent: put\nid: 42\ndata: {\"version\": 42}\n\n\
                      event: patch\nid: 43\ndata: {\"version\": 43,\ndata:  \"flags\": {}}\n\n";
        assert_eq!(
            parse_all_splits(input),
            vec![
                Item::Retry(1000),
                Item::Comment,
                ev("put", "{\"version\": 42}", "42"),
                ev("patch", "{\"version\": 43,\n \"flags\": {}}", "43"),
            ]
        );
    }

    #[test]
    fn line_endings_cr_lf_crlf_mixed() {
        let input = b"data: a\r\ndata: b\rdata: c\n\r\nevent: x\rdata\r\r\ndata:d\n\n";
        assert_eq!(
            parse_all_splits(input),
            vec![ev("message", "a\nb\nc", ""), ev("x", "", ""), ev("message", "d", "")]
        );
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_end() {
        // "data: a\r" | "\n\r" | "\n": two line ends, i.e. one blank line → one event.
        assert_eq!(parse_chunks(&[b"data: a\r", b"\n\r", b"\n"]), vec![ev("message", "a", "")]);
        // A lone CR at the end of a chunk then data: not a CRLF.
        assert_eq!(
            parse_chunks(&[b"data: a\r", b"\rdata: b\n\n"]),
            vec![ev("message", "a", ""), ev("message", "b", "")]
        );
    }

    #[test]
    fn fields_values_and_spaces() {
        // Only one leading space is removed; no colon means an empty value;
        // unknown fields are ignored; field names are case-sensitive.
        let input = b"data:  two spaces\nDATA: ignored\nfoo: bar\ndata\n\n";
        assert_eq!(parse_all_splits(input), vec![ev("message", " two spaces\n", "")]);
    }

    #[test]
    fn ids_persist_and_nul_ids_are_ignored() {
        let input = b"id: 7\ndata: a\n\ndata: b\n\nid: 8\0\ndata: c\n\nid\ndata: d\n\n";
        assert_eq!(
            parse_all_splits(input),
            vec![ev("message", "a", "7"), ev("message", "b", "7"), ev("message", "c", "7"), ev("message", "d", "")]
        );
    }

    #[test]
    fn events_without_data_are_not_dispatched_but_reset_the_type() {
        let input = b"event: put\n\ndata: x\n\nevent: put\nid: 3\n\n";
        assert_eq!(parse_all_splits(input), vec![ev("message", "x", "")]);
    }

    #[test]
    fn retry_only_digits() {
        let input = b"retry: 15x\nretry:\nretry: 250\nretry:  30\n\n";
        assert_eq!(parse_all_splits(input), vec![Item::Retry(250)]);
    }

    #[test]
    fn bom_and_partial_event_at_eof() {
        let input = b"\xEF\xBB\xBFdata: a\n\ndata: unfinished\n";
        assert_eq!(parse_all_splits(input), vec![ev("message", "a", "")]);
        // A BOM anywhere else is kept as data.
        assert_eq!(parse_chunks(&[b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"]), vec![ev("message", "a", "")]);
    }

    #[test]
    fn utf8_split_across_chunks_and_invalid_bytes() {
        let input = "data: héllo ✓\n\n".as_bytes();
        assert_eq!(parse_all_splits(input), vec![ev("message", "héllo ✓", "")]);
        assert_eq!(parse_chunks(&[b"data: \xFFx\n\n"]), vec![ev("message", "\u{FFFD}x", "")]);
    }

    #[test]
    fn size_limit() {
        let mut p = Parser::new(12);
        let mut out = Vec::new();
        assert!(p.feed(b"data: 0123", &mut out).is_ok());
        assert!(p.feed(b"456789", &mut out).is_err());
        let mut p = Parser::new(10);
        assert!(p.feed(b"data: 01234\ndata: 56789\n", &mut out).is_err());
    }
}
