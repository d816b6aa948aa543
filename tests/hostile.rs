//! Hostile customers against the real `shop-server`, as a student with a script would
//! try them: tricklers that send one byte at a time below the flush interval (with or
//! without passing `--max-line`), one address taking every seat (`--max-per-ip`), and
//! a `拜拜` followed by a flood of bytes.
//!
//! After each abuse, a fresh customer is served correctly.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};
use support::{Customer, GREETING, ShopServer, assert_quiet_log, gbk};

const TOO_SLOW_1: &str = "抱歉,您的消息 1 秒还没有发完,连接将关闭,欢迎下次光临。";
const FULL: &str = "抱歉,本店客满了,请稍后再来。";
const UNKNOWN: &str = "抱歉,您购买的商品目前没有,请选购其他的。";
const TOO_LONG_16: &str = "抱歉,消息太长了(超过 16 字节),已忽略。";

/// A fresh customer is greeted, can buy, and says goodbye.
fn fresh_customer_is_served(server: &ShopServer, item: &str, reply: &str) {
    let mut c = server.customer();
    assert_eq!(c.ask(item), reply, "fresh customer buying {item}");
    assert_eq!(c.ask("拜拜"), "欢迎下次光临");
    c.expect_closed();
}

/// The server's log once it holds `n` lines with `needle` (or after 10 s). Log lines
/// are written by a thread of their own, so they may lag the replies a little.
fn log_with(server: &ShopServer, needle: &str, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.stderr();
        if log.matches(needle).count() >= n || Instant::now() > deadline {
            return log;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `first`, then one `x` every `pace` on `stream`, until a write fails or `stop`
/// is set. Returns the moment the first byte went out.
fn trickle(
    stream: &TcpStream,
    first: &[u8],
    pace: Duration,
    stop: Arc<AtomicBool>,
) -> (Instant, thread::JoinHandle<()>) {
    let mut stream = stream.try_clone().expect("clone stream");
    stream.write_all(first).expect("first bytes");
    let started = Instant::now();
    let handle = thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            thread::sleep(pace);
            if stream.write_all(b"x").is_err() {
                return;
            }
        }
    });
    (started, handle)
}

/// Tricklers at `pace`, one for every seat, each starting with `first`: each is told its
/// message took too long and is closed within the message timeout (1 s) plus a generous
/// margin; then the seats are free again.
fn tricklers_lose_their_seats(first: &[u8], pace: Duration, extra_args: &[&str]) {
    const SEATS: usize = 6;
    let mut args = vec![
        "--max-clients",
        "6",
        "--message-timeout",
        "1",
        "--idle-timeout",
        "60",
    ];
    args.extend_from_slice(extra_args);
    let server = ShopServer::start(&args);
    let stop = Arc::new(AtomicBool::new(false));
    let mut tricklers: Vec<(Customer, Instant, thread::JoinHandle<()>)> = (0..SEATS)
        .map(|_| {
            let c = server.customer();
            let (started, handle) = trickle(&c.stream, first, pace, stop.clone());
            (c, started, handle)
        })
        .collect();
    // Every seat is taken while they trickle.
    let mut turned_away = Customer::connect(server.addr);
    assert_eq!(turned_away.read_line(), FULL);
    turned_away.expect_closed();

    for (i, (c, started, _)) in tricklers.iter_mut().enumerate() {
        // On a loaded machine a trickler's thread may oversleep past the flush interval
        // now and then; the bytes so far are then a message of their own (an unknown
        // item), and the next byte starts a new message and a new deadline.
        let mut flushed = 0;
        let line = loop {
            let line = c.read_line();
            if line != UNKNOWN && line != TOO_LONG_16 {
                break line;
            }
            flushed += 1;
        };
        assert_eq!(line, TOO_SLOW_1, "trickler {i}");
        let took = started.elapsed();
        // 1 s of message timeout; the rest is margin for a slow, noisy CI machine. Each
        // pause that flushed a message started a new one, with a new deadline.
        let most = Duration::from_secs(6) * (flushed + 1);
        assert!(
            took >= Duration::from_millis(900) && took < most,
            "trickler {i} cut after {took:?} ({flushed} pauses flushed a message)"
        );
        c.expect_closed();
    }
    stop.store(true, Ordering::Relaxed);
    for (_, _, handle) in tricklers {
        handle.join().expect("trickler thread");
    }
    // The seats are free again.
    fresh_customer_is_served(&server, "西瓜", "购买成功,余额 -2");
    // Every trickler's departure is logged.
    let log = log_with(&server, "left (message too slow)", SEATS);
    assert_eq!(
        log.matches("left (message too slow)").count(),
        SEATS,
        "{log}"
    );
    assert_quiet_log(&log, "tricklers");
}

