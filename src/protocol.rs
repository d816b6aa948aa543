//! Framing: a TCP byte stream in, one message at a time out; line text in, line bytes out.
//!
//! TCP delivers a stream of bytes, not messages. One `recv` may hold half a message, or
//! three of them (粘包). The tutorial's reference answer treats each `recv(1024)` as one
//! message and breaks as soon as two arrive together. Here a message is:
//!
//! - the bytes up to `\n` (an optional `\r` before it is dropped), or
//! - the bytes received so far, once nothing more has arrived for [`FLUSH_AFTER`]: the
//!   network debug assistant and the tutorial's Python client send no newline at all, or
//! - the bytes before a clean end of stream (the peer half-closed after its last message).
//!
//! We split on raw bytes and decode afterwards. That is safe for GBK and UTF-8 because
//! `\n` (0x0A) never occurs inside a multibyte character of either, and it means a
//! character split across two segments is simply joined before anyone decodes it.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::codec::{self, Charset};

/// The longest message we accept, in bytes. It matches the tutorial's `recv(1024)`, and
/// it bounds the memory one connection can make us hold: a peer that sends a megabyte
/// without a newline costs us this much, not a megabyte.
pub const MAX_LINE: usize = 1024;

/// How long a message without a newline may wait for more bytes before it counts as
/// complete. Long enough that one `send` split by the network is still one message,
/// short enough that a human clicking "send" in the debug assistant sees no delay.
pub const FLUSH_AFTER: Duration = Duration::from_millis(200);

/// The line terminator of everything the server sends.
pub const EOL: &[u8] = b"\r\n";

/// A byte source the framer can read from and whose read timeout it can change.
///
/// The framer waits with [`FLUSH_AFTER`] while it holds part of a message and with the
/// idle timeout otherwise, so it needs to tell the socket. In-memory sources used in
/// tests have no timeouts, and keep the default no-op.
pub trait Source: Read {
    /// Sets how long the next read may block; `None` means forever.
    fn set_read_timeout(&mut self, _timeout: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

impl Source for &[u8] {}

impl Source for &TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

impl Source for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

/// Where reply bytes go.
pub trait Sink: Write {
    /// Writes the last reply of a conversation; the caller closes the stream next.
    ///
    /// A socket may hold these bytes back until that close, so that they leave in one
    /// segment with the FIN. The default writes and flushes.
    fn write_last(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)?;
        self.flush()
    }
}

impl Sink for Vec<u8> {}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn write_last(&mut self, bytes: &[u8]) -> io::Result<()> {
        (**self).write_last(bytes)
    }
}

impl Sink for &TcpStream {
    /// On Linux the goodbye waits in the socket (`TCP_CORK`) until the close, which
    /// sends it with the FIN flag set: one packet instead of two, and the customer wakes
    /// once to read the goodbye and the end of the stream together. The close comes
    /// microseconds later; should it not, Linux sends corked data after 200 ms anyway.
    fn write_last(&mut self, bytes: &[u8]) -> io::Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        socket2::SockRef::from(*self).set_tcp_cork(true)?;
        self.write_all(bytes)
    }
}

/// One framed unit of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete message, without its terminator.
    Message(&'a [u8]),
    /// A message longer than the limit; its bytes were discarded.
    TooLong,
}

/// What ended a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrameEnd {
    /// A `\n` (or `\r\n`).
    #[default]
    Newline,
    /// Nothing more arrived for [`FLUSH_AFTER`]: the debug assistant's way.
    Pause,
    /// The peer closed its side after the message.
    EndOfStream,
}

/// How the last frame arrived, for the live view: what learners mean by 半包 and 粘包.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameInfo {
    /// What ended the message.
    pub end: FrameEnd,
    /// How many reads (`recv` calls) its bytes came in; more than one is a message split
    /// over several segments.
    pub reads: u32,
    /// True if a read that brought this message also brought another one (粘包).
    pub shared: bool,
}

/// Why no frame could be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Nothing arrived within the idle timeout.
    #[error("no input for {0:?}")]
    Idle(Duration),
    /// The stream broke (reset, write side gone, ...).
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Settings for a [`FrameReader`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest accepted message in bytes.
    pub max_line: usize,
    /// Quiet time after which an unterminated message is complete.
    pub flush_after: Duration,
    /// Quiet time after which an empty connection is idle; `None` waits forever.
    pub idle: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: MAX_LINE,
            flush_after: FLUSH_AFTER,
            idle: None,
        }
    }
}

