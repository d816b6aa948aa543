//! The interactive client: lines from a terminal (or a pipe) to the shop, replies back.
//!
//! Three threads cooperate, so that a server message is shown the moment it arrives even
//! while the user is still typing:
//!
//! - a *reader* thread decodes what the server sends and cuts it into messages;
//! - an *input* thread reads lines from stdin;
//! - the calling thread owns all output and sends one line at a time, waiting for the
//!   answer (at most [`Options::reply_wait`]) before sending the next. That is what keeps
//!   a piped script working even against the tutorial's reference answer, which treats
//!   each `recv(1024)` as one message and would glue two quick lines together.
//!
//! [`run`] takes any `BufRead` for input and any `Write` for output, so tests drive it
//! with byte slices instead of a terminal.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::str::FromStr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use crate::codec::{self, Charset, StreamDecoder};
use crate::protocol::{self, FLUSH_AFTER};

/// Prefix of every server message shown, as in the tutorial's transcript.
pub const SERVER_PREFIX: &str = "【服务器】";
/// The prompt shown on a terminal before each line the user types.
pub const PROMPT: &str = "【客户端】";
/// Prefix of the client's own notices.
pub const NOTICE_PREFIX: &str = "【提示】";

/// Default for how long to wait for an answer before sending the next line anyway.
pub const DEFAULT_REPLY_WAIT: Duration = Duration::from_secs(3);

/// What ends each line sent to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Eol {
    /// `\n`, which every line server understands.
    #[default]
    Lf,
    /// `\r\n`, as telnet and Windows tools send.
    Crlf,
    /// Nothing: for unframed servers such as the tutorial's reference answer.
    None,
}

impl Eol {
    fn bytes(self) -> &'static [u8] {
        match self {
            Eol::Lf => b"\n",
            Eol::Crlf => b"\r\n",
            Eol::None => b"",
        }
    }
}

impl FromStr for Eol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "lf" => Ok(Eol::Lf),
            "crlf" => Ok(Eol::Crlf),
            "none" => Ok(Eol::None),
            other => Err(format!(
                "unknown line ending `{other}` (expected lf, crlf or none)"
            )),
        }
    }
}

impl fmt::Display for Eol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Eol::Lf => "lf",
            Eol::Crlf => "crlf",
            Eol::None => "none",
        })
    }
}

/// How the client talks.
#[derive(Debug, Clone)]
pub struct Options {
    /// The wire encoding (the terminal is always UTF-8).
    pub charset: Charset,
    /// Line ending of sent messages.
    pub eol: Eol,
    /// Show prompts (only on a terminal).
    pub prompts: bool,
    /// How long to wait for an answer before sending the next line anyway.
    pub reply_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            charset: Charset::Gbk,
            eol: Eol::Lf,
            prompts: false,
            reply_wait: DEFAULT_REPLY_WAIT,
        }
    }
}

/// Things the calling thread reacts to.
enum Event {
    /// A message from the server.
    Server(String),
    /// The server closed the connection.
    ServerClosed,
    /// Reading from the server failed.
    ServerError(io::Error),
    /// A line typed by the user.
    Input(String),
    /// The user's input ended.
    InputEnd,
}

/// Runs the client over a connected `stream` until the input ends or the server closes.
pub fn run<I, W>(stream: TcpStream, input: I, out: &mut W, opts: &Options) -> io::Result<()>
where
    I: BufRead + Send + 'static,
    W: Write,
{
    let (events, rx) = mpsc::channel();
    let reader = stream.try_clone()?;
    reader.set_read_timeout(Some(FLUSH_AFTER))?;
    let charset = opts.charset;
    let server_events = events.clone();
    thread::Builder::new()
        .name("server-reader".into())
        .spawn(move || read_server(reader, charset, &server_events))?;
    thread::Builder::new()
        .name("stdin-reader".into())
        .spawn(move || read_input(input, &events))?;
    Client {
        stream,
        out,
        opts,
        rx,
        prompt_shown: false,
    }
    .run()
}

struct Client<'a, W: Write> {
    stream: TcpStream,
    out: &'a mut W,
    opts: &'a Options,
    rx: Receiver<Event>,
    prompt_shown: bool,
}

