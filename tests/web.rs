//! The live view over real HTTP against the real binary: the page, `/api/state`, the
//! token off loopback, alerts, and viewers that never read.

mod support;

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Customer, ShopServer, gbk};

/// How long the view may take to show something: the page promises 1 s; CI is slow.
const SHOWS_WITHIN: Duration = Duration::from_secs(10);

/// A shop with the live view on `web` (e.g. `127.0.0.1:0`), and the view's URL.
fn start(web: &str, args: &[&str]) -> (ShopServer, View) {
    let mut all = vec!["--web", web];
    all.extend_from_slice(args);
    let mut server = ShopServer::start(&all);
    let view = view_of(&mut server);
    (server, view)
}

/// The live view of a server started with `--web`, from its second stdout line.
fn view_of(server: &mut ShopServer) -> View {
    let (addr, token) = support::live_view_of(server);
    View {
        addr,
        token,
        from: None,
    }
}

struct View {
    /// Where to connect (loopback for a wildcard bind).
    addr: SocketAddr,
    token: Option<String>,
    /// The local address to connect from (another "machine" on loopback).
    from: Option<IpAddr>,
}

struct Response {
    status: u16,
    head: String,
    body: String,
}

impl View {
    /// `path` with the token, if there is one.
    fn with_token(&self, path: &str) -> String {
        match &self.token {
            Some(t) => format!("{path}?token={t}"),
            None => path.to_string(),
        }
    }

    fn get(&self, target: &str) -> Response {
        self.try_get(target)
            .expect("send the request and read the response")
    }

    /// [`View::get`], or the error of a connection the view closed on us: a refused
    /// connection is closed at once, and a request that crosses the close is reset.
    fn try_get(&self, target: &str) -> io::Result<Response> {
        let mut stream = match self.from {
            None => TcpStream::connect(self.addr).expect("connect to the live view"),
            Some(ip) => connect_from(ip, self.addr),
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: {}\r\n\r\n",
            self.addr
        )?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let text = String::from_utf8(raw).expect("responses are UTF-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status code");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|l| l.parse().ok())
            .expect("Content-Length");
        assert_eq!(body.len(), length, "{head}");
        Ok(Response {
            status,
            head: head.to_string(),
            body: body.to_string(),
        })
    }

    fn state(&self) -> Value {
        let response = self.get(&self.with_token("/api/state"));
        assert_eq!(response.status, 200, "{}", response.body);
        assert!(response.head.contains("Content-Type: application/json"));
        serde_json::from_str(&response.body).expect("valid JSON")
    }

    /// Polls the state until `ok` holds; panics with the last state after
    /// [`SHOWS_WITHIN`].
    fn wait_for(&self, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + SHOWS_WITHIN;
        loop {
            let state = self.state();
            if ok(&state) {
                return state;
            }
            assert!(Instant::now() < deadline, "{what}; last state: {state:#}");
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A connection to `to` from the local address `ip`: on loopback, 127.0.0.2 looks
/// like another machine to the server.
fn connect_from(ip: IpAddr, to: SocketAddr) -> TcpStream {
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

fn customer<'a>(state: &'a Value, peer: &str) -> Option<&'a Value> {
    state["customers"]
        .as_array()?
        .iter()
        .find(|c| c["peer"] == peer)
}

fn item<'a>(state: &'a Value, name: &str) -> &'a Value {
    state["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no item {name}: {state:#}"))
}

fn feed_with<'a>(state: &'a Value, text: &str) -> Option<&'a Value> {
    state["feed"].as_array()?.iter().find(|m| m["text"] == text)
}