/// Splits a byte stream into messages. See the module docs for the rules.
pub struct FrameReader<S: Source> {
    input: BufReader<S>,
    /// The message being assembled; never longer than `limits.max_line` plus the `\r`
    /// of a CRLF.
    line: Vec<u8>,
    /// True while discarding the rest of an over-long message.
    overflow: bool,
    /// True when the last frame was returned at end of stream.
    eof: bool,
    /// The timeout the socket currently has, so it is only changed when it must be.
    timeout: Option<Duration>,
    limits: Limits,
    /// How the frame being read (or the last one) arrived.
    info: FrameInfo,
}

impl<S: Source> FrameReader<S> {
    /// Wraps `source`. The read buffer is small on purpose: thousands of idle customers
    /// each hold one.
    pub fn new(mut source: S, limits: Limits) -> io::Result<Self> {
        source.set_read_timeout(limits.idle)?;
        Ok(Self::with_timeout_set(source, limits))
    }

    /// Like [`FrameReader::new`], for a source whose read timeout is already
    /// `limits.idle`, such as a socket that inherited it from its listener. It saves a
    /// system call per connection.
    pub fn with_timeout_set(source: S, limits: Limits) -> Self {
        FrameReader {
            input: BufReader::with_capacity(limits.max_line.clamp(64, 4096), source),
            line: Vec::new(),
            overflow: false,
            eof: false,
            timeout: limits.idle,
            limits,
            info: FrameInfo::default(),
        }
    }

    /// The underlying source.
    pub fn get_ref(&self) -> &S {
        self.input.get_ref()
    }

    /// The bytes of the last message (empty after [`Frame::TooLong`]) and how they
    /// arrived. Valid until the next [`FrameReader::read_frame`].
    pub fn last(&self) -> (&[u8], FrameInfo) {
        (&self.line, self.info)
    }

    /// Reads the next frame. `Ok(None)` is a clean end of stream.
    pub fn read_frame(&mut self) -> Result<Option<Frame<'_>>, FrameError> {
        self.line.clear();
        self.overflow = false;
        // Bytes left over from the read that brought the previous message: 粘包.
        self.info = FrameInfo {
            shared: !self.input.buffer().is_empty(),
            ..FrameInfo::default()
        };
        if self.eof {
            return Ok(None);
        }
        loop {
            self.wait_for(if self.holding() {
                Some(self.limits.flush_after)
            } else {
                self.limits.idle
            })?;
            let chunk = match self.input.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => {
                    if self.holding() {
                        self.info.end = FrameEnd::Pause;
                        return Ok(Some(self.finish()));
                    }
                    return Err(FrameError::Idle(self.limits.idle.unwrap_or_default()));
                }
                Err(e) => return Err(e.into()),
            };
            if chunk.is_empty() {
                self.eof = true;
                self.info.end = FrameEnd::EndOfStream;
                return Ok(self.holding().then(|| self.finish()));
            }
            self.info.reads += 1;
            let (body, used, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], i + 1, true),
                None => (chunk, chunk.len(), false),
            };
            // One byte of room beyond the limit for the `\r` of a CRLF: it ends the
            // message rather than belonging to it, so a message of exactly `max_line`
            // bytes is accepted whichever line end the sender uses. `finish` checks the
            // length again once the `\r` is gone.
            let room = self.limits.max_line.saturating_add(1);
            if !self.overflow && self.line.len() + body.len() <= room {
                self.line.extend_from_slice(body);
            } else {
                // Too long: remember that, but keep none of its bytes.
                self.overflow = true;
                self.line.clear();
            }
            self.input.consume(used);
            if done {
                self.info.shared |= !self.input.buffer().is_empty();
                return Ok(Some(self.finish()));
            }
        }
    }

    /// True while part of a message has been received.
    fn holding(&self) -> bool {
        self.overflow || !self.line.is_empty()
    }

    fn finish(&mut self) -> Frame<'_> {
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        if self.overflow || self.line.len() > self.limits.max_line {
            return Frame::TooLong;
        }
        Frame::Message(&self.line)
    }

    fn wait_for(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        if self.timeout != timeout {
            self.input.get_mut().set_read_timeout(timeout)?;
            self.timeout = timeout;
        }
        Ok(())
    }
}