impl<W: Write> Client<'_, W> {
    fn run(mut self) -> io::Result<()> {
        let mut queue: VecDeque<String> = VecDeque::new();
        let mut input_done = false;
        // The greeting counts as the first answer to wait for.
        let mut waiting = Some(Instant::now() + self.opts.reply_wait);
        loop {
            if waiting.is_none() {
                if let Some(line) = queue.pop_front() {
                    if self.send(&line)? {
                        waiting = Some(Instant::now() + self.opts.reply_wait);
                    }
                    continue;
                }
                if input_done {
                    return self.finish();
                }
                self.prompt()?;
            }
            let event = match waiting {
                Some(deadline) => match self
                    .rx
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                {
                    Ok(event) => event,
                    Err(RecvTimeoutError::Timeout) => {
                        // No answer in time: go on with the next line anyway.
                        waiting = None;
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return Ok(()),
                },
                None => match self.rx.recv() {
                    Ok(event) => event,
                    Err(_) => return Ok(()),
                },
            };
            match event {
                Event::Server(text) => {
                    self.show(SERVER_PREFIX, &text)?;
                    waiting = None;
                }
                Event::ServerClosed => return self.show(NOTICE_PREFIX, "服务器已关闭连接。"),
                Event::ServerError(e) => return Err(e),
                Event::Input(line) => {
                    self.prompt_shown = false;
                    queue.push_back(line);
                }
                Event::InputEnd => input_done = true,
            }
        }
    }

    /// Sends one line; `Ok(false)` if it was not sent (and no answer is due).
    fn send(&mut self, line: &str) -> io::Result<bool> {
        if line.is_empty() && self.opts.eol == Eol::None {
            // An empty message without a terminator would be no bytes at all.
            return Ok(false);
        }
        let mut bytes = match codec::encode(line, self.opts.charset) {
            Ok(bytes) => bytes,
            Err(e) => {
                let notice = format!(
                    "「{}」无法用 {} 编码发送,这条消息没有发送。",
                    e.ch, e.charset
                );
                self.show(NOTICE_PREFIX, &notice)?;
                return Ok(false);
            }
        };
        bytes.extend_from_slice(self.opts.eol.bytes());
        (&self.stream).write_all(&bytes)?;
        Ok(true)
    }

    /// End of input: half-close, show what the server still sends, then close.
    fn finish(mut self) -> io::Result<()> {
        let _ = self.stream.shutdown(Shutdown::Write);
        let deadline = Instant::now() + self.opts.reply_wait;
        while let Ok(event) = self
            .rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            match event {
                Event::Server(text) => self.show(SERVER_PREFIX, &text)?,
                Event::ServerClosed => {
                    self.show(NOTICE_PREFIX, "服务器已关闭连接。")?;
                    break;
                }
                Event::ServerError(_) => break,
                Event::Input(_) | Event::InputEnd => {}
            }
        }
        let _ = self.stream.shutdown(Shutdown::Both);
        Ok(())
    }

    fn prompt(&mut self) -> io::Result<()> {
        if self.opts.prompts && !self.prompt_shown {
            self.out.write_all(PROMPT.as_bytes())?;
            self.out.flush()?;
            self.prompt_shown = true;
        }
        Ok(())
    }

    fn show(&mut self, prefix: &str, text: &str) -> io::Result<()> {
        if self.prompt_shown {
            // A message arrived while the prompt was waiting: start a fresh line.
            self.out.write_all(b"\n")?;
            self.prompt_shown = false;
        }
        writeln!(self.out, "{prefix}{text}")?;
        self.out.flush()
    }
}

/// The reader thread: decodes the server's bytes and cuts them into messages at `\n`,
/// or after [`FLUSH_AFTER`] of quiet for servers that send no newline.
fn read_server(mut stream: TcpStream, charset: Charset, events: &Sender<Event>) {
    let mut decoder = StreamDecoder::new(charset);
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if protocol::is_timeout(&e) => {
                if !text.is_empty() {
                    let _ = events.send(Event::Server(std::mem::take(&mut text)));
                }
                continue;
            }
            Err(e) if protocol::is_disconnect(&e) => 0,
            Err(e) => {
                let _ = events.send(Event::ServerError(e));
                return;
            }
        };
        decoder.decode(&buf[..n], &mut text, n == 0);
        while let Some(i) = text.find('\n') {
            let line = text[..i].trim_end_matches('\r').to_string();
            text.drain(..=i);
            if events.send(Event::Server(line)).is_err() {
                return;
            }
        }
        if n == 0 {
            if !text.is_empty() {
                let _ = events.send(Event::Server(std::mem::take(&mut text)));
            }
            let _ = events.send(Event::ServerClosed);
            return;
        }
    }
}

/// The input thread: one event per line of (UTF-8) input.
fn read_input(mut input: impl BufRead, events: &Sender<Event>) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\r', '\n']).to_string();
                if events.send(Event::Input(text)).is_err() {
                    return;
                }
            }
        }
    }
    let _ = events.send(Event::InputEnd);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn eol_table() {
        for (s, want) in [
            ("lf", Some(Eol::Lf)),
            ("CRLF", Some(Eol::Crlf)),
            ("none", Some(Eol::None)),
            ("cr", None),
        ] {
            assert_eq!(s.parse::<Eol>().ok(), want, "{s}");
        }
    }

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
                let good = codec::decode(&buf[..n], crate::codec::WireEncoding::Gbk)
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

    #[test]
    fn talks_to_the_unframed_reference_answer() {
        let addr = reference_answer();
        let stream = TcpStream::connect(addr).unwrap();
        let opts = Options {
            eol: Eol::None,
            ..Options::default()
        };
        let mut out = Vec::new();
        run(stream, "红牛\n西瓜\n拜拜\n".as_bytes(), &mut out, &opts).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "【服务器】目前商店还有:瓜子(2.5),西瓜(2),矿泉水(2.5)。请问您需要什么?\n\
             【服务器】抱歉,您购买的商品目前没有,请选购其他的。\n\
             【服务器】购买成功,余额 -2\n\
             【服务器】欢迎下次光临\n\
             【提示】服务器已关闭连接。\n"
        );
    }

    #[test]
    fn unencodable_text_is_not_sent() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.write_all(b"hi\r\n").unwrap();
            let mut got = Vec::new();
            conn.read_to_end(&mut got).unwrap();
            got
        });
        let stream = TcpStream::connect(addr).unwrap();
        let opts = Options {
            reply_wait: Duration::from_millis(300),
            ..Options::default()
        };
        let mut out = Vec::new();
        run(stream, "😀\nok\n".as_bytes(), &mut out, &opts).unwrap();
        assert_eq!(
            server.join().unwrap(),
            b"ok\n",
            "only the encodable line was sent"
        );
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("【提示】「😀」无法用 GBK 编码发送"), "{out}");
    }
}
