//! The shop client: lines from a terminal (or a pipe) to the shop, replies back.
//!
//! Threads and queues, all bounded:
//!
//! - a *reader* thread ([`read_server`]) frames the server's bytes ([`frame`]), decodes
//!   and [`sanitize`]s them and hands them over through a bounded channel. When the
//!   display is behind (a paused terminal, an unread pipe) the channel fills, the
//!   reader stops reading, and TCP tells the server to wait;
//! - an *input* thread reads piped stdin one line at a time, only when the controller
//!   asks for the next one; on a terminal the line editor ([`editor`]) does this;
//! - the *controller* ([`run`]) owns the output and the socket's write side. It sends
//!   one line at a time and waits for the answer (at most [`Options::reply_wait`])
//!   before the next: that keeps a piped script working even against the tutorial's
//!   reference answer, which would glue two quick lines together.
//!
//! Every way a session ends is an [`Ending`] with its own notice and exit code.

pub mod address;
pub mod editor;
pub mod frame;
pub mod hints;
pub mod names;
pub mod sanitize;
#[cfg(unix)]
mod terminal;

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::str::FromStr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::{Duration, Instant};

use crate::wire::codec::{self, Charset, StreamDecoder};
use crate::wire::{self, FLUSH_AFTER};
use frame::{End, Frame, Framer};
use hints::Hint;
use names::Names;
use sanitize::sanitize;

/// Prefix of every server message shown, as in the tutorial's transcript.
pub const SERVER_PREFIX: &str = "【服务器】";
/// The prompt on a terminal, and the prefix of sent lines in a piped transcript.
pub const PROMPT: &str = "【客户端】";
/// Prefix of the client's own notices.
pub const NOTICE_PREFIX: &str = "【提示】";

/// Default for how long to wait for an answer before sending the next line anyway.
pub const DEFAULT_REPLY_WAIT: Duration = Duration::from_secs(3);
/// The longest `--reply-wait` accepted: an hour is already far more than any answer.
pub const MAX_REPLY_WAIT: Duration = Duration::from_secs(3600);
/// Default for how long one write to the server may block before the client gives up:
/// a server that never reads must not hang the client.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// After the user's input ends, how long to keep showing what the server still sends
/// when it goes quiet without closing. (The wait for the last answer comes first.)
pub const LINGER_QUIET: Duration = Duration::from_secs(1);
/// On a terminal, how long after the user left (Ctrl-D, Ctrl-C) the client still shows
/// what the server sends. Without it a server that never goes quiet for
/// [`LINGER_QUIET`] (a flood, or a notice every half second) would keep a user who
/// asked to leave.
pub const LEAVE_WITHIN: Duration = Duration::from_secs(2);
/// Server events queued for the display. With [`frame::MAX_MESSAGE`] per message this
/// bounds the queue to a few MiB; when it is full the reader stops reading.
pub const SERVER_QUEUE: usize = 16;
/// The longest line of input sent; longer lines are refused with a notice. Far above
/// any item name, and the server's own limit is lower still.
pub const MAX_INPUT_LINE: usize = 64 * 1024;
/// Lines typed ahead on a terminal while an answer is awaited; more are refused.
pub const MAX_TYPED_AHEAD: usize = 64;

/// Words in a server message that mean it said goodbye.
const GOODBYE_WORDS: [&str; 2] = ["欢迎下次光临", "再见"];

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
                "未知的行尾 `{other}`,只能是 lf、crlf 或 none (unknown line ending, expected lf, crlf or none)"
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

/// Parses `--reply-wait`: seconds from 0 to [`MAX_REPLY_WAIT`].
pub fn parse_reply_wait(text: &str) -> Result<Duration, String> {
    parse_seconds(text, MAX_REPLY_WAIT)
}

/// Parses a number of seconds between 0 and `max`, with a Chinese-first error.
pub fn parse_seconds(text: &str, max: Duration) -> Result<Duration, String> {
    let bad = || {
        format!(
            "必须是 0 到 {} 之间的秒数,收到 {text:?} · expected seconds from 0 to {}",
            max.as_secs(),
            max.as_secs()
        )
    };
    let secs: f64 = text.trim().parse().map_err(|_| bad())?;
    if !secs.is_finite() || secs < 0.0 || secs > max.as_secs_f64() {
        return Err(bad());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

/// How the client talks.
#[derive(Debug, Clone)]
pub struct Options {
    /// The wire encoding (the terminal is always UTF-8).
    pub charset: Charset,
    /// Line ending of sent messages.
    pub eol: Eol,
    /// How long to wait for an answer before sending the next line anyway.
    pub reply_wait: Duration,
    /// How long one write to the server may block.
    pub send_timeout: Duration,
    /// Print each line sent as `【客户端】…` (piped input, so the output reads like the
    /// tutorial's transcript).
    pub transcript: bool,
    /// After the input ended, stop showing what the server sends after this long at the
    /// latest ([`LEAVE_WITHIN`] on a terminal). `None`: until it closes or goes quiet,
    /// so that piped input with `--reply-wait 0` still sees every reply.
    pub leave_within: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            charset: Charset::Gbk,
            eol: Eol::Lf,
            reply_wait: DEFAULT_REPLY_WAIT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            transcript: false,
            leave_within: None,
        }
    }
}

