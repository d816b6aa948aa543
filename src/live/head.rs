//! Reading a request head: the request line, then the header lines up to a blank line,
//! within [`HEAD_DEADLINE`] and [`MAX_REQUEST`] bytes.
//!
//! Lines end with CRLF or a bare LF (RFC 9112, 2.2, allows a bare LF: `printf 'GET /
//! HTTP/1.0\n\n' | nc` is a request). Bytes that cannot begin a request line (a typo,
//! TLS, a line server's client) are recognised as soon as they arrive, so garbage gets
//! its 400 at once instead of holding a thread until the deadline.

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long a viewer may take to send its whole request head. A browser sends it in
/// one packet; a few seconds is plenty even on a busy classroom Wi-Fi, and an idle
/// or trickling connection gives its place back soon.
pub(super) const HEAD_DEADLINE: Duration = Duration::from_secs(3);

/// The longest request head we read. Browsers send well under 2 KiB.
pub(super) const MAX_REQUEST: usize = 8 * 1024;

/// The longest method we accept (`OPTIONS` is 7 letters).
const MAX_METHOD: usize = 16;

/// What became of reading the head.
#[derive(Debug)]
pub(super) enum HeadError {
    /// The bytes cannot be an HTTP request: answer 400.
    Garbage,
    /// The viewer closed before sending anything: nothing to answer.
    Nothing,
    /// Reading failed or the deadline passed: nothing to answer.
    Io(io::Error),
}

/// A request head being read from one connection.
pub(super) struct Head<'a> {
    stream: &'a TcpStream,
    buf: Vec<u8>,
    deadline: Instant,
    /// The viewer has closed its side (or the buffer is full): no more bytes come.
    done: bool,
    /// The length of the request line, once read.
    line_len: usize,
}

impl<'a> Head<'a> {
    pub(super) fn new(stream: &'a TcpStream) -> Head<'a> {
        Head {
            stream,
            buf: Vec::with_capacity(1024),
            deadline: Instant::now() + HEAD_DEADLINE,
            done: false,
            line_len: 0,
        }
    }

    /// Reads until the request line is complete ([`Head::request_line`]). A line
    /// that stops at the end of the input counts as complete.
    pub(super) fn read_request_line(&mut self) -> Result<(), HeadError> {
        let end = loop {
            if let Some(at) = self.buf.iter().position(|&b| b == b'\n') {
                break at;
            }
            if !request_line_shape(&self.buf, false) {
                return Err(HeadError::Garbage);
            }
            if self.done {
                if self.buf.is_empty() {
                    return Err(HeadError::Nothing);
                }
                break self.buf.len();
            }
            self.read_more().map_err(HeadError::Io)?;
        };
        let line = trim_cr(&self.buf[..end]);
        match std::str::from_utf8(line) {
            Ok(line) if request_line_shape(line.as_bytes(), true) => {
                self.line_len = line.len();
                Ok(())
            }
            _ => Err(HeadError::Garbage),
        }
    }

    /// The request line, without its line end, once read.
    pub(super) fn request_line(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.line_len]).unwrap_or("")
    }

    /// Reads the rest of the head: up to the blank line, the end of the input, or a
    /// full buffer.
    pub(super) fn read_headers(&mut self) -> io::Result<()> {
        while !self.done && !has_blank_line(&self.buf) {
            self.read_more()?;
        }
        Ok(())
    }

    /// The header lines read, without line ends.
    pub(super) fn headers(&self) -> impl Iterator<Item = &str> {
        let text = match std::str::from_utf8(&self.buf) {
            Ok(text) => text,
            // Header values are ASCII; a stray byte only hides the lines after it.
            Err(e) => std::str::from_utf8(&self.buf[..e.valid_up_to()]).unwrap_or(""),
        };
        text.split('\n')
            .skip(1)
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .take_while(|l| !l.is_empty())
    }

    fn read_more(&mut self) -> io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut chunk = [0u8; 2048];
        let room = (MAX_REQUEST - self.buf.len()).min(chunk.len());
        loop {
            match (&mut &*self.stream).read(&mut chunk[..room]) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    self.done = n == 0 || self.buf.len() >= MAX_REQUEST;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// True once `buf` holds the blank line that ends a head (after the request line).
fn has_blank_line(buf: &[u8]) -> bool {
    buf.windows(2).any(|w| w == b"\n\n") || buf.windows(3).any(|w| w == b"\n\r\n")
}

/// True if `line` (without its line end) has the shape `METHOD /target HTTP/1.x`, or,
/// when not `complete`, could still grow into one.
pub(super) fn request_line_shape(line: &[u8], complete: bool) -> bool {
    // A CR may only end the line.
    let line = if complete { line } else { trim_cr(line) };
    let mut parts = line.splitn(3, |&b| b == b' ');
    let method = parts.next().unwrap_or_default();
    let (target, version) = (parts.next(), parts.next());
    if method.len() > MAX_METHOD || !method.iter().all(u8::is_ascii_uppercase) {
        return false;
    }
    let Some(target) = target else {
        return !complete;
    };
    if method.is_empty() || target.first().is_some_and(|&b| b != b'/') {
        return false;
    }
    if !target.iter().all(|b| (0x21..0x7f).contains(b)) {
        return false;
    }
    let Some(version) = version else {
        return !complete;
    };
    const V: &[u8] = b"HTTP/1.";
    if target.is_empty() || version.len() > V.len() + 1 {
        return false;
    }
    let (start, digit) = version.split_at(version.len().min(V.len()));
    V.starts_with(start) && digit.iter().all(u8::is_ascii_digit) && (!complete || digit.len() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_and_their_beginnings() {
        for whole in ["GET / HTTP/1.1", "HEAD /api/state?token=ab HTTP/1.0"] {
            assert!(request_line_shape(whole.as_bytes(), true), "{whole}");
            for end in 0..whole.len() {
                let start = &whole.as_bytes()[..end];
                assert!(request_line_shape(start, false), "{whole} up to {end}");
            }
        }
        for bad in [
            "hello there",
            "GET\tnothing",
            "get / HTTP/1.1",
            "GET http://x/ HTTP/1.1",
            "GET / HTTP/2",
            "GET / HTTP/1.1 extra",
            "GET /a b HTTP/1.1",
            "\x16\x03\x01",
            "",
        ] {
            assert!(!request_line_shape(bad.as_bytes(), true), "{bad:?}");
        }
        for garbage in ["hello", "GET\t", "\x16", "GET / HTTX", "GET  /", "\r\n"] {
            assert!(
                !request_line_shape(garbage.as_bytes(), false),
                "{garbage:?}"
            );
        }
        assert!(!request_line_shape(b"GET /", true), "no version");
        assert!(request_line_shape(b"GET / HTTP/1.1\r", false));
    }

    #[test]
    fn a_blank_line_ends_the_head_with_or_without_cr() {
        assert!(has_blank_line(b"GET / HTTP/1.0\n\n"));
        assert!(has_blank_line(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(has_blank_line(b"GET / HTTP/1.1\nHost: x\n\r\n"));
        assert!(!has_blank_line(b"GET / HTTP/1.1\r\nHost: x\r\n"));
    }
}