/// A read timeout shows up as `WouldBlock` on Unix and `TimedOut` on Windows.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Errors that mean "the peer went away", which is how conversations end, not a fault.
/// Windows peers often close with a reset rather than a FIN.
pub fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
    )
}

/// Writes lines: text in a charset in, encoded bytes with the [`EOL`] terminator out,
/// each line with a single `write_all`.
///
/// It knows nothing of what the lines say: turning a reply into text happens above it,
/// in [`crate::connection`]. One byte buffer is reused for the whole connection.
pub struct LineWriter<W: Sink> {
    out: W,
    bytes: Vec<u8>,
}

impl<W: Sink> LineWriter<W> {
    /// Wraps `out`.
    pub fn new(out: W) -> Self {
        LineWriter {
            out,
            bytes: Vec::new(),
        }
    }

    /// Sends `text` as one line in `charset`, and flushes.
    pub fn write_line(&mut self, text: &str, charset: Charset) -> io::Result<()> {
        self.bytes.clear();
        encode_line(text, charset, &mut self.bytes);
        self.send()
    }

    /// Sends a line made of a fixed `head`, encoded once per process, and a `tail`, and
    /// flushes. The purchase reply, by far the most frequent line, is sent this way.
    pub fn write_phrase_line(
        &mut self,
        head: &codec::Phrase,
        tail: &str,
        charset: Charset,
    ) -> io::Result<()> {
        self.bytes.clear();
        self.bytes.extend_from_slice(head.encoded(charset));
        encode_line(tail, charset, &mut self.bytes);
        self.send()
    }

    /// Sends a line that is already encoded, terminator included (the greeting, which
    /// is encoded once and shared by every customer), and flushes.
    pub fn write_encoded_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.out.write_all(line)?;
        self.out.flush()
    }

    /// Sends the last line of a conversation; the caller closes the stream next. It goes
    /// through [`Sink::write_last`], so it may wait in the socket until the close.
    pub fn write_last_line(&mut self, text: &str, charset: Charset) -> io::Result<()> {
        self.bytes.clear();
        encode_line(text, charset, &mut self.bytes);
        self.out.write_last(&self.bytes)
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn send(&mut self) -> io::Result<()> {
        self.out.write_all(&self.bytes)?;
        self.out.flush()
    }
}

