//! The controller: owns the socket's write side and all output.
//!
//! It sends one line at a time and waits for the answer (at most
//! [`Options::reply_wait`]) before the next: that keeps a piped script working even
//! against the tutorial's reference answer, which would glue two quick lines together.

use std::collections::{HashSet, VecDeque};
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use super::ending::Ending;
use super::hints::Hint;
use super::incoming::Incoming;
use super::names::Names;
use super::options::{Eol, MAX_TYPED_AHEAD, Options, QUIET_BEFORE_CLOSE};
use super::pieces;
use super::sanitize::sanitize;
use super::screen::{NOTICE_PREFIX, PROMPT, SERVER_PREFIX, Screen};
use crate::wire::{self, codec};

/// Words in a server message that mean it said goodbye.
const GOODBYE_WORDS: [&str; 2] = ["欢迎下次光临", "再见"];

/// The controller: owns the socket's write side and all output.
pub struct Controller<'a> {
    stream: TcpStream,
    rx: Receiver<Incoming>,
    /// Tells the piped input thread it may read the next line.
    credit: Option<SyncSender<()>>,
    names: Names,
    opts: &'a Options,
    hints_shown: HashSet<Hint>,
    goodbye: bool,
}

impl<'a> Controller<'a> {
    /// A controller for a connected `stream` and the event queue from [`start_reader`].
    pub fn new(
        stream: TcpStream,
        rx: Receiver<Incoming>,
        credit: Option<SyncSender<()>>,
        names: Names,
        opts: &'a Options,
    ) -> io::Result<Self> {
        stream.set_write_timeout(Some(opts.send_timeout.max(Duration::from_millis(1))))?;
        Ok(Controller {
            stream,
            rx,
            credit,
            names,
            opts,
            hints_shown: HashSet::new(),
            goodbye: false,
        })
    }

