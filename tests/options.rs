//! Option bounds, against the real `shop-server`: `--max-line` at most 64 KiB,
//! `--stack-kib` at least 32 (and that minimum serves a crowd), and `--host` taking IPv6
//! with or without brackets as well as names. Out-of-range values are refused with one
//! clear error before anything starts.

mod support;

use std::net::{IpAddr, Ipv6Addr};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::{Customer, GREETING, ShopServer, all_at_once, gbk};

/// Runs `shop-server` with `args` (and `env`) and asserts clap refuses them: exit code 2
/// and an error naming the option and its bound.
/// A server that accepts the options is killed after a while, so the test fails
/// instead of hanging.
fn refused(args: &[&str], env: &[(&str, &str)], parts: &[&str]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shop-server"))
        .args(args)
        .args(["--port", "0"])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run shop-server");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("try_wait").is_none() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("wait for shop-server");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}: started anyway");
    let first = stderr.lines().next().unwrap_or("");
    assert!(first.starts_with("error: invalid value"), "{first}");
    for part in parts {
        assert!(first.contains(part), "{first:?} should contain {part:?}");
    }
}

#[test]
fn timeouts_beyond_a_day_are_refused_not_a_panic_per_customer() {
    // u64::MAX seconds once overflowed `now + timeout` and panicked every connection.
    for option in ["--idle-timeout", "--write-timeout"] {
        for value in ["18446744073709551615", "86401"] {
            refused(&[option, value], &[], &[option, "0..=86400"]);
        }
    }
    refused(
        &[],
        &[("SHOP_IDLE_TIMEOUT", "18446744073709551615")],
        &["--idle-timeout", "0..=86400"],
    );
    // The bound itself serves customers, silent or not.
    let server = ShopServer::start(&["--idle-timeout", "86400", "--write-timeout", "86400"]);
    let mut c = server.customer();
    thread::sleep(Duration::from_millis(1200));
    assert_eq!(c.ask("西瓜"), "购买成功,余额 -2");
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

#[test]
fn max_line_is_at_most_64_kib() {
    for value in ["65537", "1048576", "67108864", "0"] {
        refused(&["--max-line", value], &[], &["--max-line", "1..=65536"]);
    }
    refused(
        &[],
        &[("SHOP_MAX_LINE", "100000")],
        &["--max-line", "1..=65536"],
    );

    // The bound itself works: a message of exactly 64 KiB is a message, one byte more
    // is too long, and the customer goes on either way.
    let server = ShopServer::start(&["--max-line", "65536"]);
    let mut c = server.customer();
    let mut long = vec![b'a'; 65536];
    long.push(b'\n');
    c.send_raw(&long);
    assert_eq!(c.read_line(), "抱歉,您购买的商品目前没有,请选购其他的。");
    let mut longer = vec![b'a'; 65537];
    longer.push(b'\n');
    c.send_raw(&longer);
    assert!(c.read_line().contains("消息太长了"));
    assert_eq!(c.ask("西瓜"), "购买成功,余额 -2");
}

#[test]
fn stack_kib_has_a_minimum_that_serves_a_crowd() {
    for value in ["31", "16", "1", "0"] {
        refused(&["--stack-kib", value], &[], &["--stack-kib", "32..="]);
    }
    // The minimum, under the deepest paths there are, in every wire encoding: GBK and
    // UTF-8 purchases, unknown items in both (the wrong-encoding hint decodes twice),
    // bad bytes, an over-long line, the menu, logging at debug; 20 customers at once.
    let goods = "[[goods]]\nname = \"西瓜\"\nprice = 2\n[[goods]]\nname = \"瓜子\"\nprice = 4.5\n";
    for wire in ["auto", "gbk", "utf-8"] {
        let server = ShopServer::with_goods(goods, &["--stack-kib", "32", "--encoding", wire]);
        let addr = server.addr;
        let served = all_at_once(20, move |i| {
            let mut c = Customer::connect(addr);
            assert!(!c.read_raw_line().is_empty());
            let utf8 = |text: &str| format!("{text}\n").into_bytes();
            let with_newline = |mut bytes: Vec<u8>| {
                bytes.push(b'\n');
                bytes
            };
            let messages = [
                with_newline(gbk("西瓜")),
                utf8("西瓜"),
                with_newline(gbk("红牛")),
                utf8("红牛"),
                with_newline(gbk("菜单")),
                b"\xff\xfe\x00\x1b[31m\n".to_vec(),
                with_newline(gbk(&"瓜".repeat(600))),
            ];
            for _ in 0..3 {
                for message in &messages {
                    c.send_raw(message);
                    let reply = c.read_raw_line();
                    assert!(reply.ends_with(b"\r\n"), "{wire} customer {i}: {reply:?}");
                }
                thread::yield_now();
            }
            c.send_raw(&utf8_or_gbk(wire, "拜拜"));
            assert!(c.read_raw_line().ends_with(b"\r\n"));
            c.expect_closed();
            true
        });
        assert!(served.into_iter().all(|ok| ok));
        let mut fresh = Customer::connect(server.addr);
        assert!(!fresh.read_raw_line().is_empty());
        fresh.send_raw(&utf8_or_gbk(wire, "瓜子"));
        assert!(fresh.read_raw_line().ends_with(b"\r\n"));
        assert!(
            server.wait_for_log("bought 瓜子", Duration::from_secs(5)),
            "{wire}: the fresh customer bought"
        );
        assert!(!server.stderr().contains("overflow"), "{wire}");
    }
}

/// `text` and a newline in the charset the wire encoding expects.
fn utf8_or_gbk(wire: &str, text: &str) -> Vec<u8> {
    let mut bytes = if wire == "utf-8" {
        text.as_bytes().to_vec()
    } else {
        gbk(text)
    };
    bytes.push(b'\n');
    bytes
}

#[test]
fn host_takes_ipv6_with_or_without_brackets_and_names() {
    let ipv6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    let hosts: &[&str] = if ipv6 {
        &["::1", "[::1]", "localhost", "127.0.0.1"]
    } else {
        println!("no IPv6 loopback here: only names and IPv4 are tried");
        &["localhost", "127.0.0.1"]
    };
    for host in hosts {
        let server = ShopServer::start(&["--host", host]);
        if host.contains(':') {
            assert_eq!(server.addr.ip(), IpAddr::V6(Ipv6Addr::LOCALHOST), "{host}");
        }
        let mut c = Customer::connect(server.addr);
        assert_eq!(c.read_line(), GREETING, "{host}");
        assert_eq!(c.ask("西瓜"), "购买成功,余额 -2", "{host}");
    }
    for bad in ["[::1", "::1]", "[]", "[[::1]]", ""] {
        refused(&["--host", bad], &[], &["--host", "is not an address"]);
    }
}
