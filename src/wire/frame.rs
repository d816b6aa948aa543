//! Framing: a TCP byte stream in, one message at a time out.
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
//! Waits are bounded by absolute deadlines, not by per-read timeouts that each byte
//! would restart. The idle timeout counts from the last complete message (from the
//! moment the server, having answered it or sent the greeting, waits for the next one),
//! whatever bytes of an unfinished message arrive meanwhile. From its first byte on, a
//! message also has [`MESSAGE_TIMEOUT`] to be complete, however its bytes trickle in.
//! So a peer that sends one byte every 150 ms (below [`FLUSH_AFTER`], which only ever
//! waits for a quiet gap) loses its connection at the earlier of the two bounds.
//!
//! We split on raw bytes and decode afterwards. That is safe for GBK and UTF-8 because
//! `\n` (0x0A) never occurs inside a multibyte character of either, and it means a
//! character split across two segments is simply joined before anyone decodes it.

use std::io::{self, BufRead, BufReader};
use std::time::{Duration, Instant};

use crate::wire::stream::{MIN_READ_TIMEOUT, Source, is_timeout, timeout_close_enough};

/// The longest message we accept, in bytes. It matches the tutorial's `recv(1024)`, and
/// it bounds the memory one connection can make us hold: a peer that sends a megabyte
/// without a newline costs us this much, not a megabyte.
pub const MAX_LINE: usize = 1024;

/// How long a message without a newline may wait for more bytes before it counts as
/// complete. Long enough that one `send` split by the network is still one message,
/// short enough that a human clicking "send" in the debug assistant sees no delay.
pub const FLUSH_AFTER: Duration = Duration::from_millis(200);

/// Default for `--message-timeout`: how long one message may take from its first byte
/// to its end. A person typing into the debug assistant sends a message in one segment
/// (or a few, within milliseconds), and a script sends it at once; ten seconds is far
/// beyond either, and short enough that a trickler holding a seat is soon found out.
pub const MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// A message was begun but not finished within this long; its bytes are dropped.
    #[error("a message took longer than {0:?}")]
    MessageTimeout(Duration),
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
    /// Time after the last complete message (once it is answered, or from the first
    /// wait) within which the next one must begin; `None` waits forever.
    pub idle: Option<Duration>,
    /// Time from the first byte of a message within which it must be complete; `None`
    /// waits forever.
    pub message: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: MAX_LINE,
            flush_after: FLUSH_AFTER,
            idle: None,
            message: Some(MESSAGE_TIMEOUT),
        }
    }
}