#[test]
fn the_page_is_self_contained() {
    let (_server, view) = start("127.0.0.1:0", &[]);
    assert_eq!(view.token, None, "no token on loopback");
    let page = view.get("/");
    assert_eq!(page.status, 200);
    assert!(page.head.contains("Content-Type: text/html; charset=utf-8"));
    assert!(
        page.head
            .contains("Content-Security-Policy: default-src 'none'")
    );
    let html = &page.body;
    assert!(html.contains("学生连接地址") && html.contains("在线顾客"));
    assert!(html.contains("<style nonce=") && html.contains("<script nonce="));
    // Nothing from the network: no external scripts, styles, fonts or images.
    for external in [
        "http:",
        "https:",
        "src=",
        "<link",
        "@import",
        "url(",
        "@font-face",
    ] {
        assert!(!html.contains(external), "the page refers to {external}");
    }
    assert!(!html.contains("innerHTML"), "customer text only as text");
    assert_eq!(view.get("/nowhere").status, 404);
}

#[test]
fn the_state_shows_a_customer_who_bought_with_the_right_stock() {
    let (server, view) = start("127.0.0.1:0", &[]);
    let before = view.state();
    assert_eq!(item(&before, "西瓜")["remaining"], 50);
    assert_eq!(item(&before, "西瓜")["price"], 2.0);

    let mut c = server.customer();
    let me = c.stream.local_addr().unwrap().to_string();
    assert_eq!(c.ask("西瓜"), "购买成功,余额 -2");
    assert_eq!(c.ask("西瓜"), "购买成功,余额 -4");
    // Two messages in one segment (粘包), then one without a newline, ended by the pause.
    c.send_raw(&gbk("瓜子\n矿泉水\n"));
    assert_eq!(c.read_line(), "购买成功,余额 -8.5");
    assert_eq!(c.read_line(), "购买成功,余额 -11");
    c.send_raw(&gbk("菜单"));
    assert!(c.read_line().starts_with("菜单"));
    // One message over two segments (半包): the halves of 西瓜 in GBK, 50 ms apart.
    let xigua = gbk("西瓜\n");
    c.send_raw(&xigua[..3]);
    thread::sleep(Duration::from_millis(50));
    c.send_raw(&xigua[3..]);
    assert_eq!(c.read_line(), "购买成功,余额 -13");

    let state = view.wait_for("the customer with 6 messages", |s| {
        customer(s, &me).is_some_and(|c| c["messages"] == 6) && feed_with(s, "菜单").is_some()
    });
    let me_now = customer(&state, &me).unwrap();
    assert_eq!(me_now["encoding"], "GBK");
    assert_eq!(me_now["spent"], 13.0);
    assert_eq!(item(&state, "西瓜")["sold"], 3);
    assert_eq!(item(&state, "西瓜")["remaining"], 47);
    assert_eq!(item(&state, "瓜子")["remaining"], 99);
    assert_eq!(item(&state, "矿泉水")["remaining"], 199);
    assert_eq!(state["total"]["sold"], 5);
    assert_eq!(state["total"]["takings"], 13.0);

    let feed = state["feed"].as_array().unwrap();
    assert_eq!(feed[0]["text"], "西瓜", "newest first");
    assert_eq!(feed[0]["hex"], "CE F7 B9 CF");
    assert_eq!(feed[0]["reply"], "购买成功,余额 -13");
    assert_eq!(feed[0]["reads"], 2, "one message over two segments");
    let sticky = feed_with(&state, "矿泉水").unwrap();
    assert_eq!(sticky["shared"], true, "{sticky}");
    assert_eq!(feed_with(&state, "瓜子").unwrap()["shared"], true);
    assert_eq!(feed_with(&state, "菜单").unwrap()["end"], "pause");
    assert_eq!(feed[5]["end"], "newline");
    assert_eq!(feed[5]["shared"], false);

    // Gone from the view once gone from the shop.
    assert_eq!(c.ask("拜拜"), "欢迎下次光临");
    view.wait_for("the customer gone", |s| customer(s, &me).is_none());
}

