//! 第 4 步 · 粘包与半包:TCP 传的是字节流,不是一条一条的消息。一次 `recv` 可能收到两条
//! 消息(粘包),一条消息也可能分两次收到(半包)。天真的写法(`--naive`)把每次 `recv`
//! 当成一条消息,两种情况都会答错。改正:按行分帧,收到 `\n` 才算一条;对不发换行的发送端
//! (网络调试助手),停顿 200 毫秒也算一条结束。每次读到的字节都以十六进制打印出来。
//!
//! Step 4 · Sticky and split messages (粘包, 半包): TCP carries a byte stream, not
//! messages. One `recv` may hold two messages, and one message may come in two. Taking
//! each `recv` as a message (`--naive`) answers both wrong. The fix frames by lines, with
//! a 200 ms pause also ending a message, for senders that send no newline (the debug
//! assistant). Every read's bytes are printed in hex as they arrive.
//!
//! 运行 · Run: `cargo run --example step4_framing -- [--naive] [--port 9999]`

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use encoding_rs::GBK;

#[path = "step1_one_customer.rs"]
#[allow(dead_code)]
pub mod step1;

use step1::{GOODBYE, GOODS, GREETING, UNKNOWN, gbk, hex};

/// Quiet time after which bytes without a newline count as a message: long enough that
/// one `send` split by the network stays one message, short enough to feel instant.
pub const PAUSE: Duration = Duration::from_millis(200);

/// How messages are cut out of the byte stream.
#[derive(Clone, Copy)]
pub enum Framing {
    /// Naive: each read is one message (trailing `\r\n` trimmed, so that `nc` works).
    Recv,
    /// Up to `\n`; or, after `pause` of quiet (`None`: never), whatever has arrived.
    Lines { pause: Option<Duration> },
}

/// Called with each read's bytes as they arrive.
pub type OnRead<'a> = &'a mut dyn FnMut(&[u8]);

/// Bytes in, messages out.
pub struct Framer<'a> {
    stream: &'a TcpStream,
    framing: Framing,
    pending: Vec<u8>,
}

impl<'a> Framer<'a> {
    pub fn new(stream: &'a TcpStream, framing: Framing) -> Self {
        let pending = Vec::new();
        Framer {
            stream,
            framing,
            pending,
        }
    }

    /// The next message (with its `\n`, if any), or `None` when the customer has closed
    /// the connection. `on_read` sees each read's bytes as they arrive.
    pub fn next(&mut self, on_read: OnRead) -> io::Result<Option<Vec<u8>>> {
        let mut buf = [0u8; 1024];
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                return Ok(Some(self.pending.drain(..=i).collect()));
            }
            // Only while holding part of a message does the pause count.
            let pause = match self.framing {
                Framing::Lines { pause } if !self.pending.is_empty() => pause,
                _ => None,
            };
            self.stream.set_read_timeout(pause)?;
            let n = match (&*self.stream).read(&mut buf) {
                Ok(0) if self.pending.is_empty() => return Ok(None),
                Ok(n @ 1..) => n,
                Err(e) if !is_timeout(&e) => return Err(e),
                // Ended by a pause (停顿结束), or by the close after it.
                _ => return Ok(Some(std::mem::take(&mut self.pending))),
            };
            on_read(&buf[..n]);
            if let Framing::Recv = self.framing {
                return Ok(Some(buf[..n].to_vec()));
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
    }
}

/// A read that ended at its timeout (`WouldBlock` on Unix, `TimedOut` on Windows).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// The reply to one GBK message, and whether the conversation goes on (not after 拜拜).
pub fn reply(message: &[u8]) -> (String, bool) {
    let good = GBK.decode_without_bom_handling(message).0;
    match good.trim_end_matches(['\r', '\n']) {
        "拜拜" => (GOODBYE.to_string(), false),
        good => match GOODS.iter().find(|(name, _)| *name == good) {
            Some((_, price)) => (format!("购买成功,余额 -{price}"), true),
            None => (UNKNOWN.to_string(), true),
        },
    }
}

/// One customer: greeting, then one reply line per message, until 拜拜 or hang-up.
pub fn customer(mut stream: &TcpStream, framing: Framing, on_read: OnRead) -> io::Result<()> {
    stream.write_all(&gbk(&format!("{GREETING}\r\n")))?;
    let mut framer = Framer::new(stream, framing);
    while let Some(message) = framer.next(on_read)? {
        let (reply, go_on) = reply(&message);
        println!("  消息 · message: {} → {reply}", hex(&message));
        stream.write_all(&gbk(&format!("{reply}\r\n")))?;
        if !go_on {
            break;
        }
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let usage = "用法 · usage: step4_framing [--naive] [--host 127.0.0.1] [--port 9999]";
    let (address, flags) = step1::parse_args(usage, &["--naive"]);
    let framing = if flags.is_empty() {
        Framing::Lines { pause: Some(PAUSE) }
    } else {
        Framing::Recv
    };
    for stream in step1::listen(&address).incoming() {
        let stream = stream?;
        thread::spawn(move || {
            let peer = stream.peer_addr()?;
            let mut show = |b: &[u8]| println!("[{peer}] 读到 · read {} 字节: {}", b.len(), hex(b));
            customer(&stream, framing, &mut show)
        });
    }
    Ok(())
}