    /// Runs until the session ends.
    pub fn run(mut self, screen: &mut impl Screen) -> io::Result<Ending> {
        let mut queue: VecDeque<String> = VecDeque::new();
        let mut input_done = false;
        // The greeting counts as the first answer to wait for.
        let mut reply_wait = self.opts.reply_wait;
        let mut waiting = Some(Instant::now() + reply_wait);
        loop {
            if waiting.is_none() {
                if let Some(line) = queue.pop_front() {
                    self.grant_credit();
                    match self.send(&line, screen)? {
                        Sent::Yes => waiting = Some(Instant::now() + reply_wait),
                        Sent::No => {}
                        Sent::Failed(ending) => return Ok(ending),
                    }
                    continue;
                }
                if input_done {
                    return self.finish(screen);
                }
            }
            let event = match waiting {
                Some(deadline) => {
                    match self
                        .rx
                        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    {
                        Ok(event) => event,
                        Err(RecvTimeoutError::Timeout) => {
                            // No answer in time: go on with the next line anyway.
                            waiting = None;
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return Ok(self.closed()),
                    }
                }
                None => match self.rx.recv() {
                    Ok(event) => event,
                    Err(_) => return Ok(self.closed()),
                },
            };
            match event {
                Incoming::Input(line) => {
                    if queue.len() >= MAX_TYPED_AHEAD {
                        self.notice(
                            screen,
                            "输入太快了,这一行没有发送。 · Typed too far ahead; line not sent.",
                        )?;
                    } else {
                        queue.push_back(line);
                    }
                }
                Incoming::Refused(reason) => {
                    self.notice(screen, &reason)?;
                    self.grant_credit();
                }
                Incoming::InputEnd => {
                    input_done = true;
                    if self.opts.leave_within.is_some() {
                        // The user asked to leave: what is typed ahead still goes out,
                        // but answers are only awaited in `finish`, within its limit.
                        reply_wait = Duration::ZERO;
                        waiting = None;
                    }
                }
                Incoming::Closed => return Ok(self.closed()),
                Incoming::Failed(e) => return Ok(Ending::Reset(e)),
                other => {
                    if self.show(other, screen)? {
                        waiting = None;
                    }
                }
            }
        }
    }

    /// Shows a server event; true if it counts as an answer.
    fn show(&mut self, event: Incoming, screen: &mut impl Screen) -> io::Result<bool> {
        match event {
            Incoming::Server(text) => {
                if GOODBYE_WORDS.iter().any(|w| text.contains(w)) {
                    self.goodbye = true;
                }
                self.names.learn(&text);
                screen.line(&format!("{SERVER_PREFIX}{text}"))?;
                Ok(true)
            }
            Incoming::Cut(text) => {
                screen.line(&format!("{SERVER_PREFIX}{text}"))?;
                Ok(true)
            }
            Incoming::Dropped(n) => {
                self.notice(
                    screen,
                    &format!(
                        "上面这条消息太长,只显示了前 {} KiB,其余 {n} 字节已丢弃。 · Message \
                         cut at {} KiB; {n} more bytes dropped.",
                        pieces::MAX_MESSAGE / 1024,
                        pieces::MAX_MESSAGE / 1024
                    ),
                )?;
                Ok(false)
            }
            Incoming::Hint(hint) => {
                if self.hints_shown.insert(hint) {
                    self.notice(screen, &hint.text())?;
                }
                Ok(false)
            }
            _ => Ok(false),
        }
    }

    fn notice(&self, screen: &mut impl Screen, text: &str) -> io::Result<()> {
        screen.line(&format!("{NOTICE_PREFIX}{text}"))
    }

    fn grant_credit(&self) {
        if let Some(credit) = &self.credit {
            let _ = credit.try_send(());
        }
    }

    /// The server closed: with or without a goodbye.
    fn closed(&self) -> Ending {
        if self.goodbye {
            Ending::Goodbye
        } else {
            Ending::ClosedWithoutGoodbye
        }
    }

    /// Sends one line.
    fn send(&mut self, line: &str, screen: &mut impl Screen) -> io::Result<Sent> {
        if line.is_empty() && self.opts.eol == Eol::None {
            // An empty message without a terminator would be no bytes at all.
            return Ok(Sent::No);
        }
        let mut bytes = match codec::encode(line, self.opts.charset) {
            Ok(bytes) => bytes,
            Err(e) => {
                let notice = format!(
                    "「{}」无法用 {} 编码发送,这一行没有发送。 · `{}` cannot be sent in {}.",
                    sanitize(&e.ch.to_string()),
                    e.charset,
                    sanitize(&e.ch.to_string()),
                    e.charset
                );
                self.notice(screen, &notice)?;
                return Ok(Sent::No);
            }
        };
        if self.opts.transcript {
            screen.line(&format!("{PROMPT}{}", sanitize(line)))?;
        }
        bytes.extend_from_slice(self.opts.eol.bytes());
        match (&self.stream).write_all(&bytes) {
            Ok(()) => {
                if line.trim() == crate::shop::words::BYE {
                    self.goodbye = true;
                }
                Ok(Sent::Yes)
            }
            Err(e) if wire::is_timeout(&e) => {
                let _ = self.stream.shutdown(Shutdown::Both);
                Ok(Sent::Failed(Ending::SendStalled(self.opts.send_timeout)))
            }
            Err(e) => {
                // The reader usually knows better (a goodbye and a close, or a reset):
                // show what it still has, then end as it says.
                let deadline = Instant::now() + QUIET_BEFORE_CLOSE;
                while let Ok(event) = self
                    .rx
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                {
                    match event {
                        Incoming::Closed => return Ok(Sent::Failed(self.closed())),
                        Incoming::Failed(e) => return Ok(Sent::Failed(Ending::Reset(e))),
                        other => {
                            self.show(other, screen)?;
                        }
                    }
                }
                Ok(Sent::Failed(Ending::Reset(e)))
            }
        }
    }

    /// The input ended (and no answer is awaited any more): half-close, show what the
    /// server still sends until it closes, is quiet for [`QUIET_BEFORE_CLOSE`] or
    /// [`Options::leave_within`] has passed, then close.
    fn finish(mut self, screen: &mut impl Screen) -> io::Result<Ending> {
        let _ = self.stream.shutdown(Shutdown::Write);
        let leave_by = self.opts.leave_within.map(|d| Instant::now() + d);
        let mut quiet_until = Instant::now() + QUIET_BEFORE_CLOSE;
        loop {
            let until = leave_by.map_or(quiet_until, |t| t.min(quiet_until));
            match self
                .rx
                .recv_timeout(until.saturating_duration_since(Instant::now()))
            {
                Ok(Incoming::Closed) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Incoming::Failed(_)) | Err(RecvTimeoutError::Timeout) => break,
                Ok(other) => {
                    self.show(other, screen)?;
                    quiet_until = Instant::now() + QUIET_BEFORE_CLOSE;
                    if leave_by.is_some_and(|t| Instant::now() >= t) {
                        break;
                    }
                }
            }
        }
        let _ = self.stream.shutdown(Shutdown::Both);
        Ok(if self.goodbye {
            Ending::Goodbye
        } else {
            Ending::UserLeft
        })
    }
}

enum Sent {
    Yes,
    No,
    Failed(Ending),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::input::run;
    use crate::client::screen::Plain;
    use crate::wire::Charset;
    use std::io::Read;
    use std::net::TcpListener;
    use std::thread;