#[test]
fn customer_text_is_kept_as_text_and_cut() {
    let (server, view) = start("127.0.0.1:0", &["--encoding", "utf-8"]);
    let mut c = Customer::connect(server.addr);
    c.charset = snack_shop::codec::Charset::Utf8;
    assert!(c.read_line().starts_with("目前商店还有"));
    let evil = "<img src=x onerror=alert(1)><script>alert(2)</script>";
    c.ask(evil);
    let long = "瓜".repeat(300);
    c.ask(&long);
    let state = view.wait_for("both messages", |s| {
        s["feed"].as_array().is_some_and(|f| f.len() == 2)
    });
    assert_eq!(
        state["feed"][1]["text"], evil,
        "sent back as a plain JSON string"
    );
    let cut = &state["feed"][0];
    assert_eq!(cut["cut"], true);
    assert_eq!(cut["len"], 900);
    let text = cut["text"].as_str().unwrap();
    assert!(text.len() < 200 && long.starts_with(text), "{text}");
    assert!(cut["hex"].as_str().unwrap().starts_with("E7 93 9C"));
}

#[test]
fn alerts_for_wrong_encoding_a_full_shop_and_idle_customers() {
    let (server, view) = start(
        "127.0.0.1:0",
        &["--max-clients", "1", "--idle-timeout", "2"],
    );
    let mut first = server.customer();
    first.send_raw(b"\xff\xfe\x80\n");
    let garbled = first.read_line();
    assert!(garbled.contains("GBK"), "{garbled}");
    // UTF-8 to a GBK shop: the hint comes back in UTF-8, so the sender can read it.
    first.send_raw("西瓜\n".as_bytes());
    let hint = String::from_utf8(first.read_raw_line()).unwrap();
    let hint = hint.trim_end();
    assert!(hint.contains("「西瓜」") && hint.contains("GBK"), "{hint}");
    // The only seat is taken: the next one is turned away.
    let mut second = Customer::connect(server.addr);
    assert_eq!(second.read_line(), "抱歉,本店客满了,请稍后再来。");
    // And the first one, silent, is cut off.
    assert!(first.read_line().contains("秒没有说话"));

    let state = view.wait_for("four alerts", |s| {
        s["alerts"].as_array().is_some_and(|a| a.len() == 4)
    });
    let alerts = state["alerts"].as_array().unwrap();
    let kinds: Vec<&str> = alerts.iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["cut_off", "refused", "wrong_encoding", "wrong_encoding"],
        "{state:#}"
    );
    assert_eq!(alerts[2]["reply"], hint, "the hint the shop gave");
    assert_eq!(alerts[2]["said"]["hex"], "E8 A5 BF E7 93 9C");
    assert_eq!(alerts[3]["reply"], garbled);
    assert_eq!(alerts[3]["said"]["hex"], "FF FE 80");
    assert_eq!(alerts[1]["reply"], "抱歉,本店客满了,请稍后再来。");
    assert!(alerts[0]["reply"].as_str().unwrap().contains("2 秒"));
    assert_eq!(state["refused"], 1);
}

#[test]
fn off_loopback_the_page_and_the_api_need_the_token() {
    let (_server, view) = start("0.0.0.0:0", &[]);
    let token = view.token.clone().expect("a token in the live view line");
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    for path in ["/", "/api/state"] {
        assert_eq!(view.get(path).status, 403, "{path} without a token");
        let wrong = format!("{path}?token={}", "0".repeat(32));
        assert_eq!(view.get(&wrong).status, 403, "{path} with a wrong token");
        let short = format!("{path}?token={}", &token[..31]);
        assert_eq!(
            view.get(&short).status,
            403,
            "{path} with part of the token"
        );
        assert_eq!(view.get(&view.with_token(path)).status, 200, "{path}");
    }
    let forbidden = view.get("/api/state");
    assert!(!forbidden.body.contains("customers"));

    // A second shop has a different token.
    let (_other, other) = start("0.0.0.0:0", &[]);
    assert_ne!(other.token, view.token);
}