/// How a session ended.
#[derive(Debug)]
pub enum Ending {
    /// The user's input ended (Ctrl-D, Ctrl-C at an empty prompt, end of a pipe).
    UserLeft,
    /// The server said goodbye (or was told `拜拜`) and closed.
    Goodbye,
    /// The server closed without a goodbye.
    ClosedWithoutGoodbye,
    /// The connection was reset or failed.
    Reset(io::Error),
    /// The server stopped reading: a write did not finish within the send timeout.
    SendStalled(Duration),
}

impl Ending {
    /// The process exit code: 0 when the session ended as intended.
    pub fn exit_code(&self) -> u8 {
        match self {
            Ending::UserLeft | Ending::Goodbye => 0,
            Ending::ClosedWithoutGoodbye => 3,
            Ending::Reset(_) | Ending::SendStalled(_) => 4,
        }
    }

    /// What the user reads (after [`NOTICE_PREFIX`]).
    pub fn notice(&self) -> String {
        match self {
            Ending::UserLeft => "您已离开商店,连接已关闭。 · You left; connection closed.".into(),
            Ending::Goodbye => {
                "服务器已道别并关闭了连接。 · The server said goodbye and closed.".into()
            }
            Ending::ClosedWithoutGoodbye => "服务器没有道别就关闭了连接(它可能已停止或出错)。 \
                 · The server closed the connection without a goodbye."
                .into(),
            Ending::Reset(e) => format!(
                "连接被中断(服务器可能已崩溃或重置了连接):{} · Connection lost: {e}",
                os_reason(e)
            ),
            Ending::SendStalled(after) => format!(
                "服务器 {} 秒内没有接收数据(它不读消息?),已断开。 · The server stopped \
                 reading for {}s; disconnected.",
                after.as_secs_f64(),
                after.as_secs_f64()
            ),
        }
    }
}

/// A short Chinese name for common OS errors; the OS text itself is always kept next
/// to it by the callers.
pub fn os_reason(e: &io::Error) -> &'static str {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "对方拒绝连接,那里没有服务器在运行?",
        ConnectionReset | ConnectionAborted => "连接被对方重置",
        BrokenPipe => "对方已关闭连接",
        TimedOut | WouldBlock => "超时",
        NotFound => "找不到这个主机",
        HostUnreachable | NetworkUnreachable => "网络不通",
        AddrNotAvailable => "地址不可用",
        PermissionDenied => "没有权限",
        _ => "出错了",
    }
}

/// Where the controller shows things: stdout, or the line editor's printer that keeps
/// the line being typed intact.
pub trait Screen {
    /// Shows one line (without its `\n`).
    fn line(&mut self, text: &str) -> io::Result<()>;
}

/// A [`Screen`] over any writer (stdout, or a `Vec<u8>` in tests).
pub struct Plain<W: Write>(pub W);

impl<W: Write> Screen for Plain<W> {
    fn line(&mut self, text: &str) -> io::Result<()> {
        self.0.write_all(text.as_bytes())?;
        self.0.write_all(b"\n")?;
        self.0.flush()
    }
}

/// Things the controller reacts to.
#[derive(Debug)]
pub enum Event {
    /// A message from the server, decoded and sanitized.
    Server(String),
    /// The first [`frame::MAX_MESSAGE`] bytes of an over-long message.
    Cut(String),
    /// An over-long message ended; this many bytes of it were dropped.
    Dropped(u64),
    /// A hint worth showing once.
    Hint(Hint),
    /// The server closed the connection cleanly.
    Closed,
    /// Reading from the server failed (a reset, mostly).
    Failed(io::Error),
    /// A line typed by the user.
    Input(String),
    /// A line of input that was refused before sending, with the reason.
    Refused(String),
    /// The user's input ended.
    InputEnd,
}

/// The sending half of the controller's event queue, for input front ends.
pub type Events = SyncSender<Event>;

