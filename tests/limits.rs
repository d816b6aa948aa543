//! Limits the shop keeps under abuse, over real sockets against the real `shop-server`:
//! stock (a rush of 60 buyers for the last 10 西瓜 never oversells), message length
//! (`--max-line`, memory stays bounded under a megabyte without a newline), bytes that
//! are not text (undecodable, control characters, byte order marks), seats
//! (`--max-clients`), silence (`--idle-timeout`) and the open-file limit raised at start.
//!
//! After its abuse, every test checks that a fresh customer is still served correctly.

// Tests that need Linux (/proc, prlimit) or Unix (signals) are left out elsewhere, and
// with them some helpers and imports.
#![cfg_attr(not(target_os = "linux"), allow(unused_imports, dead_code))]

mod support;

use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use snack_shop::codec::Charset;
use support::{Customer, GREETING, ShopServer, all_at_once, gbk, proc_status_field, sales_summary};

const TOO_LONG_1024: &str = "抱歉,消息太长了(超过 1024 字节),已忽略。";
const UNKNOWN: &str = "抱歉,您购买的商品目前没有,请选购其他的。";
const GARBLED_GBK: &str = "抱歉,无法识别您发送的文字,本店使用 GBK 编码,请检查发送端的编码设置。";
const CONTROL: &str = "抱歉,消息中有控制字符,请只发送商品名称。";
const FULL: &str = "抱歉,本店客满了,请稍后再来。";