#[test]
fn a_wildcard_shop_lists_where_students_connect() {
    let (server, view) = start("127.0.0.1:0", &["--host", "0.0.0.0"]);
    let port = server.addr.port();
    assert!(
        server.wait_for_log("students connect to:", SHOWS_WITHIN),
        "{}",
        server.stderr()
    );
    let log = server.stderr();
    let line = log
        .lines()
        .find(|l| l.contains("students connect to:"))
        .unwrap();
    let state = view.state();
    let addresses = state["addresses"].as_array().unwrap();
    assert!(!addresses.is_empty());
    for a in addresses {
        let addr: SocketAddr = a["addr"].as_str().unwrap().parse().unwrap();
        assert_eq!(addr.port(), port);
        assert!(!addr.ip().is_unspecified());
        assert!(line.contains(&addr.to_string()), "{line}");
    }
}

#[test]
fn stuck_viewers_never_slow_customers() {
    let (server, view) = start("127.0.0.1:0", &[]);
    // Viewers that send nothing (holding every web thread until its deadline), and
    // viewers that ask for the state and never read it.
    let mut stuck = Vec::new();
    for i in 0..40 {
        let mut s = TcpStream::connect(view.addr).unwrap();
        if i % 2 == 0 {
            write!(s, "GET /api/state HTTP/1.1\r\n\r\n").unwrap();
        }
        stuck.push(s);
    }
    let started = Instant::now();
    let customers: Vec<_> = (0..8)
        .map(|_| {
            let addr = server.addr;
            thread::spawn(move || {
                let mut c = Customer::connect(addr);
                c.read_line();
                let mut slowest = Duration::ZERO;
                for _ in 0..20 {
                    let t = Instant::now();
                    assert!(c.ask("矿泉水").starts_with("购买成功"));
                    slowest = slowest.max(t.elapsed());
                }
                slowest
            })
        })
        .collect();
    let slowest = customers
        .into_iter()
        .map(|h| h.join().unwrap())
        .max()
        .unwrap();
    // Generous bounds: the point is that nobody waits for the view's 5 s deadlines.
    assert!(
        slowest < Duration::from_secs(2),
        "slowest purchase {slowest:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // Once the stuck viewers are gone, the view answers again and saw every sale.
    drop(stuck);
    let state = view.wait_for("160 sales", |s| item(s, "矿泉水")["sold"] == 160);
    assert_eq!(item(&state, "矿泉水")["remaining"], 40);
}

#[test]
fn alerts_for_too_many_from_one_address_and_a_trickler() {
    let (server, view) = start(
        "127.0.0.1:0",
        &["--max-per-ip", "1", "--message-timeout", "1"],
    );
    // Another machine (127.0.0.2; the server's own machine is exempt from the limit).
    let other: IpAddr = "127.0.0.2".parse().unwrap();
    let mut trickler = Customer::from_stream(connect_from(other, server.addr));
    assert!(trickler.read_line().starts_with("目前商店还有"));
    // The same machine again: one connection per address is the limit.
    let mut second = Customer::from_stream(connect_from(other, server.addr));
    let refused = second.read_line();
    assert!(refused.contains("个连接"), "{refused}");
    // One byte every 100 ms, below the pause that ends a message: it never completes,
    // and the message timeout cuts the trickler off.
    let deadline = Instant::now() + SHOWS_WITHIN;
    trickler.stream.set_nonblocking(true).unwrap();
    let mut got = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "never cut off");
        if trickler.stream.write(b"x").is_err() {
            break;
        }
        let mut buf = [0u8; 256];
        match trickler.stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
        thread::sleep(Duration::from_millis(100));
    }
    let said = snack_shop::codec::decode(&got, snack_shop::codec::WireEncoding::Gbk)
        .expect("GBK reply")
        .0;
    assert!(said.contains("秒还没有发完"), "{said:?}");

    let state = view.wait_for("two alerts", |s| {
        s["alerts"].as_array().is_some_and(|a| a.len() == 2)
    });
    let alerts = state["alerts"].as_array().unwrap();
    assert_eq!(alerts[1]["kind"], "refused");
    assert_eq!(alerts[1]["reply"], refused);
    assert_eq!(alerts[0]["kind"], "cut_off");
    assert_eq!(alerts[0]["reply"], said.trim_end());
}