/// Starts the reader thread for `stream` and returns the event queue it feeds.
pub fn start_reader(stream: &TcpStream, opts: &Options) -> io::Result<(Events, Receiver<Event>)> {
    let (events, rx) = mpsc::sync_channel(SERVER_QUEUE);
    let reader = stream.try_clone()?;
    reader.set_read_timeout(Some(FLUSH_AFTER))?;
    let (charset, eol) = (opts.charset, opts.eol);
    let server_events = events.clone();
    thread::Builder::new()
        .name("server-reader".into())
        .spawn(move || read_server(reader, charset, eol, &server_events))?;
    Ok((events, rx))
}

/// Runs a session with piped (non-terminal) input: reads `input` one line at a time
/// and shows everything on `screen`. Returns how it ended.
pub fn run<I, S>(stream: TcpStream, input: I, screen: &mut S, opts: &Options) -> io::Result<Ending>
where
    I: BufRead + Send + 'static,
    S: Screen,
{
    let (events, rx) = start_reader(&stream, opts)?;
    let (credit, credits) = mpsc::sync_channel(1);
    thread::Builder::new()
        .name("stdin-reader".into())
        .spawn(move || read_input(input, &events, &credits))?;
    Controller::new(stream, rx, Some(credit), Names::default(), opts)?.run(screen)
}

