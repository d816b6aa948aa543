//! The live view against hostile visitors and careless setups (issue 23), over real
//! HTTP against the real binary: DNS rebinding (the Host header), a few addresses
//! holding connections, the request line checked at once, bare LF and garbage, the
//! ledger alarm on the page, the token kept out of the log, and the size of the state.

mod support;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::ShopServer;

/// How long the view may take to show something: the page promises 1 s; CI is slow.
const SHOWS_WITHIN: Duration = Duration::from_secs(10);

/// A running view: where to connect (loopback for a wildcard bind), and its token.
struct View {
    addr: SocketAddr,
    /// The port and token as printed.
    token: Option<String>,
}

/// A shop with `args`, its live view on `web`.
fn start(web: &str, args: &[&str]) -> (ShopServer, View) {
    let mut all = vec!["--web", web];
    all.extend_from_slice(args);
    let mut server = ShopServer::start(&all);
    let view = view_of(&mut server);
    (server, view)
}

/// The view of a server started with `--web`, from its second stdout line.
fn view_of(server: &mut ShopServer) -> View {
    let (addr, token) = support::live_view_of(server);
    View { addr, token }
}

impl View {
    /// `path` with the token, if there is one.
    fn with_token(&self, path: &str) -> String {
        match &self.token {
            Some(t) => format!("{path}?token={t}"),
            None => path.to_string(),
        }
    }

    /// `GET target` from `from` (another machine, as far as the view can tell) with
    /// `host` as the Host header.
    fn get_as(&self, from: Option<IpAddr>, host: &str, target: &str) -> (u16, String) {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let answer = send(connect(from, self.addr), raw.as_bytes());
        status_and_body(&answer)
    }

    fn state(&self) -> Value {
        let host = self.addr.to_string();
        let (status, body) = self.get_as(None, &host, &self.with_token("/api/state"));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("valid JSON")
    }
}

/// A connection to `to`, from the local address `from` if given: on loopback,
/// 127.0.0.2 looks like another machine to the server.
fn connect(from: Option<IpAddr>, to: SocketAddr) -> TcpStream {
    let Some(ip) = from else {
        return TcpStream::connect(to).expect("connect to the live view");
    };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(to),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    socket.bind(&SocketAddr::new(ip, 0).into()).unwrap();
    socket
        .connect(&to.into())
        .expect("connect to the live view");
    socket.into()
}

/// Sends `raw` (and keeps the connection open for writing), then reads the whole
/// answer. Long read timeout: an answer that never comes fails the test by its content.
fn send(mut stream: TcpStream, raw: &[u8]) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let _ = stream.write_all(raw);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

fn status_and_body(answer: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

#[test]
fn only_host_names_of_this_server_are_answered() {
    let (server, view) = start("127.0.0.1:0", &[]);
    let port = view.addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        "127.0.0.1".to_string(),
        format!("localhost:{port}"),
        "LocalHost".to_string(),
    ] {
        let (status, body) = view.get_as(None, &host, "/api/state");
        assert_eq!(status, 200, "Host: {host}: {body}");
    }
    // A page on another site whose name was rebound to 127.0.0.1 (DNS rebinding).
    for host in [
        format!("evil.test:{port}"),
        "evil.test".to_string(),
        format!("localhost.evil.test:{port}"),
        format!("127.0.0.1.evil.test:{port}"),
        format!("192.0.2.1:{port}"),
    ] {
        for path in ["/", "/api/state"] {
            let (status, body) = view.get_as(None, &host, path);
            assert_eq!(status, 403, "Host: {host} {path}: {body}");
            assert!(!body.contains("customers") && !body.contains("<script"));
        }
    }
    // One line in the log, however many requests: then something later, to know
    // that what came before it is in the log.
    let _ = server.customer();
    assert!(server.wait_for_log("connected", SHOWS_WITHIN));
    let log = server.stderr();
    let lines = log.lines().filter(|l| l.contains("evil.test")).count();
    assert_eq!(lines, 1, "{log}");

    // A wildcard view answers to the machine's addresses, as the page lists them.
    let (_server, view) = start("0.0.0.0:0", &["--host", "0.0.0.0"]);
    let port = view.addr.port();
    let state = view.state();
    for a in state["addresses"].as_array().unwrap() {
        let shop: SocketAddr = a["addr"].as_str().unwrap().parse().unwrap();
        let host = SocketAddr::new(shop.ip(), port).to_string();
        let (status, body) = view.get_as(None, &host, &view.with_token("/api/state"));
        assert_eq!(status, 200, "Host: {host}: {body}");
    }
    let (status, _) = view.get_as(None, "evil.test", &view.with_token("/"));
    assert_eq!(status, 403);
}