/// A deadline of [`FrameReader`] that has passed.
enum Expired {
    /// The quiet gap after part of a message: the message is complete.
    Flush,
    /// The message deadline, with the limit that set it.
    Message(Duration),
    /// The idle deadline, with the limit that set it.
    Idle(Duration),
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
    /// When this call of `read_frame` began waiting for a message: after the last one
    /// was answered (or the greeting sent). The idle timeout counts from here.
    idle_from: Option<Instant>,
    /// When the first byte of the message being assembled was taken in.
    message_from: Instant,
    /// True when the last read from the source timed out: a deadline found passed
    /// then passed while waiting.
    waited_out: bool,
    /// True once this message had its last look at the socket (see
    /// `wait_for_next_read`).
    looked: bool,
    /// When the last bytes of the message being assembled were taken in: the flush
    /// waits for a quiet gap after them.
    last_byte_at: Instant,
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
        let now = source.now();
        FrameReader {
            input: BufReader::with_capacity(limits.max_line.clamp(64, 4096), source),
            line: Vec::new(),
            overflow: false,
            eof: false,
            timeout: limits.idle,
            idle_from: None,
            message_from: now,
            waited_out: false,
            looked: false,
            last_byte_at: now,
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
    ///
    /// [`FrameError::Idle`] and [`FrameError::MessageTimeout`] end a wait; the caller
    /// usually closes the connection then. Should it read on, the clocks start again.
    pub fn read_frame(&mut self) -> Result<Option<Frame<'_>>, FrameError> {
        self.line.clear();
        self.overflow = false;
        // The idle clock starts when the server first has to wait for this message.
        self.idle_from = None;
        self.waited_out = false;
        self.looked = false;
        // Bytes left over from the read that brought the previous message: 粘包.
        self.info = FrameInfo {
            shared: !self.input.buffer().is_empty(),
            ..FrameInfo::default()
        };
        if self.eof {
            return Ok(None);
        }
        loop {
            // Bytes already buffered arrived with the last read, before any deadline we
            // could check now: they are framed first. Deadlines are checked only before
            // waiting for more.
            let buffered = !self.input.buffer().is_empty();
            if !buffered {
                match self.wait_for_next_read()? {
                    None => {}
                    Some(Expired::Flush) => {
                        self.info.end = FrameEnd::Pause;
                        return Ok(Some(self.finish()));
                    }
                    Some(Expired::Message(limit)) => return Err(FrameError::MessageTimeout(limit)),
                    Some(Expired::Idle(limit)) => return Err(FrameError::Idle(limit)),
                }
            }
            match self.input.fill_buf() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The read timed out: the deadlines above say what that means.
                Err(e) if is_timeout(&e) => {
                    self.waited_out = true;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            self.waited_out = false;
            let chunk = self.input.buffer();
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
            let starting = !self.overflow && self.line.is_empty();
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
            // Part of a message, and the buffer is used up. The clocks of the flush and
            // the message deadline read the time now, when the bytes were taken in, not
            // when they were read: a server busy writing replies to a pipelining
            // customer may take its time to get here, and that is not the customer's.
            let now = self.input.get_ref().now();
            if starting {
                self.message_from = now;
            }
            self.last_byte_at = now;
        }
    }

    /// True while part of a message has been received.
    fn holding(&self) -> bool {
        self.overflow || !self.line.is_empty()
    }

    /// Checks the deadlines before a read from the source, and sets the read timeout
    /// to the nearest one. `Some` says which deadline has passed.
    fn wait_for_next_read(&mut self) -> io::Result<Option<Expired>> {
        let now = self.input.get_ref().now();
        let (expired, deadline) = if self.holding() {
            let message = self
                .limits
                .message
                .map(|limit| (self.message_from + limit, Expired::Message(limit)));
            // The idle clock does not stop at a message's first byte: a trickler is as
            // idle as a silent customer. A message begun just before the idle deadline
            // still gets twice the flush interval to arrive.
            let idle = match (self.limits.idle, self.idle_from) {
                (Some(limit), Some(from)) => {
                    let grace = self.message_from + 2 * self.limits.flush_after;
                    Some(((from + limit).max(grace), Expired::Idle(limit)))
                }
                _ => None,
            };
            let first = match (message, idle) {
                (Some(m), Some(i)) => Some(if i.0 < m.0 { i } else { m }),
                (m, i) => m.or(i),
            };
            let flush = self.last_byte_at + self.limits.flush_after;
            match first {
                Some((deadline, why)) if now >= deadline => (Some(why), None),
                _ if now >= flush => (Some(Expired::Flush), None),
                _ => (
                    None,
                    Some(first.map_or(flush, |(deadline, _)| deadline.min(flush))),
                ),
            }
        } else {
            let from = *self.idle_from.get_or_insert(now);
            match self.limits.idle {
                Some(limit) if now >= from + limit => (Some(Expired::Idle(limit)), None),
                Some(limit) => (None, Some(from + limit)),
                None => (None, None),
            }
        };
        let Some(expired) = expired else {
            self.wait_until(deadline, now)?;
            return Ok(None);
        };
        if !self.waited_out && !self.looked {
            // The deadline passed while the server was busy (answering, or simply not
            // scheduled on a loaded machine), not while it waited: the bytes it waits
            // for may already be in the socket. One read that hardly waits has the last
            // word, once per message.
            self.looked = true;
            self.wait_until(Some(now), now)?;
            return Ok(None);
        }
        if let Expired::Message(_) | Expired::Idle(_) = expired {
            // The partial message is dropped.
            self.line.clear();
            self.overflow = false;
        }
        Ok(Some(expired))
    }

    /// Sets the read timeout so that the next read ends by `deadline` (`None`: never).
    ///
    /// The timeout already set is kept when it ends the read close enough to the
    /// deadline: within 1/32 of the time left, either way. A read that ends a little
    /// early simply comes back here; a little late costs at most 3% of the wait. So a
    /// customer who buys one thing at a time costs no system call to move the deadline.
    fn wait_until(&mut self, deadline: Option<Instant>, now: Instant) -> io::Result<()> {
        let wanted = deadline.map(|d| d.saturating_duration_since(now).max(MIN_READ_TIMEOUT));
        if !timeout_close_enough(self.timeout, wanted) {
            self.input.get_mut().set_read_timeout(wanted)?;
            self.timeout = wanted;
        }
        Ok(())
    }

    /// Ends the message being assembled.
    fn finish(&mut self) -> Frame<'_> {
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        if self.overflow || self.line.len() > self.limits.max_line {
            return Frame::TooLong;
        }
        Frame::Message(&self.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::collections::VecDeque;
    use std::io::Read;

    /// One step of a [`Script`].
    #[derive(Debug, Clone)]
    enum Step {
        /// These bytes arrive now.
        Bytes(Vec<u8>),
        /// Nothing arrives before the read times out.
        Timeout,
        /// Nothing arrives for this long.
        Wait(Duration),
    }

    /// A scripted source with its own clock, so deadlines are tested without sleeping.
    /// A read returns the next bytes, or times out once the read timeout has passed on
    /// the script's clock; at the end of the script it returns end of stream.
    struct Script {
        steps: VecDeque<Step>,
        timeouts: Vec<Option<Duration>>,
        timeout: Option<Duration>,
        start: Instant,
        now: Cell<Instant>,
        /// How far the clock moves each time it is read: a machine so loaded that the
        /// server loses this much between any two steps.
        tick: Duration,
    }

    impl Script {
        /// Each entry is one `read` result: bytes, or `None` for a read timeout.
        fn new(steps: &[Option<&[u8]>]) -> Self {
            Self::steps(
                steps
                    .iter()
                    .map(|s| s.map_or(Step::Timeout, |b| Step::Bytes(b.to_vec())))
                    .collect(),
            )
        }

        fn steps(steps: Vec<Step>) -> Self {
            let now = Instant::now();
            Script {
                steps: steps.into(),
                timeouts: Vec::new(),
                timeout: None,
                start: now,
                now: Cell::new(now),
                tick: Duration::ZERO,
            }
        }

        fn advance(&self, d: Duration) {
            self.now.set(self.now.get() + d);
        }

        /// Script time since the start.
        fn elapsed(&self) -> Duration {
            self.now.get() - self.start
        }
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            loop {
                match self.steps.pop_front() {
                    None => return Ok(0),
                    Some(Step::Timeout) => {
                        let timeout = self
                            .timeout
                            .expect("a read without a timeout never times out");
                        self.advance(timeout);
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    Some(Step::Wait(d)) => match self.timeout {
                        Some(t) if t <= d => {
                            self.steps.push_front(Step::Wait(d - t));
                            self.advance(t);
                            return Err(io::ErrorKind::WouldBlock.into());
                        }
                        _ => self.advance(d),
                    },
                    Some(Step::Bytes(mut bytes)) => {
                        let n = bytes.len().min(buf.len());
                        buf[..n].copy_from_slice(&bytes[..n]);
                        if n < bytes.len() {
                            self.steps.push_front(Step::Bytes(bytes.split_off(n)));
                        }
                        return Ok(n);
                    }
                }
            }
        }
    }

    impl Source for Script {
        fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
            assert!(timeout != Some(Duration::ZERO), "a zero timeout is invalid");
            self.timeouts.push(timeout);
            self.timeout = timeout;
            Ok(())
        }

        fn now(&self) -> Instant {
            self.now.set(self.now.get() + self.tick);
            self.now.get()
        }
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Got {
        Msg(Vec<u8>),
        TooLong,
        Idle,
        Slow,
    }

    fn frames<S: Source>(mut reader: FrameReader<S>) -> Vec<Got> {
        let mut out = Vec::new();
        loop {
            match reader.read_frame() {
                Ok(Some(Frame::Message(m))) => out.push(Got::Msg(m.to_vec())),
                Ok(Some(Frame::TooLong)) => out.push(Got::TooLong),
                Ok(None) => return out,
                Err(FrameError::Idle(_)) => out.push(Got::Idle),
                Err(FrameError::MessageTimeout(_)) => out.push(Got::Slow),
                Err(FrameError::Io(e)) => panic!("io error {e}"),
            }
        }
    }

    fn limits(max_line: usize) -> Limits {
        Limits {
            max_line,
            flush_after: Duration::from_millis(200),
            idle: Some(Duration::from_secs(300)),
            message: Some(Duration::from_secs(10)),
        }
    }

    const MS: Duration = Duration::from_millis(1);
    const SEC: Duration = Duration::from_secs(1);

    /// `first` of quiet, then one `x` every `pace` for `total`.
    fn trickle(first: Duration, pace: Duration, total: Duration) -> Vec<Step> {
        let mut steps = vec![Step::Wait(first)];
        let mut t = Duration::ZERO;
        while t < total {
            steps.push(Step::Bytes(b"x".to_vec()));
            steps.push(Step::Wait(pace));
            t += pace;
        }
        steps
    }

    #[test]
    fn a_trickler_loses_its_message_at_the_deadline_whatever_its_pace() {
        // Below the flush interval each byte would restart a per-read timeout forever.
        // With a limit of 8 the message is past `max_line` after 9 bytes, and is held
        // (as "too long") all the same.
        for max_line in [8, 1024] {
            for pace in [MS, 50 * MS, 150 * MS, 199 * MS] {
                let steps = trickle(5 * SEC, pace, 60 * SEC);
                let mut reader = FrameReader::new(Script::steps(steps), limits(max_line)).unwrap();
                let got = reader.read_frame();
                assert!(
                    matches!(got, Err(FrameError::MessageTimeout(d)) if d == 10 * SEC),
                    "pace {pace:?}, max_line {max_line}: {got:?}"
                );
                // The first byte came after 5 s of quiet; the message had 10 s from it.
                let at = reader.get_ref().elapsed();
                assert!(
                    at >= 15 * SEC && at <= 15 * SEC + pace + 400 * MS,
                    "pace {pace:?}, max_line {max_line}: cut at {at:?}"
                );
            }
        }
    }

    #[test]
    fn a_trickler_is_idle_at_the_idle_deadline_when_that_comes_first() {
        // The idle clock runs from the greeting; the bytes of a message that never ends
        // do not stop it. Here the first byte comes after 295 s of quiet: the idle
        // deadline (300 s) is before the message deadline (305 s).
        for pace in [MS, 150 * MS, 199 * MS] {
            let steps = trickle(295 * SEC, pace, 60 * SEC);
            let mut reader = FrameReader::new(Script::steps(steps), limits(1024)).unwrap();
            let got = reader.read_frame();
            assert!(
                matches!(got, Err(FrameError::Idle(d)) if d == 300 * SEC),
                "pace {pace:?}: {got:?}"
            );
            let at = reader.get_ref().elapsed();
            assert!(
                at >= 300 * SEC && at <= 300 * SEC + pace + 400 * MS,
                "pace {pace:?}: cut at {at:?}"
            );
        }
    }

    #[test]
    fn a_slow_typist_above_the_flush_interval_sends_messages() {
        let steps = trickle(SEC, 250 * MS, 3 * SEC);
        let reader = FrameReader::new(Script::steps(steps), limits(8)).unwrap();
        let got = frames(reader);
        assert_eq!(got.len(), 12, "{got:?}");
        assert!(got.iter().all(|g| *g == msg("x")), "{got:?}");
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases spells out its tuple type
    fn deadline_table() {
        let b = |s: &str| Step::Bytes(s.as_bytes().to_vec());
        let w = Step::Wait;
        // (name, steps, frames, script time at the end)
        let cases: Vec<(&str, Vec<Step>, Vec<Got>, Duration)> = vec![
            (
                "idle counts from the last complete message",
                vec![w(299 * SEC), b("a\n"), w(299 * SEC), b("b\n"), w(301 * SEC)],
                vec![msg("a"), msg("b"), Got::Idle],
                898 * SEC,
            ),
            (
                "idle counts from the start",
                vec![w(301 * SEC), b("a\n")],
                vec![Got::Idle, msg("a")],
                301 * SEC,
            ),
            (
                "a flushed message restarts the idle clock",
                vec![w(100 * SEC), b("a"), w(301 * SEC)],
                vec![msg("a"), Got::Idle],
                400 * SEC + 200 * MS,
            ),
            (
                "a message split by the network within the deadline is one message",
                vec![b("ab"), w(100 * MS), b("c"), w(100 * MS), b("d\n")],
                vec![msg("abcd")],
                200 * MS,
            ),
            (
                "a message begun just before the idle deadline may end after it",
                vec![
                    w(299 * SEC + 900 * MS),
                    b("a"),
                    w(150 * MS),
                    b("b"),
                    w(150 * MS),
                    b("\n"),
                ],
                vec![msg("ab")],
                300 * SEC + 200 * MS,
            ),
            (
                "after a message timeout the clocks start again",
                [trickle(SEC, 100 * MS, 12 * SEC), vec![w(SEC), b("ok\n")]].concat(),
                vec![Got::Slow, Got::TooLong, msg("ok")],
                14 * SEC,
            ),
        ];
        for (name, steps, want, at) in cases {
            let mut reader = FrameReader::new(Script::steps(steps), limits(8)).unwrap();
            let mut got = Vec::new();
            loop {
                match reader.read_frame() {
                    Ok(Some(Frame::Message(m))) => got.push(Got::Msg(m.to_vec())),
                    Ok(Some(Frame::TooLong)) => got.push(Got::TooLong),
                    Ok(None) => break,
                    Err(FrameError::Idle(_)) => got.push(Got::Idle),
                    Err(FrameError::MessageTimeout(_)) => got.push(Got::Slow),
                    Err(FrameError::Io(e)) => panic!("{name}: {e}"),
                }
            }
            assert_eq!(got, want, "{name}");
            let end = reader.get_ref().elapsed();
            assert!(
                end.abs_diff(at) <= at / 32 + MS,
                "{name}: ended at {end:?}, want {at:?}"
            );
        }
    }

    #[test]
    fn time_the_server_spends_answering_is_not_the_customers() {
        // The server may take long to write its replies (a customer that pipelines and
        // reads slowly). Bytes that arrived meanwhile are not late for that.
        let stall = |reader: &mut FrameReader<Script>, d: Duration| reader.get_ref().advance(d);
        let b = |s: &str| Step::Bytes(s.as_bytes().to_vec());

        // A partial message at the end of the buffer, taken in only after a long stall:
        // neither flushed nor timed out before the rest is read.
        for pause in [SEC, 11 * SEC] {
            let steps = vec![b("a\nb"), b("c\n")];
            let mut reader = FrameReader::new(Script::steps(steps), limits(8)).unwrap();
            assert_eq!(reader.read_frame().unwrap(), Some(Frame::Message(b"a")));
            stall(&mut reader, pause);
            assert_eq!(
                reader.read_frame().unwrap(),
                Some(Frame::Message(b"bc")),
                "after {pause:?}"
            );
        }

        // Nor is the idle timeout counted while the server writes.
        let steps = vec![b("a\n"), b("b\n")];
        let mut reader = FrameReader::new(Script::steps(steps), limits(8)).unwrap();
        assert_eq!(reader.read_frame().unwrap(), Some(Frame::Message(b"a")));
        stall(&mut reader, 400 * SEC);
        assert_eq!(reader.read_frame().unwrap(), Some(Frame::Message(b"b")));
    }

    #[test]
    fn a_deadline_that_passes_while_the_server_is_not_waiting_gets_a_last_look() {
        // On a machine so loaded that 300 ms pass between any two steps of the server,
        // the flush deadline is found passed right after the first half of a message
        // was taken in, without any wait. The rest is already in the socket: one read
        // that hardly waits finds it, and the message is whole.
        let b = |s: &[u8]| Step::Bytes(s.to_vec());
        let gbk_xigua: &[u8] = b"\xce\xf7\xb9\xcf\n";
        let mut script = Script::steps(vec![b(&gbk_xigua[..1]), b(&gbk_xigua[1..])]);
        script.tick = 300 * MS;
        let mut reader = FrameReader::new(script, limits(8)).unwrap();
        assert_eq!(
            reader.read_frame().unwrap(),
            Some(Frame::Message(&gbk_xigua[..4]))
        );
        // An endless line whose bytes are always there still loses its message when
        // its deadline passes: one last look per message, not one per read.
        let mut script = Script::steps(vec![b(b"x"); 1000]);
        script.tick = 50 * MS;
        let mut reader = FrameReader::new(script, limits(8)).unwrap();
        let got = loop {
            match reader.read_frame() {
                Ok(Some(_)) => continue,
                other => break other.map(|_| ()),
            }
        };
        assert!(matches!(got, Err(FrameError::MessageTimeout(_))), "{got:?}");
    }

    #[test]
    fn a_customer_who_buys_one_thing_at_a_time_moves_no_timeout() {
        let mut steps = Vec::new();
        for _ in 0..50 {
            steps.push(Step::Wait(2 * SEC));
            steps.push(Step::Bytes(b"a\n".to_vec()));
        }
        let mut reader = FrameReader::new(Script::steps(steps), limits(8)).unwrap();
        while let Ok(Some(_)) = reader.read_frame() {}
        assert_eq!(reader.get_ref().timeouts, [Some(300 * SEC)]);
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
}
