//! A large catalog stays cheap (issue 10, item 8): customers share one greeting instead
//! of each copying it, and selling out 10,000 items does not take quadratic time.

mod support;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::thread;
use std::time::{Duration, Instant};

use support::{Customer, ShopServer, gbk};

const ITEMS: usize = 10_000;

fn catalog() -> String {
    let mut toml = String::new();
    for i in 0..ITEMS {
        let _ = writeln!(
            toml,
            "[[goods]]\nname = \"货{i:05}\"\nprice = 1.5\nstock = 1"
        );
    }
    toml
}

/// 10,000 items sell out, four customers buying as fast as they can while others
/// come in for the greeting. Rebuilding the greeting under a lock on every sell-out
/// made this quadratic; the bound is generous (a check of the shape, not a benchmark).
#[test]
fn ten_thousand_items_sell_out_in_bounded_time() {
    let server = ShopServer::with_goods(&catalog(), &["--max-line", "4096"]);
    let started = Instant::now();
    let buyers: Vec<_> = (0..4)
        .map(|b| {
            let addr = server.addr;
            thread::spawn(move || {
                let mut c = Customer::connect(addr);
                c.read_line();
                let mut reader = BufReader::new(c.stream.try_clone().unwrap());
                let mut bought = 0;
                // Pipelined in batches of 100: write a batch, then read its replies.
                for chunk in (b..ITEMS).step_by(4).collect::<Vec<_>>().chunks(100) {
                    let mut batch = Vec::new();
                    for i in chunk {
                        batch.extend(gbk(&format!("货{i:05}\n")));
                    }
                    c.stream.write_all(&batch).unwrap();
                    for _ in chunk {
                        let mut line = Vec::new();
                        reader.read_until(b'\n', &mut line).unwrap();
                        if line.starts_with(&gbk("购买成功")) {
                            bought += 1;
                        }
                    }
                }
                bought
            })
        })
        .collect();
    let mut visitors = 0;
    while !buyers.iter().all(|b| b.is_finished()) {
        let mut c = Customer::connect(server.addr);
        let greeting = c.read_line();
        assert!(greeting.starts_with("目前商店还有") || greeting.contains("卖完"));
        visitors += 1;
        thread::sleep(Duration::from_millis(20));
    }
    let bought: usize = buyers.into_iter().map(|b| b.join().unwrap()).sum();
    assert_eq!(bought, ITEMS);
    let elapsed = started.elapsed();
    let mut last = Customer::connect(server.addr);
    assert_eq!(last.read_line(), "抱歉,商品都卖完了,欢迎下次光临。");
    assert!(visitors > 0);
    assert!(
        elapsed < Duration::from_secs(60),
        "selling out {ITEMS} items took {elapsed:?}"
    );
}

/// 200 customers each hold the 10,000-item greeting (about 100 KB). Shared, it costs
/// the server next to nothing per customer; copied into each connection's buffers it
/// cost twice its size per customer (about 40 MB here).
#[test]
fn customers_share_the_greeting_instead_of_copying_it() {
    // 200 customers from 127.0.0.1: above the default of 64 per address.
    let server = ShopServer::with_goods(&catalog(), &["--max-per-ip", "200"]);
    let greeting_len = {
        let mut c = Customer::connect(server.addr);
        c.read_line().len()
    };
    assert!(greeting_len > 100_000, "{greeting_len}");
    // Let the first visit's threads settle, then measure.
    thread::sleep(Duration::from_millis(200));
    let before = server.rss_kib();
    let customers: Vec<Customer> = (0..200)
        .map(|_| {
            let mut c = Customer::connect(server.addr);
            assert_eq!(c.read_line().len(), greeting_len);
            c
        })
        .collect();
    let grown = server.rss_kib().saturating_sub(before);
    let copies_kib = 200 * greeting_len / 1024;
    assert!(
        grown < copies_kib / 2,
        "RSS grew {grown} KiB for 200 customers; one copy each would be {copies_kib} KiB"
    );
    drop(customers);
}