#[test]
fn a_few_addresses_cannot_blank_the_teachers_view() {
    let (_server, view) = start("0.0.0.0:0", &[]);
    let token = view.token.clone().expect("a token off loopback");
    // Eight "machines", each holding eight connections without the token: half say
    // nothing, half trickle a request line that never ends.
    let mut silent = Vec::new();
    let mut tricklers = Vec::new();
    for machine in 2..=9u8 {
        for i in 0..8 {
            let stream = connect(Some(IpAddr::from([127, 0, 0, machine])), view.addr);
            if i % 2 == 0 {
                silent.push(stream);
            } else {
                tricklers.push(stream);
            }
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let trickling = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut sent = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let byte = b"GET /api/state?x=".get(sent).copied().unwrap_or(b'a');
                for s in &mut tricklers {
                    let _ = s.write_all(&[byte]);
                }
                sent += 1;
                thread::sleep(Duration::from_millis(100));
            }
        })
    };
    thread::sleep(Duration::from_millis(300));
    let at_home = view.addr.to_string();
    let path = format!("/api/state?token={token}");
    for round in 0..10 {
        // The teacher's PC, and the projector's machine on the LAN with the token.
        let (status, body) = view.get_as(None, &at_home, &path);
        assert_eq!(
            status, 200,
            "round {round}, from the server's machine: {body}"
        );
        let projector = Some(IpAddr::from([127, 0, 0, 20]));
        let (status, body) = view.get_as(projector, &at_home, &path);
        assert_eq!(status, 200, "round {round}, with the token: {body}");
        thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    trickling.join().unwrap();
    drop(silent);
}

#[test]
fn a_request_line_without_the_token_is_refused_at_once() {
    let (_server, view) = start("0.0.0.0:0", &[]);
    // The rest of the head never comes: the answer must not wait for it.
    let stream = connect(None, view.addr);
    let answer = send(stream, b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    let (status, body) = status_and_body(&answer);
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&answer));
    assert!(!body.contains("customers"));
}

#[test]
fn bare_line_feeds_are_http_and_garbage_is_a_bad_request() {
    let (_server, view) = start("127.0.0.1:0", &[]);
    let answer = send(connect(None, view.addr), b"GET /api/state HTTP/1.0\n\n");
    let (status, body) = status_and_body(&answer);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let state: Value = serde_json::from_str(&body).expect("the state");
    assert!(state["items"].is_array());
    let answer = send(
        connect(None, view.addr),
        b"GET / HTTP/1.1\nHost: localhost\nAccept: */*\n\n",
    );
    assert_eq!(status_and_body(&answer).0, 200);

    // Garbage, with or without a line end, and bytes of TLS: a 400, without waiting
    // for more (the connection stays open on our side).
    for garbage in [
        &b"hello there\n"[..],
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"GET\tnothing",
        b"\r\n\r\n",
    ] {
        let answer = send(connect(None, view.addr), garbage);
        assert_eq!(
            status_and_body(&answer).0,
            400,
            "{garbage:?}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
}

#[test]
#[cfg(unix)] // Windows refuses to remove a file in use
fn the_page_shows_the_ledger_alarm() {
    let dir = support::temp_dir();
    let ledger = dir.join("shop.db");
    let (server, view) = start(
        "127.0.0.1:0",
        &["--ledger", ledger.to_str().expect("utf-8 path")],
    );
    let mut c = server.customer();
    assert_eq!(c.ask("西瓜"), "购买成功,余额 -2");
    assert_eq!(view.state()["alarm"], Value::Null, "all is well");
    std::fs::remove_file(&ledger).unwrap();
    assert!(c.ask("西瓜").contains("没能记入账本"), "not recorded");
    let state = view.state();
    let alarm = state["alarm"].as_str().expect("an alarm in the state");
    assert!(
        alarm.contains("shop.db") && alarm.contains("放回原处"),
        "{alarm}"
    );
    let (status, page) = view.get_as(None, &view.addr.to_string(), "/");
    assert_eq!(status, 200);
    assert!(page.contains("id=\"alarm\""), "a place for it on the page");
}

#[test]
fn the_token_stays_out_of_the_log() {
    let (mut server, view) = start("0.0.0.0:0", &[]);
    let token = view.token.clone().expect("a token off loopback");
    assert!(server.wait_for_log("live view also at", SHOWS_WITHIN));
    let log = server.stderr();
    assert!(!log.contains(&token), "{log}");
    // Where else the page can be opened: on stdout, with the token.
    let also = server.stdout_line();
    assert!(
        also.starts_with("live view also at http://") && also.ends_with(&token),
        "{also}"
    );
}

#[test]
fn the_state_of_a_big_catalog_is_capped() {
    const ITEMS: usize = 3_000;
    let mut toml = String::new();
    for i in 0..ITEMS {
        toml.push_str(&format!(
            "[[goods]]\nname = \"货{i:05}\"\nprice = 1.5\nstock = 10\n"
        ));
    }
    let goods = support::goods_file(&toml);
    let mut server = ShopServer::start_raw(
        &[
            "--goods",
            goods.to_str().expect("utf-8 path"),
            "--web",
            "127.0.0.1:0",
        ],
        None,
    );
    let view = view_of(&mut server);
    let mut c = server.customer();
    let last = format!("货{:05}", ITEMS - 1);
    assert!(c.ask(&last).starts_with("购买成功"));
    let deadline = Instant::now() + SHOWS_WITHIN;
    let state = loop {
        let state = view.state();
        if state["total"]["sold"] == 1 || Instant::now() > deadline {
            break state;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let items = state["items"].as_array().unwrap();
    let shown = items.len();
    assert!((100..ITEMS).contains(&shown), "{shown} items shown");
    assert_eq!(state["items_more"], ITEMS - shown, "the rest counted");
    assert_eq!(state["total"]["sold"], 1, "the total counts every item");
    assert_eq!(state["total"]["takings"], 1.5);
    let (_, body) = view.get_as(None, &view.addr.to_string(), "/api/state");
    assert!(body.len() < 200_000, "{} bytes", body.len());
}
