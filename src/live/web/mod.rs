//! The live view in the browser: a small, read-only, blocking HTTP server.
//!
//! It serves two things: the page (`GET /`, one self-contained HTML file with its CSS
//! and JavaScript, compiled into the binary, so it works in an offline classroom) and
//! the state (`GET /api/state`, JSON from [`crate::live::Hub::state_json`]). The page
//! polls the state twice a second, which is all "live" needs here and keeps the server
//! free of long-lived connections.
//!
//! Plain `std::net`, no HTTP crate: GET-only and `Connection: close` fit in this file.
//! One thread accepts; each viewer's request gets a short-lived thread with read and
//! write deadlines. At most [`MAX_VIEWERS`] are answered at once, and at most
//! [`MAX_VIEWERS_PER_IP`] from one address, so a student's script that opens idle
//! connections (slowloris) can neither exhaust the machine nor starve the teacher's
//! projector, which connects from another address. (An earlier fixed pool of four
//! threads went blank for seconds whenever four idle connections held it.) The shop's
//! connection threads never talk to this module; they only report to the hub.
//!
//! **Safety.** The server is read-only: no request changes anything. When it listens
//! on anything but loopback, the page and the API need a random token in the query
//! string (`?token=...`), compared in constant time: students' addresses and messages
//! are not for every machine on the LAN. The page puts customer text into the DOM only
//! as text, and its Content-Security-Policy forbids any script but its own.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::live::Hub;

mod addresses;

pub use addresses::{Reachable, reachable};

/// Requests answered at once, from everyone. Each holds a thread with a small stack
/// for at most a few [`IO_TIMEOUT`]s; beyond this, connections are closed at once.
pub const MAX_VIEWERS: usize = 64;

/// Requests answered at once from one address. A browser polls with one request at a
/// time (plus a spare connection or two it may open early); a script holding more idle
/// connections is turned away instead of taking the threads that others need.
pub const MAX_VIEWERS_PER_IP: usize = 8;

/// Stack of a thread answering one request: it parses a line and copies a string.
const VIEWER_STACK: usize = 256 * 1024;

/// How long a viewer may take to send its request, and to take each part of the reply.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a viewer may take to read the whole reply. Per-write timeouts alone would
/// let a viewer that reads a byte now and then hold its thread for ever.
pub const REPLY_DEADLINE: Duration = Duration::from_secs(10);

/// The longest request head we read. Browsers send well under 2 KiB.
pub const MAX_REQUEST: usize = 8 * 1024;

/// Pause after a failed `accept` (out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

const PAGE_HTML: &str = include_str!("page.html");
const PAGE_CSS: &str = include_str!("page.css");
const PAGE_JS: &str = include_str!("page.js");

/// A running live view.
#[derive(Debug, Clone)]
pub struct LiveView {
    addr: SocketAddr,
    token: Option<String>,
}

impl LiveView {
    /// The address the view listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token the page and the API need, if any (only off loopback).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The page's URL on `addr` (the listening address, or one of [`reachable`]).
    pub fn url_at(&self, addr: SocketAddr) -> String {
        match &self.token {
            Some(token) => format!("http://{addr}/?token={token}"),
            None => format!("http://{addr}/"),
        }
    }

    /// The page's URL on the listening address: what `live view on` prints.
    pub fn url(&self) -> String {
        self.url_at(self.addr)
    }
}

/// Parses `--web`: `HOST:PORT`, or a bare port meaning `127.0.0.1:PORT`.
pub fn parse_addr(text: &str) -> io::Result<SocketAddr> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no address for {text}"),
        )
    })
}

/// Binds `addr` and serves the live view of `hub` from threads of its own.
pub fn start(addr: SocketAddr, hub: Hub) -> io::Result<LiveView> {
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let token = if addr.ip().is_loopback() {
        None
    } else {
        Some(new_token()?)
    };
    let nonce = new_token()?;
    let shared = Arc::new(Shared {
        hub,
        token: token.clone(),
        page: page(&nonce),
        csp: format!(
            "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
             connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'"
        ),
    });
    thread::Builder::new()
        .name("web-accept".into())
        .spawn(move || accept_loop(&listener, &shared))?;
    Ok(LiveView { addr, token })
}