    /// A tiny unframed server like the tutorial's reference answer: GBK, no newlines,
    /// one `recv` is one message.
    fn reference_answer() -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let send = |conn: &mut TcpStream, s: &str| {
                conn.write_all(&codec::encode(s, Charset::Gbk).unwrap())
            };
            send(
                &mut conn,
                "目前商店还有:瓜子(2.5),西瓜(2),矿泉水(2.5)。请问您需要什么?",
            )
            .unwrap();
            let mut buf = [0u8; 1024];
            loop {
                let n = conn.read(&mut buf).unwrap();
                let good = codec::decode(&buf[..n], crate::wire::WireEncoding::Gbk)
                    .unwrap()
                    .0;
                if good == "拜拜" {
                    send(&mut conn, "欢迎下次光临").unwrap();
                    break;
                }
                let reply = if good == "西瓜" {
                    "购买成功,余额 -2"
                } else {
                    "抱歉,您购买的商品目前没有,请选购其他的。"
                };
                send(&mut conn, reply).unwrap();
            }
        });
        addr
    }

    fn run_piped(
        addr: std::net::SocketAddr,
        input: &'static str,
        opts: &Options,
    ) -> (String, Ending) {
        let stream = TcpStream::connect(addr).unwrap();
        let mut screen = Plain(Vec::new());
        let ending = run(stream, input.as_bytes(), &mut screen, opts).unwrap();
        (String::from_utf8(screen.0).unwrap(), ending)
    }

    #[test]
    fn talks_to_the_unframed_reference_answer() {
        let opts = Options {
            eol: Eol::None,
            transcript: true,
            ..Options::default()
        };
        let (out, ending) = run_piped(reference_answer(), "红牛\n西瓜\n拜拜\n", &opts);
        assert_eq!(
            out,
            "【服务器】目前商店还有:瓜子(2.5),西瓜(2),矿泉水(2.5)。请问您需要什么?\n\
             【客户端】红牛\n\
             【服务器】抱歉,您购买的商品目前没有,请选购其他的。\n\
             【客户端】西瓜\n\
             【服务器】购买成功,余额 -2\n\
             【客户端】拜拜\n\
             【服务器】欢迎下次光临\n"
        );
        assert!(matches!(ending, Ending::Goodbye), "{ending:?}");
    }

    #[test]
    fn the_reference_answer_without_eol_none_gets_a_hint_once() {
        let opts = Options::default();
        let (out, _) = run_piped(reference_answer(), "西瓜\n西瓜\n拜拜\n", &opts);
        assert_eq!(out.matches("请加上 --eol none").count(), 1, "{out}");
        let hint = out.find("--eol none").unwrap();
        let greeting = out.find("目前商店还有").unwrap();
        assert!(greeting < hint, "{out}");
    }

    /// A server that says `hi` and returns every byte the client sent, once it closes.
    fn collecting_server() -> (std::net::SocketAddr, thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.write_all(b"hi\r\n").unwrap();
            let mut got = Vec::new();
            conn.read_to_end(&mut got).unwrap();
            got
        });
        (addr, server)
    }

    #[test]
    fn unencodable_text_is_not_sent() {
        let (addr, server) = collecting_server();
        let opts = Options {
            reply_wait: Duration::from_millis(300),
            ..Options::default()
        };
        let (out, ending) = run_piped(addr, "😀\nok\n", &opts);
        assert_eq!(
            server.join().unwrap(),
            b"ok\n",
            "only the encodable line was sent"
        );
        assert!(out.contains("【提示】「😀」无法用 GBK 编码发送"), "{out}");
        assert!(matches!(ending, Ending::UserLeft), "{ending:?}");
    }

    #[test]
    fn invalid_utf8_input_is_named_as_such() {
        let (addr, server) = collecting_server();
        let stream = TcpStream::connect(addr).unwrap();
        let mut screen = Plain(Vec::new());
        let opts = Options {
            reply_wait: Duration::from_millis(300),
            ..Options::default()
        };
        // 西瓜 in GBK, as a GBK terminal would type it.
        let input: &'static [u8] = b"\xce\xf7\xb9\xcf\nok\n";
        run(stream, input, &mut screen, &opts).unwrap();
        let out = String::from_utf8(screen.0).unwrap();
        assert_eq!(server.join().unwrap(), b"ok\n");
        assert!(out.contains("不是有效的 UTF-8(字节 CE F7 B9 CF)"), "{out}");
        assert!(!out.contains("无法用 GBK 编码"), "{out}");
    }
}