/// Connects until the shop has a seat: a seat is freed by the server's thread, a moment
/// after the customer who held it has gone, so the first attempt may still be turned away.
fn seated(server: &ShopServer) -> Customer {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = Customer::connect(server.addr);
        let first = c.read_line();
        if first != FULL {
            assert_eq!(first, GREETING);
            return c;
        }
        c.expect_closed();
        assert!(Instant::now() < deadline, "no seat freed within 10 s");
        thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh customer is greeted and can buy.
fn fresh_customer_is_served(server: &ShopServer, item: &str, reply: &str) {
    let mut c = seated(server);
    assert_eq!(c.ask(item), reply, "fresh customer buying {item}");
    assert_eq!(c.ask("拜拜"), "欢迎下次光临");
    c.expect_closed();
}

#[cfg(unix)] // sends a signal
#[test]
fn sixty_buyers_rush_the_last_ten_watermelons() {
    const BUYERS: usize = 60;
    let goods = "[[goods]]\nname = \"瓜子\"\nprice = 4.5\nstock = 25\n\
                 [[goods]]\nname = \"西瓜\"\nprice = 2\nstock = 10\n\
                 [[goods]]\nname = \"矿泉水\"\nprice = 2.5\nstock = 200\n";
    let initial = [
        ("瓜子", 25u64, 450u64),
        ("西瓜", 10, 200),
        ("矿泉水", 200, 250),
    ];
    let mut server = ShopServer::with_goods(goods, &[]);
    let addr = server.addr;
    // Everyone connects at the same moment, is greeted, and then everyone sends at the
    // same moment: three purchases in one segment (粘包), so the races are on the stock.
    let ready = Arc::new(Barrier::new(BUYERS));
    let outcomes = all_at_once(BUYERS, move |_| {
        let mut c = Customer::connect(addr);
        let greeting = c.read_line();
        ready.wait();
        c.send_raw(&gbk("西瓜\n瓜子\n矿泉水\n"));
        let replies: Vec<String> = (0..3).map(|_| c.read_line()).collect();
        (greeting, replies)
    });

    // fen spent by every buyer, checked against the running total each reply shows.
    let mut won = [0u64; 3];
    let mut all_spent = 0u64;
    for (i, (greeting, replies)) in outcomes.iter().enumerate() {
        assert!(
            greeting.starts_with("目前商店还有"),
            "buyer {i}: {greeting}"
        );
        let mut spent = 0u64;
        // Replies come in the order asked: 西瓜, 瓜子, 矿泉水.
        for (reply, item) in replies.iter().zip([1, 0, 2]) {
            let (name, _, price) = initial[item];
            if reply.starts_with("购买成功") {
                won[item] += 1;
                spent += price;
                let want = format!("购买成功,余额 -{}", yuan(spent));
                assert_eq!(reply, &want, "buyer {i} buying {name}");
            } else {
                assert_eq!(
                    reply,
                    &format!("抱歉,{name}已经卖完了,请选购其他的。"),
                    "buyer {i}: a refusal names the sold-out item"
                );
            }
        }
        all_spent += spent;
    }
    assert_eq!(won, [25, 10, 60], "瓜子, 西瓜, 矿泉水 sold during the rush");

    // A fresh customer sees the stock that is left, and is still served.
    let mut c = server.customer();
    assert_eq!(
        c.ask("菜单"),
        "菜单:瓜子 4.5元 已卖完,西瓜 2元 已卖完,矿泉水 2.5元 剩140"
    );
    assert_eq!(c.ask("西瓜"), "抱歉,西瓜已经卖完了,请选购其他的。");
    assert_eq!(c.ask("矿泉水"), "购买成功,余额 -2.5");
    all_spent += 250;
    drop(c);

    let (status, _) = server.signal_and_wait("TERM", Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    // The summary's last line, read from stderr by another thread, may lag the exit.
    assert!(server.wait_for_log(support::SUMMARY_TOTAL, Duration::from_secs(5)));
    let stderr = server.stderr();
    let (lines, pieces, takings) =
        sales_summary(&stderr).unwrap_or_else(|| panic!("no sales summary in {stderr}"));
    assert_eq!(lines.len(), 3, "{stderr}");
    for (line, (name, stock, price)) in lines.iter().zip(initial) {
        assert_eq!(line.name, name);
        assert_eq!(
            line.sold + line.left.expect("every item has a stock"),
            stock,
            "sold + left == initial stock for {name}"
        );
        assert_eq!(line.takings, yuan(line.sold * price), "takings for {name}");
    }
    let sold: Vec<u64> = lines.iter().map(|l| l.sold).collect();
    assert_eq!(sold, [25, 10, 61]);
    assert_eq!(pieces, 96);
    assert_eq!(
        takings,
        yuan(all_spent),
        "the total takings are what the customers were told they spent"
    );
}

/// Formats fen the way the shop does: `2`, `4.5`, `2.25`.
fn yuan(fen: u64) -> String {
    snack_shop::Price(fen).to_string()
}

#[test]
fn a_message_over_the_limit_gets_a_reply_and_the_rest_of_its_line_is_dropped() {
    let server = ShopServer::start(&[]);
    let mut c = server.customer();
    // Exactly at the limit is still a message (an unknown item), with LF or CRLF.
    c.send_raw(&[vec![b'a'; 1024], b"\n".to_vec()].concat());
    assert_eq!(c.read_line(), UNKNOWN);
    c.send_raw(&[vec![b'a'; 1024], b"\r\n".to_vec()].concat());
    assert_eq!(
        c.read_line(),
        UNKNOWN,
        "the CR of a CRLF is not part of the message"
    );
    // One byte over is not.
    c.send_raw(&[vec![b'a'; 1025], b"\n".to_vec()].concat());
    assert_eq!(c.read_line(), TOO_LONG_1024);
    // The tail of an over-long line is not a purchase: 西瓜 after 1030 bytes is dropped
    // with the rest, and the next line is a message of its own.
    c.send_raw(&[vec![b'x'; 1030], gbk("西瓜\n菜单\n")].concat());
    assert_eq!(c.read_line(), TOO_LONG_1024);
    assert_eq!(
        c.read_line(),
        "菜单:瓜子 4.5元 剩100,西瓜 2元 剩50,矿泉水 2.5元 剩200",
        "nothing was sold from the over-long line"
    );
    // A long line that arrives in pieces is still one over-long line.
    for _ in 0..3 {
        c.send_raw(&[b'y'; 600]);
        thread::sleep(Duration::from_millis(20));
    }
    c.send_raw(b"\n");
    assert_eq!(c.read_line(), TOO_LONG_1024);
    assert_eq!(c.ask("西瓜"), "购买成功,余额 -2");
    fresh_customer_is_served(&server, "西瓜", "购买成功,余额 -2");
}

#[test]
fn max_line_is_an_option() {
    let server = ShopServer::start(&["--max-line", "16"]);
    let mut c = server.customer();
    assert_eq!(c.ask(&"a".repeat(16)), UNKNOWN);
    assert_eq!(
        c.ask(&"a".repeat(17)),
        "抱歉,消息太长了(超过 16 字节),已忽略。"
    );
    // 8 GBK characters are 16 bytes; 9 are too many.
    assert_eq!(c.ask(&"西".repeat(8)), UNKNOWN);
    assert_eq!(
        c.ask(&"西".repeat(9)),
        "抱歉,消息太长了(超过 16 字节),已忽略。"
    );
    assert_eq!(c.ask("西瓜"), "购买成功,余额 -2");
    fresh_customer_is_served(&server, "瓜子", "购买成功,余额 -4.5");
}

#[cfg(target_os = "linux")] // reads /proc
#[test]
fn megabytes_without_a_newline_keep_memory_bounded() {
    const SENDERS: usize = 8;
    const MIB: usize = 1 << 20;
    let server = ShopServer::start(&[]);
    // Connect and talk first, so that the threads, their stacks and their allocator
    // state exist before the "before" measurement.
    let mut customers: Vec<Customer> = (0..SENDERS).map(|_| server.customer()).collect();
    for c in &mut customers {
        let reply = c.ask("菜单");
        assert!(reply.starts_with("菜单:"), "{reply}");
    }
    let pid = server.pid();
    let (rss_before, peak_before) = (server.rss_kib(), proc_status_field(pid, "VmHWM:"));

    // 8 MiB in all, sent at the same time and without a single newline. Held, it would
    // show in the peak resident size even if it were freed afterwards.
    let handles: Vec<_> = customers
        .into_iter()
        .map(|mut c| {
            thread::spawn(move || {
                c.send_raw(&vec![b'x'; MIB]);
                c
            })
        })
        .collect();
    let mut customers: Vec<Customer> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for (i, c) in customers.iter_mut().enumerate() {
        // Once the sender pauses, the server answers the over-long message. Should the
        // stream have stalled mid-way, the server may have answered it in two parts.
        assert_eq!(c.read_line(), TOO_LONG_1024, "sender {i}");
        c.send("菜单");
        let mut extra = 0;
        loop {
            let line = c.read_line();
            if line != TOO_LONG_1024 {
                assert!(line.starts_with("菜单:"), "{line}");
                break;
            }
            extra += 1;
            assert!(extra < 5, "sender {i}: too many replies for one megabyte");
        }
    }
    let (rss_after, peak_after) = (server.rss_kib(), proc_status_field(pid, "VmHWM:"));
    let bound = 2048;
    assert!(
        rss_after.saturating_sub(rss_before) < bound,
        "VmRSS grew from {rss_before} to {rss_after} KiB for {SENDERS} MiB received"
    );
    assert!(
        peak_after.saturating_sub(peak_before) < bound,
        "VmHWM grew from {peak_before} to {peak_after} KiB for {SENDERS} MiB received"
    );
    for c in &mut customers {
        assert_eq!(c.ask("矿泉水"), "购买成功,余额 -2.5");
    }
    fresh_customer_is_served(&server, "西瓜", "购买成功,余额 -2");
}

#[test]
fn undecodable_and_control_bytes_get_a_reply_and_the_session_goes_on() {
    let server = ShopServer::start(&[]);
    let mut c = server.customer();
    let mut spent = 0;
    let cases: &[(&str, &[u8], &str)] = &[
        ("FF FE 80", b"\xff\xfe\x80\n", GARBLED_GBK),
        ("a lone GBK lead byte", b"\xce\n", GARBLED_GBK),
        ("a GBK name cut short", b"\xce\xf7\xb9\n", GARBLED_GBK),
        ("NUL", b"\0\n", CONTROL),
        ("NUL inside a name", b"\xce\xf7\0\xb9\xcf\n", CONTROL),
        ("a terminal escape", b"\x1b[2J\n", CONTROL),
        (
            "a coloured name",
            b"\x1b[31m\xce\xf7\xb9\xcf\x1b[0m\n",
            CONTROL,
        ),
        ("a bell", b"\x07\n", CONTROL),
        ("DEL", b"\x7f\n", CONTROL),
    ];
    for (name, bytes, want) in cases {
        c.send_raw(bytes);
        assert_eq!(&c.read_line(), want, "{name}");
        // The session goes on: the next purchase works, with the total unchanged.
        spent += 2;
        assert_eq!(
            c.ask("西瓜"),
            format!("购买成功,余额 -{spent}"),
            "after {name}"
        );
    }
    // Without any newline (the debug assistant), a lone lead byte is answered once the
    // sender pauses, and is not glued to the next message.
    c.send_raw(b"\xce");
    assert_eq!(c.read_line(), GARBLED_GBK);
    spent += 2;
    assert_eq!(c.ask("西瓜"), format!("购买成功,余额 -{spent}"));
    fresh_customer_is_served(&server, "西瓜", "购买成功,余额 -2");
}

#[test]
fn a_byte_order_mark_never_switches_the_decoder() {
    let utf8_bom = b"\xef\xbb\xbf";
    let utf16le_xigua = b"\xff\xfe\x7f\x89\xdc\x74\n"; // BOM + 西瓜 in UTF-16LE
    // GBK shop: a BOM before UTF-8 or GBK text does not make it UTF-8. UTF-8 西瓜 after
    // a BOM is not GBK, so it gets the wrong-encoding hint, in UTF-8 and selling nothing;
    // the other bytes are garbled GBK; and the next message is GBK again.
    let server = ShopServer::start(&[]);
    let mut c = server.customer();
    c.send_raw(&[&utf8_bom[..], "西瓜\n".as_bytes()].concat());
    assert_eq!(
        c.read_raw_line(),
        "抱歉,您发送的是 UTF-8 编码的「西瓜」,本店使用 GBK 编码,请把发送端的编码改成 GBK。\r\n"
            .as_bytes(),
        "UTF-8 BOM + UTF-8 西瓜"
    );
    for (name, bytes) in [
        (
            "UTF-8 BOM + GBK 西瓜",
            [&utf8_bom[..], &gbk("西瓜\n")].concat(),
        ),
        ("UTF-16LE BOM + UTF-16LE 西瓜", utf16le_xigua.to_vec()),
    ] {
        c.send_raw(&bytes);
        assert_eq!(c.read_line(), GARBLED_GBK, "{name}");
    }
    assert_eq!(
        c.ask("西瓜"),
        "购买成功,余额 -2",
        "still GBK after the BOMs"
    );
    assert_eq!(
        c.ask("菜单"),
        "菜单:瓜子 4.5元 剩100,西瓜 2元 剩49,矿泉水 2.5元 剩200",
        "nothing but the one GBK 西瓜 was sold"
    );

    // UTF-8 shop: a stray BOM in front of UTF-8 text is ignored, but one in front of a
    // UTF-16 text does not make the shop read UTF-16.
    let server = ShopServer::start(&["--encoding", "utf-8"]);
    let mut c = Customer::connect(server.addr);
    c.charset = Charset::Utf8;
    assert_eq!(c.read_line(), GREETING);
    c.send_raw(&[&utf8_bom[..], "西瓜\n".as_bytes()].concat());
    assert_eq!(c.read_line(), "购买成功,余额 -2");
    c.send_raw(utf16le_xigua);
    assert_eq!(
        c.read_line(),
        "抱歉,无法识别您发送的文字,本店使用 UTF-8 编码,请检查发送端的编码设置。"
    );
    assert_eq!(c.ask("西瓜"), "购买成功,余额 -4");

    // Auto: a UTF-8 BOM does not stick. UTF-8 after it is answered in UTF-8, and the
    // next GBK message is answered in GBK.
    let server = ShopServer::start(&["--encoding", "auto"]);
    let mut c = server.customer();
    c.send_raw(&[&utf8_bom[..], "西瓜\n".as_bytes()].concat());
    assert_eq!(c.read_raw_line(), "购买成功,余额 -2\r\n".as_bytes());
    c.send_raw(&gbk("西瓜\n"));
    assert_eq!(c.read_raw_line(), gbk("购买成功,余额 -4\r\n"));
    fresh_customer_is_served(&server, "瓜子", "购买成功,余额 -4.5");
}

#[test]
fn the_customer_after_the_last_seat_is_told_the_shop_is_full() {
    let server = ShopServer::start(&["--max-clients", "2"]);
    // Each way of leaving must give the seats back: a guard, not bookkeeping on the
    // happy path. Every round fills both seats, checks a third customer is turned
    // away, and then both customers leave that way.
    let ways = [
        "拜拜",
        "close",
        "reset",
        "half-close",
        "too long, then close",
    ];
    for way in ways {
        let mut a = seated(&server);
        let b = seated(&server);
        let mut third = Customer::connect(server.addr);
        assert_eq!(third.read_line(), FULL, "before leaving by {way}");
        third.expect_closed();
        assert_eq!(
            a.ask("西瓜"),
            "购买成功,余额 -2",
            "seated customers are served"
        );
        for c in [a, b] {
            leave(c, way);
        }
    }
    let mut a = seated(&server);
    let mut b = seated(&server);
    assert_eq!(b.ask("瓜子"), "购买成功,余额 -4.5");
    assert_eq!(Customer::connect(server.addr).read_line(), FULL);
    assert_eq!(a.ask("矿泉水"), "购买成功,余额 -2.5");
}

/// Leaves the shop in one of the ways a customer can.
fn leave(mut c: Customer, way: &str) {
    match way {
        "拜拜" => {
            assert_eq!(c.ask("拜拜"), "欢迎下次光临");
            c.expect_closed();
        }
        "close" => drop(c),
        "reset" => {
            // Closing with an unread reply in the receive buffer makes Linux send RST.
            c.send("菜单");
            wait_readable(&c.stream);
            drop(c);
        }
        "half-close" => {
            c.send_raw(&gbk("矿泉水"));
            c.shutdown_write();
            assert!(c.read_line().starts_with("购买成功"));
            c.expect_closed();
        }
        "too long, then close" => {
            c.send_raw(&vec![b'z'; 5000]);
            drop(c);
        }
        other => panic!("no way to leave called {other}"),
    }
}

/// Blocks until something can be read from `stream`, without reading it.
fn wait_readable(stream: &TcpStream) {
    let mut byte = [0u8];
    let n = stream.peek(&mut byte).expect("peek");
    assert_eq!(n, 1, "expected data, got end of stream");
}

#[test]
fn a_silent_customer_is_told_why_and_closed() {
    let server = ShopServer::start(&["--idle-timeout", "2", "--max-clients", "1"]);
    let mut c = server.customer();
    let started = Instant::now();
    assert_eq!(
        c.read_line(),
        "您已经 2 秒没有说话了,连接将关闭,欢迎下次光临。"
    );
    let waited = started.elapsed();
    c.expect_closed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(5),
        "closed after {waited:?} with --idle-timeout 2"
    );

    // The seat came back (there is only one), and a customer who keeps talking is not
    // idle, however long the visit (3 s here, against a 2 s idle timeout; the pauses
    // leave 1.4 s of margin for a loaded machine's scheduling).
    let mut c = seated(&server);
    for _ in 0..5 {
        thread::sleep(Duration::from_millis(600));
        let reply = c.ask("菜单");
        assert!(reply.starts_with("菜单:"), "{reply}");
    }
    assert_eq!(c.ask("西瓜"), "购买成功,余额 -2");
    // A message without a newline is answered, then the silence after it counts.
    c.send_raw(&gbk("西瓜"));
    assert_eq!(c.read_line(), "购买成功,余额 -4");
    let started = Instant::now();
    assert_eq!(
        c.read_line(),
        "您已经 2 秒没有说话了,连接将关闭,欢迎下次光临。"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    c.expect_closed();
    fresh_customer_is_served(&server, "瓜子", "购买成功,余额 -4.5");
}

#[test]
fn a_customer_who_comes_straight_back_gets_the_only_seat() {
    // The server frees the seat before it sends the end of the stream, so a customer
    // who reconnects the moment it sees the close is never turned away by its own
    // previous visit. (The window this guards is microseconds wide; the test mainly
    // catches a seat that is returned late or not at all.)
    let server = ShopServer::start(&["--max-clients", "1"]);
    for visit in 0..30 {
        let mut c = Customer::connect(server.addr);
        assert_eq!(c.read_line(), GREETING, "visit {visit}");
        assert_eq!(c.ask("拜拜"), "欢迎下次光临");
        c.expect_closed();
    }
}

#[test]
fn an_empty_shop_waits_past_the_idle_timeout_without_complaint() {
    // Accepted sockets inherit the idle timeout from the listener, where it also bounds
    // each wait in `accept`: a quiet shop must simply keep waiting.
    let server = ShopServer::start(&["--idle-timeout", "1"]);
    thread::sleep(Duration::from_millis(2500));
    let mut c = seated(&server);
    assert_eq!(c.ask("西瓜"), "购买成功,余额 -2");
    support::assert_quiet_log(&server.stderr(), "an empty shop past its idle timeout");
}

#[cfg(target_os = "linux")] // runs the server under prlimit
#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit_at_start() {
    let hard = open_files_limit("self").1;
    let soft = 256.min(hard);
    let goods = support::shipped_goods();
    let server = ShopServer::start_raw(
        &["--goods", goods.to_str().unwrap()],
        Some(&format!("ulimit -Sn {soft};")),
    );
    let (server_soft, server_hard) = open_files_limit(&server.pid().to_string());
    assert_eq!(server_hard, hard, "the hard limit is inherited unchanged");
    assert_eq!(
        server_soft, hard,
        "started with a soft limit of {soft}, the server raised it to the hard limit"
    );
    assert!(
        server.wait_for_log(&format!("open file limit: {hard}"), Duration::from_secs(5)),
        "{}",
        server.stderr()
    );
    fresh_customer_is_served(&server, "西瓜", "购买成功,余额 -2");
}

/// (soft, hard) `Max open files` of a process, from `/proc/PID/limits`.
fn open_files_limit(pid: &str) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("read limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 2, "{line}");
    (numbers[0], numbers[1])
}