/// Accepts viewers forever, each answered on a thread of its own within the limits.
fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let gate = Arc::new(Gate::default());
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!("live view: accept failed: {e}");
                thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        let Some(pass) = gate.enter(peer.ip()) else {
            debug!("live view: {peer} turned away: too many requests at once");
            busy(&stream);
            continue;
        };
        let shared = shared.clone();
        let spawned = thread::Builder::new()
            .name("web".into())
            .stack_size(VIEWER_STACK)
            .spawn(move || {
                // Held until the answer is sent: frees the place in the gate.
                let _pass = pass;
                if let Err(e) = shared.answer(&stream) {
                    debug!("live view: {peer}: {e}");
                }
            });
        if let Err(e) = spawned {
            warn!("live view: cannot start a thread for {peer}: {e}");
        }
    }
}

/// Tells a viewer over the limits to come back later, without ever waiting for it.
fn busy(stream: &TcpStream) {
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

/// Counts the requests being answered, in all and per address.
#[derive(Default)]
struct Gate {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One request's place in the [`Gate`]; dropping it frees the place.
struct Pass {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Gate {
    fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<Pass> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = open.values().sum();
        let from_ip = open.entry(ip).or_insert(0);
        if total >= MAX_VIEWERS || *from_ip >= MAX_VIEWERS_PER_IP {
            if *from_ip == 0 {
                open.remove(&ip);
            }
            return None;
        }
        *from_ip += 1;
        Some(Pass {
            gate: self.clone(),
            ip,
        })
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut open = self.gate.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The page with its stylesheet and script inlined: one self-contained file.
fn page(nonce: &str) -> String {
    PAGE_HTML
        .replace("/*STYLE*/", PAGE_CSS)
        .replace("/*SCRIPT*/", PAGE_JS)
        .replace("__NONCE__", nonce)
}

/// 16 random bytes from the operating system, in hex.
fn new_token() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares without stopping at the first difference, so the time taken does not tell
/// an attacker how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

struct Shared {
    hub: Hub,
    token: Option<String>,
    page: String,
    csp: String,
}

/// A parsed request line.
#[derive(Debug, PartialEq, Eq)]
struct Request<'a> {
    method: &'a str,
    path: &'a str,
    token: Option<&'a str>,
}

impl Shared {
    /// Reads one request from `stream` and answers it; the connection then closes.
    fn answer(&self, stream: &TcpStream) -> io::Result<()> {
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        let mut head = [0u8; MAX_REQUEST];
        let len = read_head(stream, &mut head)?;
        let response = match std::str::from_utf8(&head[..len]).ok().and_then(parse) {
            None => Response::text(400, "Bad Request", "请求格式不对 (bad request)"),
            Some(request) => self.route(&request),
        };
        let head_only = head.starts_with(b"HEAD ");
        response.write(stream, head_only)?;
        // Half-close so the reply is not cut off by a reset over unread request bytes.
        let _ = stream.shutdown(std::net::Shutdown::Write);
        Ok(())
    }

    fn route(&self, request: &Request) -> Response {
        if request.method != "GET" && request.method != "HEAD" {
            return Response::text(405, "Method Not Allowed", "只读页面 (read-only)");
        }
        let authorized = match &self.token {
            None => true,
            Some(token) => request
                .token
                .is_some_and(|given| same(given.as_bytes(), token.as_bytes())),
        };
        match request.path {
            "/" | "/index.html" | "/api/state" if !authorized => Response::text(
                403,
                "Forbidden",
                "需要访问令牌:请使用 shop-server 启动时打印的完整地址 (live view on ...?token=...)。\n\
                 A token is required: use the full URL that shop-server printed.",
            ),
            "/" | "/index.html" => Response {
                status: 200,
                reason: "OK",
                content_type: "text/html; charset=utf-8",
                body: self.page.clone().into_bytes(),
                csp: Some(self.csp.clone()),
            },
            "/api/state" => Response {
                status: 200,
                reason: "OK",
                content_type: "application/json; charset=utf-8",
                body: self.hub.state_json().into_bytes(),
                csp: None,
            },
            "/favicon.ico" => Response::text(404, "Not Found", ""),
            _ => Response::text(404, "Not Found", "没有这个页面 (not found)"),
        }
    }
}

/// Reads until the end of the request head (a blank line), the buffer is full, or the
/// viewer stops sending. Returns the number of bytes read.
fn read_head(mut stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut len = 0;
    while len < buf.len() {
        if Instant::now() > deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match stream.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    Ok(len)
}

/// Parses the request line: `GET /path?token=... HTTP/1.1`.
fn parse(head: &str) -> Option<Request<'_>> {
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if !version.starts_with("HTTP/1.") || parts.next().is_some() {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let token = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="));
    Some(Request {
        method,
        path,
        token,
    })
}

struct Response {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    csp: Option<String>,
}

impl Response {
    fn text(status: u16, reason: &'static str, body: &str) -> Response {
        Response {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            body: body.as_bytes().to_vec(),
            csp: None,
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

/// The most [`write_within`] hands the socket at once.
const WRITE_PIECE: usize = 64 * 1024;

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

    #[test]
    fn request_lines() {
        let get = |path, token| {
            Some(Request {
                method: "GET",
                path,
                token,
            })
        };
        assert_eq!(parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), get("/", None));
        assert_eq!(
            parse("GET /api/state?x=1&token=abc HTTP/1.1\r\n\r\n"),
            get("/api/state", Some("abc"))
        );
        assert_eq!(parse("GET /\r\n\r\n"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("GET / HTTP/1.1 extra\r\n"), None);
    }

    #[test]
    fn the_gate_limits_requests_per_address_and_in_all() {
        let gate = Arc::new(Gate::default());
        let ip = |n: u8| IpAddr::from([10, 0, 0, n]);
        let mine: Vec<Pass> = (0..MAX_VIEWERS_PER_IP)
            .map(|_| gate.enter(ip(1)).expect("within the limit"))
            .collect();
        assert!(gate.enter(ip(1)).is_none(), "one address over its limit");
        let others: Vec<Pass> = (0..MAX_VIEWERS - MAX_VIEWERS_PER_IP)
            .map(|i| gate.enter(ip(2 + (i / MAX_VIEWERS_PER_IP) as u8)).unwrap())
            .collect();
        assert!(gate.enter(ip(200)).is_none(), "everyone over the limit");
        drop(others);
        drop(mine);
        assert!(gate.open.lock().unwrap().is_empty(), "every place freed");
        assert!(gate.enter(ip(1)).is_some());
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

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
        assert!(!same(b"", b"a"));
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn web_addresses() {
        assert_eq!(parse_addr("8080").unwrap().to_string(), "127.0.0.1:8080");
        assert_eq!(parse_addr("0.0.0.0:0").unwrap().to_string(), "0.0.0.0:0");
        assert!(parse_addr("nonsense").is_err());
    }

    #[test]
    fn the_page_is_one_self_contained_file() {
        let page = page("n0nce");
        assert!(page.contains("<style nonce=\"n0nce\">"));
        assert!(page.contains("<script nonce=\"n0nce\">"));
        assert!(!page.contains("/*STYLE*/") && !page.contains("/*SCRIPT*/"));
        for external in ["http://", "https://", "src=", "@import", "url("] {
            assert!(!page.contains(external), "{external}");
        }
        // Customer data reaches the DOM only as text.
        assert!(!page.contains("innerHTML"));
        assert!(!page.contains("insertAdjacentHTML"));
        assert!(!page.contains("document.write"));
    }
}