#[cfg(unix)] // sends SIGHUP
#[test]
fn a_reload_shows_new_prices_and_keeps_removed_items_sold() {
    let goods = support::goods_file(
        "[[goods]]\nname = \"瓜子\"\nprice = 4.5\nstock = 10\n\
         [[goods]]\nname = \"西瓜\"\nprice = 2\n",
    );
    let path = goods.to_str().expect("utf-8 path");
    let mut server = ShopServer::start_raw(&["--goods", path, "--web", "127.0.0.1:0"], None);
    let view = view_of(&mut server);
    let mut c = server.customer();
    assert_eq!(c.ask("西瓜"), "购买成功,余额 -2");
    let before = view.state();
    assert_eq!(item(&before, "西瓜")["remaining"], Value::Null, "unlimited");
    std::fs::write(
        &goods,
        "[[goods]]\nname = \"瓜子\"\nprice = 5\nstock = 10\n",
    )
    .unwrap();
    server.send_signal("HUP");
    assert!(
        server.wait_for_log("goods reloaded", SHOWS_WITHIN),
        "{}",
        server.stderr()
    );
    let state = view.state();
    assert_eq!(item(&state, "瓜子")["price"], 5.0);
    let gone = item(&state, "西瓜");
    assert_eq!(gone["sold"], 1);
    assert_eq!(gone["price"], Value::Null, "no longer sold: no price");
    assert_eq!(state["total"]["takings"], 2.0);
}

#[test]
fn a_bad_or_busy_web_address_is_one_clear_error() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = busy.local_addr().unwrap().to_string();
    for (web, want) in [
        ("nonsense", "bad --web address"),
        (busy.as_str(), "cannot serve the live view on"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_shop-server"))
            .args(["--port", "0", "--web", web])
            .output()
            .expect("run shop-server");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{web}: {stderr}");
        assert!(stderr.contains(want), "{web}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(out.stdout.is_empty(), "nothing on stdout: {web}");
    }
}

#[test]
fn idle_connections_from_one_address_do_not_blank_the_view_for_others() {
    // A student's script opens idle connections to the view (slowloris). The teacher's
    // browser, from another address, is still answered at once; the script's extra
    // connections are turned away at once rather than waited for.
    let (_server, view) = start("0.0.0.0:0", &[]);
    // The student's machine: not the server's own, whose connections have places of
    // their own.
    let script = IpAddr::from([127, 0, 0, 3]);
    let idle: Vec<TcpStream> = (0..20).map(|_| connect_from(script, view.addr)).collect();
    // The teacher's browser, on another machine as far as the view can tell.
    let teacher = View {
        addr: view.addr,
        token: view.token.clone(),
        from: Some(IpAddr::from([127, 0, 0, 2])),
    };
    thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    for _ in 0..3 {
        let state = teacher.state();
        assert!(state["items"].is_array());
    }
    // Held connections last the 5 s request deadline; this must not wait for them.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the view waited for idle connections: {:?}",
        started.elapsed()
    );
    // One more from the script's address: closed at once, with a 503 if it gets there
    // before the close (a request that crosses the close may just see a reset).
    let started = Instant::now();
    let mut extra = connect_from(script, view.addr);
    extra
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let _ = write!(extra, "GET /api/state HTTP/1.1\r\n\r\n");
    let mut answer = Vec::new();
    let _ = extra.read_to_end(&mut answer);
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 503 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    // Once the script lets go, its address is served again. Until the view has seen
    // the idle connections close, a request from that address is still turned away
    // (a 503, or a reset if it crosses the close).
    drop(idle);
    let student = View {
        addr: view.addr,
        token: view.token.clone(),
        from: Some(script),
    };
    let deadline = Instant::now() + SHOWS_WITHIN;
    while student
        .try_get(&student.with_token("/api/state"))
        .map_or(true, |r| r.status != 200)
    {
        assert!(Instant::now() < deadline, "never served again");
        thread::sleep(Duration::from_millis(100));
    }
}
