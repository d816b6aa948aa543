//! Just enough HTTP/1.1 for a read-only page: one request per connection, read within
//! a deadline and a size limit (`head`), answered with `Connection: close`.
//!
//! Plain `std::net`, no HTTP crate: GET-only and `Connection: close` fit in this file.
//! It knows nothing of the shop; the routes are the caller's.

use std::io::{self, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::head::{Head, HeadError};

/// How long a viewer may take to take each part of the reply.
pub(super) const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a viewer may take to read the whole reply. Per-write timeouts alone would
/// let a viewer that reads a byte now and then hold its thread for ever.
pub(super) const REPLY_DEADLINE: Duration = Duration::from_secs(10);

/// The most [`write_within`] hands the socket at once.
const WRITE_PIECE: usize = 64 * 1024;

/// A parsed request line.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct HttpRequest<'a> {
    pub(super) method: &'a str,
    pub(super) path: &'a str,
    /// The `token` query parameter, if given.
    pub(super) token: Option<&'a str>,
}

/// A whole response: status, content type, body and an optional
/// Content-Security-Policy.
pub(super) struct HttpResponse {
    pub(super) status: u16,
    pub(super) reason: &'static str,
    pub(super) content_type: &'static str,
    pub(super) body: Vec<u8>,
    pub(super) csp: Option<String>,
    /// Held until the response has been written, then dropped: a place among the
    /// large responses being sent (see `site`).
    pub(super) hold: Option<Box<dyn Send>>,
}

/// Reads one request from `stream`, answers it, and half-closes; the connection then
/// closes. As soon as the request line is in, `early` may answer it (a missing token)
/// without waiting for the headers; else the answer is `route`'s, given the request
/// and its Host header, if any.
pub(super) fn answer(
    stream: &TcpStream,
    early: impl FnOnce(&HttpRequest) -> Option<HttpResponse>,
    route: impl FnOnce(&HttpRequest, Option<&str>) -> HttpResponse,
) -> io::Result<()> {
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = Head::new(stream);
    // Answered before the whole head was read: the rest may still be on its way.
    let mut early_answer = true;
    let response = match head.read_request_line() {
        Ok(()) => match parse(head.request_line()).map(|request| early(&request)) {
            None => bad_request(),
            Some(Some(refused)) => refused,
            Some(None) => {
                head.read_headers()?;
                early_answer = false;
                match parse(head.request_line()) {
                    Some(request) => route(&request, host(head.headers())),
                    None => bad_request(),
                }
            }
        },
        Err(HeadError::Garbage) => bad_request(),
        Err(HeadError::Nothing) => return Ok(()),
        Err(HeadError::Io(e)) => return Err(e),
    };
    let head_only = head.request_line().starts_with("HEAD ");
    response.write(stream, head_only)?;
    // Written: whatever it held is given back before any lingering.
    drop(response.hold);
    // Half-close so the reply is not cut off by a reset over unread request bytes.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    if early_answer {
        // Bytes still arriving would make the close a reset, which can destroy the
        // answer on the way: read them away, briefly (bounded in time and bytes).
        crate::wire::linger::linger(stream, false, || None);
    }
    Ok(())
}

/// Tells a client over the limits to come back later, without ever waiting for it.
pub(super) fn busy(stream: &TcpStream) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let mut stream = stream;
    let _ = stream.write_all(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\
          Retry-After: 1\r\nConnection: close\r\n\r\n",
    );
    let _ = stream.shutdown(std::net::Shutdown::Write);
    // So that a request already here does not turn the close into a reset that loses
    // the 503.
    crate::wire::linger::read_away_arrived(stream);
}

fn bad_request() -> HttpResponse {
    HttpResponse::text(400, "Bad Request", "请求格式不对 (bad request)")
}

/// The value of the Host header among `headers`.
fn host<'a>(mut headers: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    headers.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("host").then(|| value.trim())
    })
}

/// Parses the request line (without its line end): `GET /path?token=... HTTP/1.1`.
fn parse(line: &str) -> Option<HttpRequest<'_>> {
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if !version.starts_with("HTTP/1.") || parts.next().is_some() {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let token = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="));
    Some(HttpRequest {
        method,
        path,
        token,
    })
}

impl HttpResponse {
    /// A plain-text response.
    pub(super) fn text(status: u16, reason: &'static str, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            body: body.as_bytes().to_vec(),
            csp: None,
            hold: None,
        }
    }

    fn write(&self, stream: &TcpStream, head_only: bool) -> io::Result<()> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
             Referrer-Policy: no-referrer\r\nConnection: close\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        );
        if let Some(csp) = &self.csp {
            out.push_str("Content-Security-Policy: ");
            out.push_str(csp);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !head_only {
            bytes.extend_from_slice(&self.body);
        }
        write_within(stream, &bytes, Instant::now() + REPLY_DEADLINE)
    }
}

/// Writes all of `bytes` unless `deadline` passes first. Each write also waits at most
/// the stream's write timeout, so this returns soon after the deadline.
fn write_within(mut stream: &TcpStream, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
    while !bytes.is_empty() {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the viewer took too long to read the reply",
            ));
        }
        // In pieces: one write of a large buffer blocks until all of it is taken or the
        // write timeout passes, however long the deadline has been gone.
        match stream.write(&bytes[..bytes.len().min(WRITE_PIECE)]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::thread;

    #[test]
    fn request_lines() {
        let get = |path, token| {
            Some(HttpRequest {
                method: "GET",
                path,
                token,
            })
        };
        assert_eq!(parse("GET / HTTP/1.1"), get("/", None));
        assert_eq!(
            parse("GET /api/state?x=1&token=abc HTTP/1.1"),
            get("/api/state", Some("abc"))
        );
        assert_eq!(parse("GET /"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("GET / HTTP/1.1 extra\r\n"), None);
        let lines = ["Accept: */*", "HOST:  [::1]:80 ", "Host: second"];
        assert_eq!(host(lines.into_iter()), Some("[::1]:80"));
        assert_eq!(host(["Hostname: x"].into_iter()), None);
    }

    #[test]
    fn a_viewer_that_reads_a_trickle_is_given_up_on_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut viewer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, _) = listener.accept().unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        // Reads 64 KiB every 10 ms: each write makes progress well within its timeout,
        // but 64 MiB would take ten seconds.
        thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while matches!(viewer.read(&mut buf), Ok(n) if n > 0) {
                thread::sleep(Duration::from_millis(10));
            }
        });
        let body = vec![b'x'; 64 << 20];
        let started = Instant::now();
        let err = write_within(&stream, &body, started + Duration::from_millis(500)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
    }
}
