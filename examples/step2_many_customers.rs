//! 第 2 步 · 同时有多个顾客:回答教程最后的问题「如果同时有多个顾客上门,现在的服务器是否
//! 能够支持呢?」。先把 `accept` 放进循环(`--in-turn`):服务器不再关门,但顾客要排队,
//! 第二位顾客一直等到第一位离开才收到欢迎语。再给每个连接一个自己的线程(默认):大家同时
//! 被服务。顾客的代码和第 1 步一模一样。
//!
//! Step 2 · Many customers at once: the answer to the tutorial's closing question. First
//! `accept` in a loop (`--in-turn`): the server stays open, but customers queue, and the
//! second hears nothing until the first leaves. Then one thread per connection (the
//! default): everyone is served at once. The customer code is step 1's, unchanged.
//!
//! 运行 · Run: `cargo run --example step2_many_customers -- [--in-turn] [--port 9999]`

use std::io;
use std::net::TcpListener;
use std::thread;

#[path = "step1_one_customer.rs"]
#[allow(dead_code)]
mod step1;

use step1::serve_customer;

/// Not yet: one customer after another. The loop only comes back to `accept` when
/// `serve_customer` returns, so the next customer waits in the listen backlog: the
/// system has completed their connection, but nobody reads it.
pub fn serve_in_turn(listener: &TcpListener) -> io::Result<()> {
    for client in listener.incoming() {
        if let Err(e) = serve_customer(client?) {
            println!("顾客断开 · customer gone: {e}");
        }
    }
    Ok(())
}

/// The answer: each accepted customer gets a thread of their own, and the loop is back
/// at `accept` at once. A customer's error ends their thread only.
pub fn serve_threaded(listener: &TcpListener) -> io::Result<()> {
    for client in listener.incoming() {
        let client = client?;
        let addr = client.peer_addr()?;
        println!("顾客 {addr} 来了,给他一个线程 · a thread for {addr}");
        thread::spawn(move || {
            if let Err(e) = serve_customer(client) {
                println!("顾客 {addr} 断开 · gone: {e}");
            }
        });
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let usage = "用法 · usage: step2_many_customers [--in-turn] [--host 127.0.0.1] [--port 9999]";
    let (address, flags) = step1::parse_args(usage, &["--in-turn"]);
    let listener = step1::listen(&address);
    if flags.iter().any(|f| f == "--in-turn") {
        serve_in_turn(&listener)
    } else {
        serve_threaded(&listener)
    }
}