#[test]
fn tricklers_below_the_flush_interval_lose_their_seats() {
    // One byte every 150 ms: below the 200 ms flush interval, so no message ever
    // completes, and each byte would restart a per-read timeout.
    tricklers_lose_their_seats(b"x", Duration::from_millis(150), &[]);
}

#[test]
fn a_fast_trickler_loses_its_seat_too() {
    tricklers_lose_their_seats(b"x", Duration::from_millis(20), &[]);
}

#[test]
fn a_trickler_past_max_line_loses_its_seat() {
    // 40 bytes at once are past `--max-line 16`; the rest of the over-long message
    // trickles in below the flush interval.
    tricklers_lose_their_seats(
        &[b'y'; 40],
        Duration::from_millis(150),
        &["--max-line", "16"],
    );
}

#[test]
fn the_idle_timeout_counts_from_the_last_message_not_the_last_byte() {
    // A message timeout far away, an idle timeout of 2 s: a trickler's bytes do not
    // count as talking, so it is cut as idle, 2 s after its greeting.
    let server = ShopServer::start(&["--idle-timeout", "2", "--message-timeout", "3600"]);
    let mut c = server.customer();
    let stop = Arc::new(AtomicBool::new(false));
    let (started, handle) = trickle(&c.stream, b"x", Duration::from_millis(150), stop.clone());
    // As above: a loaded machine may flush a message now and then, which does restart
    // the idle clock.
    let mut flushed = 0;
    let line = loop {
        let line = c.read_line();
        if line != UNKNOWN {
            break line;
        }
        flushed += 1;
    };
    assert_eq!(line, "您已经 2 秒没有说话了,连接将关闭,欢迎下次光临。");
    let took = started.elapsed();
    let most = Duration::from_secs(7) * (flushed + 1);
    assert!(
        took >= Duration::from_millis(1500) && took < most,
        "cut after {took:?} ({flushed} pauses flushed a message)"
    );
    c.expect_closed();
    stop.store(true, Ordering::Relaxed);
    handle.join().expect("trickler thread");
    fresh_customer_is_served(&server, "西瓜", "购买成功,余额 -2");
}

#[test]
fn a_customer_pausing_between_messages_is_not_cut() {
    // The message timeout bounds one message, not a conversation: complete messages
    // spread over three times the timeout are all served, and the seat stays.
    let server = ShopServer::start(&["--message-timeout", "1"]);
    let mut c = server.customer();
    let started = Instant::now();
    let mut spent = 0;
    while started.elapsed() < Duration::from_secs(3) {
        thread::sleep(Duration::from_millis(400));
        spent += 2;
        assert_eq!(c.ask("西瓜"), format!("购买成功,余额 -{spent}"));
    }
    assert_eq!(c.ask("拜拜"), "欢迎下次光临");
    c.expect_closed();
    fresh_customer_is_served(&server, "瓜子", "购买成功,余额 -4.5");
}

/// A TCP connection to `addr` from the local address `from` (say 127.0.0.2), so one
/// test can act as several machines.
fn connect_from(from: &str, addr: SocketAddr) -> Customer {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let local: SocketAddr = format!("{from}:0").parse().expect("local address");
    socket
        .bind(&local.into())
        .expect("bind to a loopback address");
    socket.connect(&addr.into()).expect("connect");
    Customer::from_stream(socket.into())
}