/// Appends `text` and the line terminator to `out`, encoded in `charset`.
///
/// Server texts are built from fixed Chinese strings and catalog names that were checked
/// at start-up, so they always encode. Should one ever not, the character is sent as `?`
/// rather than as encoding_rs's silent `&#NNNN;`.
pub fn encode_line(text: &str, charset: Charset, out: &mut Vec<u8>) {
    codec::encode_marking_unmappable(text, charset, out);
    out.extend_from_slice(EOL);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A scripted source: each entry is one `read` result. `None` is a read timeout.
    struct Script {
        steps: VecDeque<Option<Vec<u8>>>,
        timeouts: Vec<Option<Duration>>,
    }

    impl Script {
        fn new(steps: &[Option<&[u8]>]) -> Self {
            Script {
                steps: steps.iter().map(|s| s.map(<[u8]>::to_vec)).collect(),
                timeouts: Vec::new(),
            }
        }
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.steps.pop_front() {
                None => Ok(0),
                Some(None) => Err(io::ErrorKind::WouldBlock.into()),
                Some(Some(mut bytes)) => {
                    let n = bytes.len().min(buf.len());
                    buf[..n].copy_from_slice(&bytes[..n]);
                    if n < bytes.len() {
                        self.steps.push_front(Some(bytes.split_off(n)));
                    }
                    Ok(n)
                }
            }
        }
    }

    impl Source for Script {
        fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
            self.timeouts.push(timeout);
            Ok(())
        }
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Got {
        Msg(Vec<u8>),
        TooLong,
        Idle,
    }

    fn frames<S: Source>(mut reader: FrameReader<S>) -> Vec<Got> {
        let mut out = Vec::new();
        loop {
            match reader.read_frame() {
                Ok(Some(Frame::Message(m))) => out.push(Got::Msg(m.to_vec())),
                Ok(Some(Frame::TooLong)) => out.push(Got::TooLong),
                Ok(None) => return out,
                Err(FrameError::Idle(_)) => out.push(Got::Idle),
                Err(FrameError::Io(e)) => panic!("io error {e}"),
            }
        }
    }

    fn limits(max_line: usize) -> Limits {
        Limits {
            max_line,
            flush_after: Duration::from_millis(200),
            idle: Some(Duration::from_secs(300)),
        }
    }

    fn msg(s: &str) -> Got {
        Got::Msg(s.as_bytes().to_vec())
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases spells out its tuple type
    fn framing_table() {
        let gbk_xigua: &[u8] = b"\xce\xf7\xb9\xcf";
        let cases: Vec<(&str, Vec<Option<&[u8]>>, Vec<Got>)> = vec![
            ("lf", vec![Some(b"a\n")], vec![msg("a")]),
            ("crlf", vec![Some(b"a\r\n")], vec![msg("a")]),
            (
                "sticky (粘包)",
                vec![Some(b"a\nb\r\nc\n")],
                vec![msg("a"), msg("b"), msg("c")],
            ),
            ("split", vec![Some(b"ab"), Some(b"c\n")], vec![msg("abc")]),
            (
                "split crlf",
                vec![Some(b"ab\r"), Some(b"\n")],
                vec![msg("ab")],
            ),
            ("empty lines", vec![Some(b"\n\r\n")], vec![msg(""), msg("")]),
            ("eof flushes", vec![Some(b"tail")], vec![msg("tail")]),
            (
                "idle flush",
                vec![Some(b"x"), None, Some(b"y\n")],
                vec![msg("x"), msg("y")],
            ),
            (
                "idle flush gbk",
                vec![Some(gbk_xigua), None, None],
                vec![Got::Msg(gbk_xigua.to_vec()), Got::Idle],
            ),
            (
                "gbk split",
                vec![Some(&gbk_xigua[..1]), Some(&gbk_xigua[1..])],
                vec![Got::Msg(gbk_xigua.to_vec())],
            ),
            ("idle", vec![None, Some(b"a\n")], vec![Got::Idle, msg("a")]),
            ("at limit", vec![Some(b"12345678\n")], vec![msg("12345678")]),
            (
                "at limit crlf",
                vec![Some(b"12345678\r\n")],
                vec![msg("12345678")],
            ),
            (
                "at limit crlf split",
                vec![Some(b"12345678\r"), Some(b"\n")],
                vec![msg("12345678")],
            ),
            (
                "over limit with a cr",
                vec![Some(b"123456789\r\nok\n")],
                vec![Got::TooLong, msg("ok")],
            ),
            (
                "over limit by the cr of a flushed message is still a message",
                vec![Some(b"12345678\r"), None, Some(b"ok\n")],
                vec![msg("12345678"), msg("ok")],
            ),
            (
                "over limit",
                vec![Some(b"123456789\nok\n")],
                vec![Got::TooLong, msg("ok")],
            ),
            (
                "over limit split",
                vec![Some(b"12345"), Some(b"6789"), Some(b"0\nok\n")],
                vec![Got::TooLong, msg("ok")],
            ),
            (
                "over limit flushed",
                vec![Some(b"123456789"), None, Some(b"ok\n")],
                vec![Got::TooLong, msg("ok")],
            ),
            (
                "over limit at eof",
                vec![Some(b"123456789")],
                vec![Got::TooLong],
            ),
            ("nothing", vec![], vec![]),
        ];
        for (name, steps, want) in cases {
            let reader = FrameReader::new(Script::new(&steps), limits(8)).unwrap();
            assert_eq!(frames(reader), want, "{name}");
        }
    }

    #[test]
    fn frame_info_says_how_each_message_arrived() {
        use FrameEnd::*;
        let info = |end, reads, shared| FrameInfo { end, reads, shared };
        #[allow(clippy::type_complexity)] // a table of cases spells out its tuple type
        let cases: Vec<(&str, Vec<Option<&[u8]>>, Vec<FrameInfo>)> = vec![
            (
                "one read",
                vec![Some(b"a\n")],
                vec![info(Newline, 1, false)],
            ),
            (
                "split over reads (半包)",
                vec![Some(b"a"), Some(b"b"), Some(b"c\n")],
                vec![info(Newline, 3, false)],
            ),
            (
                "sticky (粘包)",
                vec![Some(b"a\nb\n"), Some(b"c\n")],
                vec![
                    info(Newline, 1, true),
                    info(Newline, 1, true),
                    info(Newline, 1, false),
                ],
            ),
            (
                "tail of one read, head of the next",
                vec![Some(b"a\nb"), Some(b"c\n")],
                vec![info(Newline, 1, true), info(Newline, 2, true)],
            ),
            ("pause", vec![Some(b"x"), None], vec![info(Pause, 1, false)]),
            (
                "end of stream",
                vec![Some(b"x")],
                vec![info(EndOfStream, 1, false)],
            ),
        ];
        for (name, steps, want) in cases {
            let mut reader = FrameReader::new(Script::new(&steps), limits(8)).unwrap();
            let mut got = Vec::new();
            while let Ok(Some(_)) = reader.read_frame() {
                got.push(reader.last().1);
            }
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn timeouts_switch_only_when_holding_part_of_a_message() {
        let steps: &[Option<&[u8]>] = &[Some(b"a\n"), Some(b"b"), None, Some(b"c\n")];
        let mut reader = FrameReader::new(Script::new(steps), limits(8)).unwrap();
        while let Ok(Some(_)) = reader.read_frame() {}
        let idle = Some(Duration::from_secs(300));
        let flush = Some(Duration::from_millis(200));
        assert_eq!(reader.get_ref().timeouts, [idle, flush, idle]);
    }

    #[test]
    fn a_megabyte_without_newline_keeps_memory_bounded() {
        let big = vec![b'x'; 1 << 20];
        let mut input: Vec<u8> = big.clone();
        input.extend_from_slice(b"\nafter\n");
        let mut reader = FrameReader::new(&input[..], Limits::default()).unwrap();
        assert_eq!(reader.read_frame().unwrap(), Some(Frame::TooLong));
        assert!(
            reader.line.capacity() <= 2 * MAX_LINE,
            "{}",
            reader.line.capacity()
        );
        assert_eq!(reader.read_frame().unwrap(), Some(Frame::Message(b"after")));
        assert_eq!(reader.read_frame().unwrap(), None);
    }

    #[test]
    fn encode_line_table() {
        let cases: &[(&str, Charset, &[u8])] = &[
            ("西瓜", Charset::Gbk, b"\xce\xf7\xb9\xcf\r\n"),
            ("西瓜", Charset::Utf8, "西瓜\r\n".as_bytes()),
            ("a😀b", Charset::Gbk, b"a?b\r\n"),
            ("", Charset::Gbk, b"\r\n"),
        ];
        for (text, charset, want) in cases {
            let mut out = Vec::new();
            encode_line(text, *charset, &mut out);
            assert_eq!(out, *want, "{text}");
        }
    }

    #[test]
    fn a_phrase_line_is_head_and_tail_encoded() {
        static HEAD: codec::Phrase = codec::Phrase::new("购买成功,余额 -");
        for charset in [Charset::Gbk, Charset::Utf8] {
            let mut out = LineWriter::new(Vec::new());
            out.write_phrase_line(&HEAD, "6.5", charset).unwrap();
            out.write_phrase_line(&HEAD, "西瓜", charset).unwrap();
            let mut want = Vec::new();
            encode_line("购买成功,余额 -6.5", charset, &mut want);
            encode_line("购买成功,余额 -西瓜", charset, &mut want);
            assert_eq!(out.into_inner(), want, "{charset}");
        }
    }

    #[test]
    fn disconnect_kinds() {
        use io::ErrorKind::*;
        for (kind, want) in [
            (ConnectionReset, true),
            (BrokenPipe, true),
            (UnexpectedEof, true),
            (PermissionDenied, false),
            (WouldBlock, false),
        ] {
            assert_eq!(is_disconnect(&kind.into()), want, "{kind:?}");
        }
    }

    #[test]
    fn the_last_reply_leaves_with_the_close() {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut customer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_side, _) = listener.accept().unwrap();
        let mut out = LineWriter::new(&server_side);
        out.write_line("菜单", Charset::Utf8).unwrap();
        out.write_last_line("欢迎下次光临", Charset::Utf8).unwrap();
        customer
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // The menu went out at once; the goodbye may wait for the close.
        let mut first = [0u8; 8];
        customer.read_exact(&mut first).unwrap();
        assert_eq!(&first, "菜单\r\n".as_bytes());
        drop(server_side);
        let mut rest = Vec::new();
        customer.read_to_end(&mut rest).unwrap();
        assert_eq!(String::from_utf8(rest).unwrap(), "欢迎下次光临\r\n");
    }
}
