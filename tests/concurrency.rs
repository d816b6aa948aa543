//! Many customers at once: the question the tutorial ends with.

// Tests that need Linux (/proc, prlimit) or Unix (signals) are left out elsewhere, and
// with them some helpers and imports.
#![cfg_attr(not(target_os = "linux"), allow(unused_imports, dead_code))]

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use support::{Customer, ShopServer, all_at_once};

#[test]
fn a_hundred_customers_connected_at_once_each_complete_a_session() {
    // All from 127.0.0.1: above the default of 64 per address.
    let server = ShopServer::start(&["--max-per-ip", "100"]);
    // Everyone connects and is greeted before anyone buys: the server must be holding
    // 100 conversations at the same time, not serving them one after another.
    let mut customers: Vec<Customer> = (0..100).map(|_| server.customer()).collect();
    for (i, c) in customers.iter_mut().enumerate() {
        let item = ["瓜子", "矿泉水"][i % 2];
        c.send(item);
    }
    for (i, c) in customers.iter_mut().enumerate() {
        let want = ["购买成功,余额 -4.5", "购买成功,余额 -2.5"][i % 2];
        assert_eq!(c.read_line(), want, "customer {i}");
        assert_eq!(c.ask("拜拜"), "欢迎下次光临");
        c.expect_closed();
    }
}

#[test]
fn thirty_buyers_race_for_ten_watermelons() {
    let goods = "[[goods]]\nname = \"西瓜\"\nprice = 2\nstock = 10\n";
    let server = ShopServer::with_goods(goods, &[]);
    let addr = server.addr;
    let replies = all_at_once(30, move |_| {
        let mut c = Customer::connect(addr);
        c.read_line();
        c.ask("西瓜")
    });
    let sold = replies.iter().filter(|r| *r == "购买成功,余额 -2").count();
    let refused = replies
        .iter()
        .filter(|r| *r == "抱歉,西瓜已经卖完了,请选购其他的。")
        .count();
    assert_eq!((sold, refused), (10, 20), "{replies:?}");
    let mut late = server.customer();
    assert_eq!(late.ask("菜单"), "菜单:西瓜 2元 已卖完");
}

/// The worker numbers in the server's "connected (worker N)" log lines.
fn workers_seen(log: &str) -> Vec<u64> {
    log.lines()
        .filter_map(|l| l.split("connected (worker ").nth(1))
        .filter_map(|rest| rest.trim_end_matches(')').parse().ok())
        .collect()
}

/// Runs `n` short sessions one after another, each checking a fresh balance.
fn sequential_sessions(server: &ShopServer, n: usize) {
    for i in 0..n {
        let mut c = server.customer();
        assert_eq!(
            c.ask("西瓜"),
            "购买成功,余额 -2",
            "fresh balance in session {i}"
        );
        assert_eq!(c.ask("拜拜"), "欢迎下次光临");
        c.expect_closed();
    }
}

fn wait_for_sessions(server: &ShopServer, n: usize) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = workers_seen(&server.stderr());
        if seen.len() >= n || Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(target_os = "linux")] // reads /proc
#[test]
fn sequential_sessions_reuse_a_cached_thread() {
    let server = ShopServer::start(&["--thread-cache", "4"]);
    let baseline = server.threads();
    sequential_sessions(&server, 50);
    let seen = wait_for_sessions(&server, 50);
    assert_eq!(seen.len(), 50);
    let distinct: HashSet<_> = seen.iter().collect();
    assert!(
        distinct.len() < 5,
        "50 sessions used {} threads: {distinct:?}",
        distinct.len()
    );
    let threads = server.wait_threads_at_most(baseline + 4, Duration::from_secs(5));
    assert!(
        threads <= baseline + 4,
        "{threads} threads, baseline {baseline}"
    );
}

#[cfg(target_os = "linux")] // reads /proc
#[test]
fn without_a_cache_every_session_starts_a_thread() {
    let server = ShopServer::start(&["--thread-cache", "0"]);
    let baseline = server.threads();
    sequential_sessions(&server, 20);
    let seen = wait_for_sessions(&server, 20);
    let distinct: HashSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), 20, "{seen:?}");
    let threads = server.wait_threads_at_most(baseline, Duration::from_secs(5));
    assert_eq!(
        threads, baseline,
        "every thread exits when its customer leaves"
    );
}

#[cfg(target_os = "linux")] // reads /proc
#[test]
fn the_cache_settles_at_its_bound_after_a_burst() {
    let unlimited = "[[goods]]\nname = \"瓜子\"\nprice = 4.5\n";
    let server = ShopServer::with_goods(unlimited, &["--thread-cache", "8"]);
    let baseline = server.threads();
    let addr = server.addr;
    // 500 sessions from 50 loops at once: far more threads than the cache keeps.
    let done = all_at_once(50, move |_| {
        for _ in 0..10 {
            let mut c = Customer::connect(addr);
            c.read_line();
            assert_eq!(c.ask("瓜子"), "购买成功,余额 -4.5");
            assert_eq!(c.ask("拜拜"), "欢迎下次光临");
            c.expect_closed();
        }
        10
    });
    assert_eq!(done.iter().sum::<usize>(), 500);
    let threads = server.wait_threads_at_most(baseline + 8, Duration::from_secs(10));
    assert_eq!(
        threads,
        baseline + 8,
        "exactly the cache's bound stays parked"
    );
    let mut fresh = server.customer();
    assert_eq!(fresh.ask("瓜子"), "购买成功,余额 -4.5");
}