#[test]
fn max_per_ip_keeps_one_machine_from_taking_every_seat() {
    let server = ShopServer::start(&["--max-per-ip", "3", "--max-clients", "10"]);
    const TOO_MANY: &str = "抱歉,您这个地址已经有 3 个连接在本店了,请先关闭一些再来。";
    // Machine A takes its three seats; its fourth connection is turned away.
    let mut a: Vec<Customer> = (0..3)
        .map(|_| {
            let mut c = connect_from("127.0.0.2", server.addr);
            assert_eq!(c.read_line(), GREETING);
            c
        })
        .collect();
    let mut extra = connect_from("127.0.0.2", server.addr);
    assert_eq!(extra.read_line(), TOO_MANY);
    extra.expect_closed();
    // Machine B is served all the same, up to its own three.
    let mut b: Vec<Customer> = (0..3)
        .map(|_| {
            let mut c = connect_from("127.0.0.3", server.addr);
            assert_eq!(c.read_line(), GREETING);
            c
        })
        .collect();
    let mut extra = connect_from("127.0.0.3", server.addr);
    assert_eq!(extra.read_line(), TOO_MANY);
    extra.expect_closed();
    assert_eq!(b[0].ask("西瓜"), "购买成功,余额 -2");

    // When one of A's customers leaves, A has a seat again: the guard freed it.
    assert_eq!(a[0].ask("拜拜"), "欢迎下次光临");
    a[0].expect_closed();
    // The seat is freed when A's thread has closed, a moment after the goodbye: until
    // then a new connection from A is turned away (and logged), so count those tries.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut early = 0;
    let mut again = loop {
        let mut c = connect_from("127.0.0.2", server.addr);
        let first = c.read_line();
        if first == GREETING {
            break c;
        }
        assert_eq!(first, TOO_MANY);
        early += 1;
        assert!(Instant::now() < deadline, "A's seat was never freed");
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(again.ask("瓜子"), "购买成功,余额 -4.5");
    // A customer who vanishes (a reset, no goodbye) frees the seat as well.
    drop(a.remove(1));
    drop(b.remove(0));

    // And 127.0.0.1 is a third address, served as a fresh customer.
    fresh_customer_is_served(&server, "西瓜", "购买成功,余额 -2");
    let turned_away = 2 + early;
    let log = log_with(&server, "turned away: 3 connections from", turned_away);
    assert_eq!(
        log.matches("turned away: 3 connections from").count(),
        turned_away,
        "{log}"
    );
    assert_quiet_log(&log, "max-per-ip");
}

#[test]
fn goodbye_followed_by_64_kib_still_arrives() {
    let server = ShopServer::start(&[]);
    for round in 0..3 {
        let mut c = server.customer();
        assert_eq!(c.ask("西瓜"), "购买成功,余额 -2", "round {round}");
        // The goodbye and, in the same write, 64 KiB the server will never read as
        // messages: closing with them unread would reset the connection.
        let mut bytes = gbk("拜拜\n");
        bytes.extend(std::iter::repeat_n(b'z', 64 * 1024));
        c.send_raw(&bytes);
        if round == 2 {
            // A customer slow to read: the server lingers meanwhile.
            thread::sleep(Duration::from_millis(300));
        }
        assert_eq!(c.read_line(), "欢迎下次光临", "round {round}");
        // And then a clean end of stream. (Linux hides a reset that comes after the
        // FIN from the reader, so this alone cannot tell a lingering close from a plain
        // one; the slow reader below can.)
        let mut rest = Vec::new();
        match c.stream.read_to_end(&mut rest) {
            Ok(_) => assert!(rest.is_empty(), "round {round}: {rest:?}"),
            Err(e) => panic!("round {round}: the connection was reset: {e}"),
        }
    }
    fresh_customer_is_served(&server, "西瓜", "购买成功,余额 -2");
    assert_quiet_log(&server.stderr(), "goodbye and 64 KiB");
}

#[test]
fn the_last_replies_survive_a_slow_reader_who_sends_more_after_goodbye() {
    // Thirty 菜单 replies of several KiB each, then the goodbye, to a customer with a
    // small receive buffer who reads only after a pause: when the server is done, most
    // of the replies still wait in its send buffer. Closing then, with the bytes sent
    // after 拜拜 unread, would reset the connection and throw them away.
    let goods: String = (0..200)
        .map(|i| format!("[[goods]]\nname = \"零食{i:03}\"\nprice = 0.5\nstock = 1000\n"))
        .collect();
    let server = ShopServer::with_goods(&goods, &[]);
    for round in 0..2 {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        socket
            .set_recv_buffer_size(4096)
            .expect("small receive buffer");
        socket.connect(&server.addr.into()).expect("connect");
        let mut c = Customer::from_stream(socket.into());
        assert!(c.read_line().starts_with("目前商店还有"));
        let mut bytes = gbk(&"菜单\n".repeat(30));
        bytes.extend(gbk("拜拜\n"));
        bytes.extend(std::iter::repeat_n(b'z', 64 * 1024));
        c.send_raw(&bytes);
        thread::sleep(Duration::from_millis(300));
        for i in 0..30 {
            assert!(
                c.read_line().starts_with("菜单:零食000 0.5元 剩1000"),
                "round {round}, reply {i}"
            );
        }
        assert_eq!(c.read_line(), "欢迎下次光临", "round {round}");
        c.expect_closed();
    }
    fresh_customer_is_served(&server, "零食001", "购买成功,余额 -0.5");
    assert_quiet_log(&server.stderr(), "slow reader");
}

#[test]
fn the_new_limits_refuse_nonsense_at_start() {
    for (args, range) in [
        (["--max-per-ip", "0"], "1..=1000000"),
        (["--message-timeout", "0"], "1..=3600"),
        (["--message-timeout", "3601"], "1..=3600"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_shop-server"))
            .args(args)
            .args(["--port", "0"])
            .output()
            .expect("run shop-server");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(out.stdout.is_empty(), "{args:?}: it started");
        assert!(stderr.contains(range), "{args:?}: {stderr}");
    }
}
