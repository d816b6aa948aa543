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
use std::sync::{Arc, atomic::AtomicUsize, atomic::Ordering::SeqCst};
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

/// `--naive`: timeouts per read, and no cap on customers.
pub const NAIVE: Limits = Limits {
    per_read: true,
    max_clients: usize::MAX,
    ..LIMITS
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
        let (max, m, i) = (limits.max_line, secs(limits.message), secs(limits.idle));
        let ending = if let Some(n) = pending.iter().position(|&b| b == b'\n') {
            break reply(pending.drain(..=n).as_slice());
        } else if pending.len() > max {
            format!("抱歉,消息太长了(超过 {max} 字节),连接将关闭。")
        } else if message_at.is_some_and(|at| at <= now) {
            format!("抱歉,您的消息 {m} 秒还没有发完,连接将关闭,欢迎下次光临。")
        } else if idle_at <= now {
            format!("您已经 {i} 秒没有说话了,连接将关闭,欢迎下次光临。")
        } else if pause_at.is_some_and(|at| at <= now) {
            break reply(&std::mem::take(pending));
        } else {
            // Wait until the nearest deadline, at least 1 ms (a zero timeout is an error).
            let deadline = message_at.into_iter().chain(pause_at);
            let deadline = deadline.fold(idle_at, Instant::min);
            stream.set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))))?;
            match (&*stream).read(&mut buf) {
                Ok(0) => return Ok(false),
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                // The checks above say which deadline passed.
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            pause_at = Some(now + limits.pause);
            match limits.per_read {
                true => idle_at = now + limits.idle, // naive: every byte restarts the clock
                false => message_at = message_at.or(Some(now + limits.message)),
            }
            continue;
        };
        break (ending, false);
    };
    (&*stream).write_all(&gbk(&format!("{reply}\r\n")))?;
    Ok(go_on)
}

/// Step 2's threaded server with all three limits.
pub fn serve(listener: &TcpListener, limits: Limits) -> io::Result<()> {
    let seated = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let mut stream = stream?;
        if seated.fetch_add(1, SeqCst) >= limits.max_clients {
            seated.fetch_sub(1, SeqCst);
            let _ = stream.write_all(&gbk("抱歉,本店客满了,请稍后再来。\r\n"));
            continue; // dropping `stream` closes it
        }
        let seated = Arc::clone(&seated);
        thread::spawn(move || {
            let mut pending = Vec::new();
            let greeted = (&stream).write_all(&gbk(&format!("{GREETING}\r\n")));
            while greeted.is_ok() && matches!(turn(&stream, &limits, &mut pending), Ok(true)) {}
            // The seat is free before the customer sees the close (`stream` drops after).
            seated.fetch_sub(1, SeqCst);
        });
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let usage = "用法 · usage: step6_limits [--naive] [--host 127.0.0.1] [--port 9999]";
    let (address, flags) = step1::parse_args(usage, &["--naive"]);
    let limits = if flags.is_empty() { LIMITS } else { NAIVE };
    serve(&step1::listen(&address), limits)
}
