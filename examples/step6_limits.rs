//! 第 6 步 · 不被一个人拖垮:一位顾客不说话、一个字节一个字节地慢慢发、或者开很多连接,
//! 都不能把商店拖垮。三个限制:闲置超时(从上一条完整消息算起)、消息期限(从第一个字节
//! 算起,慢慢发也逃不掉)、连接数上限(满了就说「客满」)。`--naive` 换成天真的超时:
//! 每次 `read` 的超时,每来一个字节就重新计时,慢慢发的人永远不会超时。
//!
//! Step 6 · Not brought down by one person: limits. An idle timeout (from the last
//! complete message), a message deadline (from its first byte, however slowly the bytes
//! trickle in), a cap on connections (the next one is told the shop is full).
//! `--naive` uses a timeout per `read` instead, which each byte restarts: a trickler
//! never times out.
//!
//! 运行 · Run: `cargo run --example step6_limits -- [--naive] [--port 9999]`

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

#[path = "step4_framing.rs"]
#[allow(dead_code)]
mod step4;

use step4::step1::{self, GREETING, gbk};
use step4::{is_timeout, reply};

#[derive(Clone, Copy)]
pub struct Limits {
    /// Silence allowed after the last complete message (the shop's default: 300 s).
    pub idle: Duration,
    /// Time from a message's first byte to its end (the shop's default: 10 s).
    pub message: Duration,
    /// Quiet time that ends a message without a newline, as in step 4.
    pub pause: Duration,
    /// Longest message in bytes, so that a sender without newlines cannot fill memory.
    pub max_line: usize,
    /// Customers served at once; each costs a thread and its memory.
    pub max_clients: usize,
    /// Naive: `idle` as the timeout of each read, restarted by every byte.
    pub per_read: bool,
}

/// The example's limits: short idle time and few seats, so both show by hand (a third
/// `nc` is turned away; a silent one is sent off after 30 s).
pub const LIMITS: Limits = Limits {
    idle: Duration::from_secs(30),
    message: Duration::from_secs(10),
    pause: Duration::from_millis(200),
    max_line: 1024,
    max_clients: 2,
    per_read: false,
};

/// Reads the next message and answers it; `false` once the connection should close.
fn turn(stream: &TcpStream, limits: &Limits, pending: &mut Vec<u8>) -> io::Result<bool> {
    let now = Instant::now();
    let mut idle_at = now + limits.idle; // from the last complete message: now
    // Bytes left over from the last read begin the next message now.
    let mut message_at = (!pending.is_empty()).then_some(now + limits.message);
    let mut pause_at = message_at.map(|_| now + limits.pause);
    let secs = |d: Duration| d.as_secs_f32();
    let mut buf = [0u8; 1024];
    let (reply, go_on) = loop {
        let now = Instant::now();
        if let Some(i) = pending.iter().position(|&b| b == b'\n') {
            break reply(pending.drain(..=i).as_slice());
        }
        let (max, m, i) = (limits.max_line, secs(limits.message), secs(limits.idle));
        let ending = if pending.len() > max {
            format!("抱歉,消息太长了(超过 {max} 字节),连接将关闭。")
        } else if message_at.is_some_and(|at| at <= now) {
            format!("抱歉,您的消息 {m} 秒还没有发完,连接将关闭,欢迎下次光临。")
        } else if idle_at <= now {
            format!("您已经 {i} 秒没有说话了,连接将关闭,欢迎下次光临。")
        } else if pause_at.is_some_and(|at| at <= now) {
            break reply(&std::mem::take(pending));
        } else {
            String::new()
        };
        if !ending.is_empty() {
            break (ending, false);
        }
        // Wait until the nearest deadline, at least 1 ms (a zero timeout is an error).
        let deadline = message_at
            .into_iter()
            .chain(pause_at)
            .fold(idle_at, Instant::min);
        stream.set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))))?;
        match (&*stream).read(&mut buf) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                let now = Instant::now();
                pause_at = Some(now + limits.pause);
                if limits.per_read {
                    idle_at = now + limits.idle; // naive: every byte restarts the clock
                } else {
                    message_at = message_at.or(Some(now + limits.message));
                }
            }
            Err(e) if is_timeout(&e) => {} // the checks above say which deadline passed
            Err(e) => return Err(e),
        }
    };
    (&*stream).write_all(&gbk(&format!("{reply}\r\n")))?;
    Ok(go_on)
}

/// A seat: taken when a customer is admitted, given back when dropped.
struct Seat(Arc<AtomicUsize>);

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Step 2's threaded server with all three limits.
pub fn serve(listener: &TcpListener, limits: Limits) -> io::Result<()> {
    let seated = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let mut stream = stream?;
        if seated.fetch_add(1, Ordering::SeqCst) >= limits.max_clients {
            seated.fetch_sub(1, Ordering::SeqCst);
            let _ = stream.write_all(&gbk("抱歉,本店客满了,请稍后再来。\r\n"));
            continue; // dropping `stream` closes it
        }
        let seat = Seat(Arc::clone(&seated));
        thread::spawn(move || {
            let mut pending = Vec::new();
            let greeted = (&stream).write_all(&gbk(&format!("{GREETING}\r\n")));
            while greeted.is_ok() && matches!(turn(&stream, &limits, &mut pending), Ok(true)) {}
            drop(seat); // the seat is free before the customer sees the close
            drop(stream);
        });
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let usage = "用法 · usage: step6_limits [--naive] [--host 127.0.0.1] [--port 9999]";
    let (address, flags) = step1::parse_args(usage, &["--naive"]);
    let naive = !flags.is_empty(); // per-read timeouts, and no cap on customers
    let max_clients = if naive {
        usize::MAX
    } else {
        LIMITS.max_clients
    };
    let limits = Limits {
        per_read: naive,
        max_clients,
        ..LIMITS
    };
    let listener = step1::listen(&address);
    serve(&listener, limits)
}