/// The controller: owns the socket's write side and all output.
pub struct Controller<'a> {
    stream: TcpStream,
    rx: Receiver<Event>,
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
        rx: Receiver<Event>,
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
                Event::Input(line) => {
                    if queue.len() >= MAX_TYPED_AHEAD {
                        self.notice(
                            screen,
                            "输入太快了,这一行没有发送。 · Typed too far ahead; line not sent.",
                        )?;
                    } else {
                        queue.push_back(line);
                    }
                }
                Event::Refused(reason) => {
                    self.notice(screen, &reason)?;
                    self.grant_credit();
                }
                Event::InputEnd => {
                    input_done = true;
                    if self.opts.leave_within.is_some() {
                        // The user asked to leave: what is typed ahead still goes out,
                        // but answers are only awaited in `finish`, within its limit.
                        reply_wait = Duration::ZERO;
                        waiting = None;
                    }
                }
                Event::Closed => return Ok(self.closed()),
                Event::Failed(e) => return Ok(Ending::Reset(e)),
                other => {
                    if self.show(other, screen)? {
                        waiting = None;
                    }
                }
            }
        }
    }

    /// Shows a server event; true if it counts as an answer.
    fn show(&mut self, event: Event, screen: &mut impl Screen) -> io::Result<bool> {
        match event {
            Event::Server(text) => {
                if GOODBYE_WORDS.iter().any(|w| text.contains(w)) {
                    self.goodbye = true;
                }
                self.names.learn(&text);
                screen.line(&format!("{SERVER_PREFIX}{text}"))?;
                Ok(true)
            }
            Event::Cut(text) => {
                screen.line(&format!("{SERVER_PREFIX}{text}"))?;
                Ok(true)
            }
            Event::Dropped(n) => {
                self.notice(
                    screen,
                    &format!(
                        "上面这条消息太长,只显示了前 {} KiB,其余 {n} 字节已丢弃。 · Message \
                         cut at {} KiB; {n} more bytes dropped.",
                        frame::MAX_MESSAGE / 1024,
                        frame::MAX_MESSAGE / 1024
                    ),
                )?;
                Ok(false)
            }
            Event::Hint(hint) => {
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
                let deadline = Instant::now() + LINGER_QUIET;
                while let Ok(event) = self
                    .rx
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                {
                    match event {
                        Event::Closed => return Ok(Sent::Failed(self.closed())),
                        Event::Failed(e) => return Ok(Sent::Failed(Ending::Reset(e))),
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
    /// server still sends until it closes, is quiet for [`LINGER_QUIET`] or
    /// [`Options::leave_within`] has passed, then close.
    fn finish(mut self, screen: &mut impl Screen) -> io::Result<Ending> {
        let _ = self.stream.shutdown(Shutdown::Write);
        let leave_by = self.opts.leave_within.map(|d| Instant::now() + d);
        let mut quiet_until = Instant::now() + LINGER_QUIET;
        loop {
            let until = leave_by.map_or(quiet_until, |t| t.min(quiet_until));
            match self
                .rx
                .recv_timeout(until.saturating_duration_since(Instant::now()))
            {
                Ok(Event::Closed) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Event::Failed(_)) | Err(RecvTimeoutError::Timeout) => break,
                Ok(other) => {
                    self.show(other, screen)?;
                    quiet_until = Instant::now() + LINGER_QUIET;
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

/// The reader thread: frames, decodes and sanitizes what the server sends. Blocks
/// (and so stops reading) whenever the controller's queue is full.
fn read_server(mut stream: TcpStream, charset: Charset, eol: Eol, events: &SyncSender<Event>) {
    let mut framer = Framer::default();
    let mut buf = vec![0u8; 16 * 1024];
    let mut hinted_encoding = false;
    // Settled once the hint was given, or once the server ended a line with `\n`: then
    // it frames its messages, and a later one without a newline is only a pause in
    // the middle of a line (a slow server, or one that died mid-line).
    let mut eol_settled = eol == Eol::None;
    // Sends one frame, then the hints it gave rise to; false once the controller is gone.
    let mut deliver = |frame: Frame, events: &SyncSender<Event>| -> bool {
        let mut found = [None, None];
        let event = match frame {
            Frame::Message(bytes, end) => {
                if !hinted_encoding && let Some(other) = hints::wrong_encoding(&bytes, charset) {
                    hinted_encoding = true;
                    found[0] = Some(Hint::Encoding(other));
                }
                if end == End::Newline {
                    eol_settled = true;
                } else if !eol_settled && !bytes.is_empty() {
                    eol_settled = true;
                    found[1] = Some(Hint::EolNone);
                }
                Event::Server(display(&bytes, charset))
            }
            Frame::Cut(bytes) => Event::Cut(display(&bytes, charset)),
            Frame::Dropped(n, _) => Event::Dropped(n),
        };
        events.send(event).is_ok()
            && found
                .into_iter()
                .flatten()
                .all(|h| events.send(Event::Hint(h)).is_ok())
    };
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if wire::is_timeout(&e) => {
                // A quiet pause ends a message that came without a newline.
                let mut alive = true;
                framer.flush(&mut |f| alive = alive && deliver(f, events));
                if !alive {
                    return;
                }
                continue;
            }
            Err(e) => {
                let mut alive = true;
                framer.flush(&mut |f| alive = alive && deliver(f, events));
                let _ = events.send(Event::Failed(e));
                return;
            }
        };
        let mut alive = true;
        if n == 0 {
            framer.flush(&mut |f| alive = alive && deliver(f, events));
            let _ = events.send(Event::Closed);
            return;
        }
        framer.push(&buf[..n], &mut |f| alive = alive && deliver(f, events));
        if !alive {
            return;
        }
    }
}

/// Decodes one message for display: invalid bytes become U+FFFD, controls escapes.
fn display(bytes: &[u8], charset: Charset) -> String {
    let mut text = String::new();
    StreamDecoder::new(charset).decode(bytes, &mut text, true);
    match sanitize(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(safe) => safe,
    }
}

/// The piped input thread: one event per line, each read only after the controller
/// granted a credit (so a long file is never read ahead into memory).
fn read_input(mut input: impl BufRead, events: &SyncSender<Event>, credits: &Receiver<()>) {
    let mut line = Vec::new();
    loop {
        line.clear();
        let event = match read_bounded_line(&mut input, &mut line) {
            Ok(None) | Err(_) => break,
            Ok(Some(false)) => Event::Refused(format!(
                "这一行超过 {} KiB,没有发送。 · Line longer than {} KiB not sent.",
                MAX_INPUT_LINE / 1024,
                MAX_INPUT_LINE / 1024
            )),
            Ok(Some(true)) => {
                let text = line.strip_suffix(b"\n").unwrap_or(&line);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                match std::str::from_utf8(text) {
                    Ok(text) => Event::Input(text.to_string()),
                    Err(_) => Event::Refused(invalid_utf8_notice(text)),
                }
            }
        };
        if events.send(event).is_err() {
            return;
        }
        // The controller grants a credit once it sent (or refused) this line.
        if credits.recv().is_err() {
            return;
        }
    }
    let _ = events.send(Event::InputEnd);
}

/// Throws away what was typed on a terminal but not read, so it does not land in the
/// shell after the client exits. Does nothing when stdin is not a terminal.
pub fn discard_typed_ahead() {
    #[cfg(unix)]
    terminal::discard_typed_ahead();
}

/// The notice for input that is not UTF-8.
pub fn invalid_utf8_notice(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(16)];
    format!(
        "输入的这一行不是有效的 UTF-8(字节 {}{}),没有发送。请把终端或文件的编码设为 \
         UTF-8。 · Input is not valid UTF-8; line not sent.",
        codec::hex(shown),
        if bytes.len() > shown.len() {
            " …"
        } else {
            ""
        }
    )
}

/// Reads one line of at most [`MAX_INPUT_LINE`] bytes into `line`. `Ok(None)` at end
/// of input, `Ok(Some(false))` if the line was too long (it is skipped).
fn read_bounded_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<bool>> {
    let mut too_long = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(if line.is_empty() && !too_long {
                None
            } else {
                Some(!too_long)
            });
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            if line.len() + take > MAX_INPUT_LINE + 1 {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(&chunk[..take]);
            }
        }
        input.consume(take);
        if done {
            return Ok(Some(!too_long));
        }
    }
}

#[cfg(test)]
mod tests;
