//! A stalled stderr does not stall the shop, against the real `shop-server` at
//! `RUST_LOG=debug` with its stderr going to a pipe that nobody reads (a paused
//! terminal, a supervisor that does not read logs): hundreds of sessions are still
//! served, SIGTERM still ends the server quickly, and once stderr drains again a log line
//! says how many lines were dropped.

// Signals are how these tests stop or poke the server: Unix only.
#![cfg(unix)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use support::{Customer, gbk, goods_file, sales_summary};

/// Unlimited stock, so a flood of purchases never runs out.
const GOODS: &str = "[[goods]]\nname = \"西瓜\"\nprice = 2\n";

/// A server whose stderr is a pipe this test holds but does not read.
struct Stalled {
    child: Child,
    addr: SocketAddr,
    stderr: Option<ChildStderr>,
}

impl Stalled {
    fn start() -> Stalled {
        let goods = goods_file(GOODS);
        let mut child = Command::new(env!("CARGO_BIN_EXE_shop-server"))
            .args(["--goods", goods.to_str().unwrap(), "--port", "0"])
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start shop-server");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).expect("listening line");
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .parse()
            .expect("address");
        let stderr = child.stderr.take();
        Stalled {
            child,
            addr,
            stderr,
        }
    }

    /// Sends SIGTERM and returns how long the process took to exit, and whether it
    /// exited with status 0. Panics after 20 s.
    fn terminate(&mut self) -> (Duration, bool) {
        let started = Instant::now();
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success());
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (started.elapsed(), status.success());
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "SIGTERM did not end the server within 20 s"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Stalled {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One customer pipelines `n` purchases (each one logged twice at debug) and reads every
/// reply. Returns the pieces bought.
fn flood(addr: SocketAddr, n: usize) -> u64 {
    let mut c = Customer::connect(addr);
    c.read_line();
    let mut writer = c.stream.try_clone().unwrap();
    let requests = gbk(&"西瓜\n".repeat(n));
    let sender = thread::spawn(move || writer.write_all(&requests).expect("send the flood"));
    for i in 1..=n {
        assert_eq!(c.read_line(), format!("购买成功,余额 -{}", 2 * i));
    }
    sender.join().unwrap();
    assert_eq!(c.ask("拜拜"), "欢迎下次光临");
    n as u64
}

/// A short session: greeting, one purchase, goodbye.
fn session(addr: SocketAddr) {
    let mut c = Customer::connect(addr);
    assert!(c.read_line().starts_with("目前商店还有"));
    assert_eq!(c.ask("西瓜"), "购买成功,余额 -2");
    assert_eq!(c.ask("拜拜"), "欢迎下次光临");
    c.expect_closed();
}

#[test]
fn a_stalled_stderr_does_not_stall_the_shop_and_sigterm_still_ends_it() {
    let mut server = Stalled::start();
    // Far more log than the pipe (64 KiB) and the log queue hold together.
    flood(server.addr, 5000);
    let started = Instant::now();
    for _ in 0..300 {
        session(server.addr);
    }
    println!(
        "300 sessions in {:?} with stderr stalled",
        started.elapsed()
    );

    // Customers still in the shop when it closes are told so, stderr or not.
    let mut staying: Vec<Customer> = (0..5)
        .map(|_| {
            let mut c = Customer::connect(server.addr);
            c.read_line();
            c
        })
        .collect();
    assert_eq!(staying[0].ask("西瓜"), "购买成功,余额 -2");
    let (took, success) = server.terminate();
    for c in &mut staying {
        assert_eq!(c.read_line(), "本店打烊了,欢迎下次光临");
    }
    // "About 2 s": the shutdown grace, then 0.5 s without progress on the summary.
    // Generous, for a loaded 2-core CI machine; a server that waited for stderr would
    // never exit at all.
    assert!(took < Duration::from_secs(8), "exit took {took:?}");
    assert!(success, "exit status");
    // The pipe really was stalled to the end: the server exited without getting its
    // summary out, instead of waiting for it.
    let mut logged = Vec::new();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut logged)
        .unwrap();
    let logged = String::from_utf8_lossy(&logged);
    assert!(logged.starts_with('['), "{logged:.200}");
    assert!(
        !logged.contains(support::SUMMARY_HEAD),
        "stderr was not stalled"
    );
    println!("exit after {took:?}; {} bytes in the pipe", logged.len());
}

#[test]
fn lines_dropped_while_stderr_stalls_are_counted_once_it_drains() {
    let mut server = Stalled::start();
    let bought = flood(server.addr, 6000);

    // Now read stderr again, as a terminal does when it is un-paused.
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    let pipe = server.stderr.take().unwrap();
    let reader = thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    // Waits for `needle` in the log after byte `from`, and returns where it ends.
    let wait_for = |needle: &str, from: usize| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(at) = log.lock().unwrap()[from..].find(needle) {
                return from + at + needle.len();
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("no {needle:?} in the log:\n{}", log.lock().unwrap());
    };
    let notice = wait_for(" log lines dropped: stderr was not keeping up", 0);
    let dropped: u64 = log
        .lock()
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (head, rest) = l.split_once("] ")?;
            let n = rest.strip_suffix(" log lines dropped: stderr was not keeping up")?;
            assert!(head.ends_with(" WARN"), "{l}");
            Some(n)
        })
        .map(|n| n.parse::<u64>().unwrap())
        .sum();
    // 12,000 debug lines for the purchases; the pipe and the queue hold a few thousand.
    assert!(dropped > 1000, "{dropped} dropped");

    // Logging goes on: a fresh customer is served and logged.
    session(server.addr);
    wait_for(" connected (worker ", notice);

    let (took, success) = server.terminate();
    assert!(took < Duration::from_secs(8), "exit took {took:?}");
    assert!(success);
    reader.join().unwrap();
    // The summary went through the writer too, after everything else, and counts
    // every purchase.
    let log = log.lock().unwrap().clone();
    let (_, pieces, takings) = sales_summary(&log).expect("a sales summary");
    assert_eq!(pieces, bought + 1);
    assert_eq!(takings, (2 * (bought + 1)).to_string());
    println!("{dropped} lines dropped and counted");
}
