//! 第 3 步 · 共享库存:所有顾客线程共用一份库存,放在 `Arc` 里,每种商品一个原子计数器。
//! 天真的写法「先看还有没有,再拿走一件」(`--naive`)在最后一件上会超卖:两位顾客都看到
//! 还剩 1 件,都买到了,库存变成 -1。正确的写法把「看」和「拿」合成一步(`fetch_update`),
//! 只有一位能买到。为了能用手演示,看和拿之间停 3 秒([`PAUSE`])。
//!
//! Step 3 · Shared stock: one stock for all customer threads, in an `Arc`, an atomic
//! counter per item. The naive check-then-take (`--naive`) oversells the last piece: two
//! customers both see 1 left, both buy, the stock goes to -1. The fix makes check and
//! take one step (`fetch_update`): exactly one of them gets it. So that it can be shown by
//! hand, each take waits [`PAUSE`] (3 s) between looking and taking.
//!
//! 运行 · Run: `cargo run --example step3_shared_stock -- [--naive] [--port 9999]`

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::thread;
use std::time::Duration;

use encoding_rs::GBK;

#[path = "step1_one_customer.rs"]
#[allow(dead_code)]
mod step1;

use step1::{GOODBYE, UNKNOWN, gbk};

/// The stock every thread shares: 西瓜 has one piece left. `AtomicI64`, signed, so that
/// an oversell shows as -1 instead of wrapping round.
pub struct Stock {
    pub watermelons: AtomicI64,
}

/// Long enough to send 西瓜 from a second window while the first customer's take waits.
pub const PAUSE: Duration = Duration::from_secs(3);

/// What runs between looking at the stock and taking a piece. The example sleeps there;
/// the tests put a barrier there, so that two customers are forced to look before
/// either takes: the race, made to happen every time.
pub type Between = Arc<dyn Fn() + Send + Sync>;

/// Naive: look, then take. Between the two another thread can take the same piece.
pub fn take_naive(stock: &Stock, between: &Between) -> bool {
    if stock.watermelons.load(Ordering::SeqCst) > 0 {
        between();
        stock.watermelons.fetch_sub(1, Ordering::SeqCst);
        return true;
    }
    false
}

/// Fixed: the check and the take are one atomic step; it fails if nothing is left then.
pub fn take_atomic(stock: &Stock, between: &Between) -> bool {
    between();
    stock
        .watermelons
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n > 0).then_some(n - 1)
        })
        .is_ok()
}

pub type Take = fn(&Stock, &Between) -> bool;

/// Step 2's threaded server, now selling from the shared stock with `take`.
pub fn serve(
    listener: &TcpListener,
    stock: Arc<Stock>,
    take: Take,
    between: Between,
) -> io::Result<()> {
    for client in listener.incoming() {
        let (client, stock, between) = (client?, Arc::clone(&stock), Arc::clone(&between));
        thread::spawn(move || customer(client, &stock, take, &between));
    }
    Ok(())
}

fn customer(mut client: TcpStream, stock: &Stock, take: Take, between: &Between) -> io::Result<()> {
    client.write_all(&gbk("本店只剩 1 个西瓜(2),请问您需要什么?"))?;
    let mut buf = [0u8; 1024];
    loop {
        let n = client.read(&mut buf)?;
        let good = GBK.decode_without_bom_handling(&buf[..n]).0;
        let reply = match &*good {
            "" | "拜拜" => return client.write_all(&gbk(GOODBYE)),
            "西瓜" if take(stock, between) => "购买成功,余额 -2",
            "西瓜" => "抱歉,西瓜已经卖完了,请选购其他的。",
            _ => UNKNOWN,
        };
        let left = stock.watermelons.load(Ordering::SeqCst);
        println!(
            "{:?} → {reply} (西瓜库存 · stock: {left})",
            client.peer_addr()?
        );
        client.write_all(&gbk(reply))?;
    }
}

fn main() -> io::Result<()> {
    let usage = "用法 · usage: step3_shared_stock [--naive] [--host 127.0.0.1] [--port 9999]";
    let (address, flags) = step1::parse_args(usage, &["--naive"]);
    let take: Take = if flags.is_empty() {
        take_atomic
    } else {
        take_naive
    };
    let between: Between = Arc::new(|| thread::sleep(PAUSE));
    let listener = step1::listen(&address);
    serve(
        &listener,
        Arc::new(Stock {
            watermelons: AtomicI64::new(1),
        }),
        take,
        between,
    )
}
