//! One customer's connection, from greeting to goodbye.
//!
//! This is the glue between the layers: frames from `wire::frame`, text from
//! [`crate::wire::codec`], a [`Request`] for the [`Session`], and the [`Reply`] back as text
//! for [`LineWriter`] to send as a line. It takes any [`Source`] and any [`Sink`], so
//! tests can run it over byte slices.

use std::fmt::{self, Write as _};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use log::{debug, info, log_enabled};

use crate::live::Tap;
use crate::shop::words;
use crate::shop::{BOUGHT_PREFIX, Reply, Request, Session};
use crate::wire::codec::{self, Charset, Phrase, WireEncoding};
use crate::wire::{Frame, FrameError, FrameReader, LineWriter, Sink, Source, auto};

/// How a conversation ended, when it ended in an orderly way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The customer said `拜拜`.
    Bye,
    /// The customer closed the connection.
    PeerClosed,
    /// The customer said nothing for the idle timeout.
    Idle,
    /// A message took longer than the message timeout.
    MessageTimeout,
    /// The server is shutting down.
    ShopClosing,
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            End::Bye => "said goodbye",
            End::PeerClosed => "closed the connection",
            End::Idle => "was idle too long",
            End::MessageTimeout => "message too slow",
            End::ShopClosing => "shop closing",
        })
    }
}

/// Turns replies into text and sends each as one line.
///
/// It reuses one text buffer for the whole connection. The reply to a purchase, by far
/// the most frequent, skips text formatting and encoding: a fixed prefix whose bytes are
/// computed once per process, then the running total as ASCII digits, written by
/// `Price::push_ascii` without `fmt` (both showed in the instruction count,
/// docs/BENCHMARKS.md).
pub struct ReplyWriter<W: Sink> {
    lines: LineWriter<W>,
    text: String,
    /// Purchases whose reply could not be sent: sold, but the customer was not told.
    untold: u64,
}

/// [`BOUGHT_PREFIX`], encoded once.
static BOUGHT: Phrase = Phrase::new(BOUGHT_PREFIX);

impl<W: Sink> ReplyWriter<W> {
    /// Wraps `out`.
    pub fn new(out: W) -> Self {
        ReplyWriter {
            lines: LineWriter::new(out),
            text: String::new(),
            untold: 0,
        }
    }

    /// How many purchase replies could not be sent: sales the customer was not told of.
    pub fn untold(&self) -> u64 {
        self.untold
    }

    /// Sends one reply line in `charset`. A reply that ends the conversation is the
    /// last line, which may wait in the socket until the close.
    pub fn send(&mut self, reply: &Reply, charset: Charset) -> io::Result<()> {
        if let Reply::Bought { spent } = reply {
            let sent = self
                .lines
                .write_phrase_line(&BOUGHT, charset, |ascii| spent.push_ascii(ascii));
            self.untold += u64::from(sent.is_err());
            return sent;
        }
        if let Reply::Greeting(greeting) = reply {
            // Shared bytes, not a per-customer copy: with a big catalog the greeting
            // is megabytes.
            return self
                .lines
                .write_encoded_line(&greeting.line().bytes(charset));
        }
        self.text.clear();
        let _ = write!(self.text, "{reply}");
        if reply.closes() {
            self.lines.write_last_line(&self.text, charset)
        } else {
            self.lines.write_line(&self.text, charset)
        }
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.lines.into_inner()
    }
}

/// Runs one conversation: greets, then answers every message until the customer leaves,
/// goes quiet, or `closing` is set. Once it is, the next message (or the end of the
/// stream, when the read side is shut down) gets the goodbye instead of an answer.
/// Every message and its reply, and every cut-off, is reported to `tap`, the live
/// view's ear ([`Tap::off`] without a live view, and in tests).
///
/// `Ok` is an orderly end. `Err` means the stream broke; see
/// `wire::is_disconnect` for the errors that are just a vanished customer.
pub fn converse<S: Source, W: Sink>(
    frames: &mut FrameReader<S>,
    out: &mut ReplyWriter<W>,
    session: &mut Session,
    wire: WireEncoding,
    closing: &AtomicBool,
    peer: &dyn fmt::Display,
    tap: &Tap,
) -> io::Result<End> {
    let mut reader = MessageReader::new(wire);
    out.send(&session.greet(), reader.current)?;
    loop {
        reader.decoded = None;
        let frame = frames.read_frame();
        let (reply, charset) = match frame {
            // Once the shop has closed, no message is answered, so no purchase succeeds:
            // the customer gets the goodbye instead (a pipelined flood included).
            Ok(Some(_)) if closing.load(Ordering::Acquire) => {
                out.send(&Reply::Closing, reader.current)?;
                return Ok(End::ShopClosing);
            }
            Ok(Some(Frame::Message(bytes))) => reader.answer(bytes, session, peer),
            Ok(Some(Frame::TooLong)) => (session.handle(Request::TooLong), reader.current),
            Ok(None) if closing.load(Ordering::Acquire) => {
                out.send(&Reply::Closing, reader.current)?;
                return Ok(End::ShopClosing);
            }
            Ok(None) => return Ok(End::PeerClosed),
            Err(FrameError::Idle(after)) => {
                let reply = Reply::Idle(after.as_secs());
                tap.cut_off(&reply);
                out.send(&reply, reader.current)?;
                return Ok(End::Idle);
            }
            Err(FrameError::MessageTimeout(after)) => {
                let reply = Reply::MessageTimeout(after.as_secs());
                tap.cut_off(&reply);
                out.send(&reply, reader.current)?;
                return Ok(End::MessageTimeout);
            }
            Err(FrameError::Io(e)) => return Err(e),
        };
        tap.message(frames.last(), reader.said(), &reply, session.spent());
        out.send(&reply, charset)?;
        if reply.closes() {
            return Ok(End::Bye);
        }
    }
}

/// Turns one connection's messages into requests: decodes each, remembers the charset
/// the conversation is in, and spots a customer whose sender uses the wrong encoding.
struct MessageReader {
    wire: WireEncoding,
    /// The charset of the conversation so far: the greeting's at first. Under `auto`
    /// each message with evidence of its charset changes it (see [`auto::decide_auto`]);
    /// in a fixed mode it never changes.
    current: Charset,
    /// Decode buffers, reused for every message: a purchase allocates nothing.
    text: String,
    scratch: String,
    /// The charset the last message was decoded in (into `text`), for the live view.
    decoded: Option<Charset>,
}

impl MessageReader {
    fn new(wire: WireEncoding) -> Self {
        MessageReader {
            wire,
            current: wire.greeting_charset(),
            text: String::new(),
            scratch: String::new(),
            decoded: None,
        }
    }

    /// The last message's text and charset, if it could be decoded.
    fn said(&self) -> Option<(&str, Charset)> {
        self.decoded.map(|charset| (self.text.as_str(), charset))
    }

    /// Answers one message; returns the reply and the charset it goes out in.
    // Inlined into the loop: it runs once per purchase, the hot path.
    #[inline(always)]
    fn answer(
        &mut self,
        bytes: &[u8],
        session: &mut Session,
        peer: &dyn fmt::Display,
    ) -> (Reply, Charset) {
        let decoded = match self.wire {
            WireEncoding::Auto => auto::decide_auto(
                bytes,
                self.current,
                |t| session.knows(t),
                &mut self.text,
                &mut self.scratch,
            ),
            fixed => {
                let charset = fixed.greeting_charset();
                codec::decode_strict_into(bytes, charset, &mut self.text).then_some(charset)
            }
        };
        self.decoded = decoded;
        if log_enabled!(log::Level::Debug) {
            let said = decoded.map(|charset| (charset, self.text.as_str()));
            debug!("{peer} sent {}", MessageLog::new(bytes, said, self.wire));
        }
        let reply = match decoded {
            Some(charset) => {
                self.current = charset;
                let request = Request::parse(&self.text);
                let reply = session.handle(request);
                if let (Request::Buy(name), Reply::Bought { spent }) = (request, &reply) {
                    debug!("{peer} bought {name}, spent {spent} so far");
                }
                reply
            }
            None => session.handle(Request::Garbled),
        };
        // In a fixed charset, a message that meant nothing may have been sent in the
        // other one. Only an unknown item or garbled bytes are checked: the hot path, a
        // purchase, never pays for it, and nothing was sold when the hint goes out.
        if self.wire != WireEncoding::Auto
            && matches!(reply, Reply::Unknown | Reply::Garbled(_))
            && let Some(hint) = self.hint(bytes, session, peer)
        {
            return hint;
        }
        (reply, self.current)
    }

    /// The wrong-encoding hint for `bytes`, in the charset the customer used, if they
    /// read as a request in the other charset. See [`auto::wrong_charset`].
    fn hint(
        &mut self,
        bytes: &[u8],
        session: &Session,
        peer: &dyn fmt::Display,
    ) -> Option<(Reply, Charset)> {
        let expected = self.current;
        let sent = auto::wrong_charset(bytes, expected, |t| session.knows(t), &mut self.scratch)?;
        let meant = match Request::parse(&self.scratch) {
            Request::Buy(name) => name,
            Request::Bye => words::BYE,
            Request::Menu => words::MENU,
            _ => return None,
        };
        info!(
            "{peer} sent {sent} {meant:?} to a {expected} shop: told them to switch to {expected}"
        );
        let reply = Reply::WrongEncoding {
            sent,
            expected,
            text: meant.to_string(),
        };
        Some((reply, sent))
    }
}

/// The debug log's account of one message: its bytes in hex, as the debug assistant
/// shows them, next to the text they decoded to and the charset, or why they did not.
struct MessageLog<'a> {
    bytes: &'a [u8],
    said: Option<(Charset, &'a str)>,
    wire: WireEncoding,
}

impl<'a> MessageLog<'a> {
    fn new(bytes: &'a [u8], said: Option<(Charset, &'a str)>, wire: WireEncoding) -> Self {
        MessageLog { bytes, said, wire }
    }
}

impl fmt::Display for MessageLog<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bytes.len() {
            0 => f.write_str("0 bytes")?,
            1 => write!(f, "1 byte: {}", codec::hex(self.bytes))?,
            n => write!(f, "{n} bytes: {}", codec::hex(self.bytes))?,
        }
        match self.said {
            Some((charset, text)) => write!(f, " = {charset} {text:?}"),
            None => f.write_str(match self.wire {
                WireEncoding::Auto => " = neither GBK nor UTF-8",
                WireEncoding::Gbk => " = not GBK",
                WireEncoding::Utf8 => " = not UTF-8",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::Shop;
    use crate::shop::catalog::{Catalog, EMBEDDED, Price};
    use crate::wire::Limits;

    fn run(input: &[u8], wire: WireEncoding, closing: bool) -> (Vec<u8>, End) {
        let shop = Shop::new(Catalog::parse(EMBEDDED, "t", wire).unwrap());
        let mut session = Session::new(shop, wire, 1024);
        let mut frames = FrameReader::new(input, Limits::default()).unwrap();
        let mut out = ReplyWriter::new(Vec::new());
        let closing = AtomicBool::new(closing);
        let tap = Tap::off();
        let end = converse(
            &mut frames,
            &mut out,
            &mut session,
            wire,
            &closing,
            &"test",
            &tap,
        )
        .unwrap();
        (out.into_inner(), end)
    }

    fn gbk(s: &str) -> Vec<u8> {
        codec::encode(s, Charset::Gbk).unwrap()
    }

    #[test]
    fn the_purchase_fast_path_sends_the_same_bytes_as_the_display_text() {
        for charset in [Charset::Gbk, Charset::Utf8] {
            for fen in [0, 5, 50, 200, 450, 650, 1001, 123_456_789, u64::MAX] {
                let reply = Reply::Bought { spent: Price(fen) };
                let mut fast = ReplyWriter::new(Vec::new());
                fast.send(&reply, charset).unwrap();
                let mut slow = LineWriter::new(Vec::new());
                slow.write_line(&reply.to_string(), charset).unwrap();
                assert_eq!(fast.into_inner(), slow.into_inner(), "{reply} in {charset}");
            }
        }
        let mut out = ReplyWriter::new(Vec::new());
        out.send(&Reply::Bought { spent: Price(650) }, Charset::Gbk)
            .unwrap();
        assert_eq!(
            out.into_inner(),
            codec::encode("购买成功,余额 -6.5\r\n", Charset::Gbk).unwrap()
        );
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases spells out its tuple type
    fn the_debug_line_shows_hex_next_to_the_decoded_text() {
        use Charset::{Gbk, Utf8};
        let cases: [(&[u8], Option<(Charset, &str)>, WireEncoding, &str); 6] = [
            (
                b"\xce\xf7\xb9\xcf",
                Some((Gbk, "西瓜")),
                WireEncoding::Auto,
                "4 bytes: CE F7 B9 CF = GBK \"西瓜\"",
            ),
            (
                b"x",
                Some((Utf8, "x")),
                WireEncoding::Utf8,
                "1 byte: 78 = UTF-8 \"x\"",
            ),
            (
                b"",
                Some((Gbk, "")),
                WireEncoding::Gbk,
                "0 bytes = GBK \"\"",
            ),
            (
                b"\xff",
                None,
                WireEncoding::Auto,
                "1 byte: FF = neither GBK nor UTF-8",
            ),
            (b"\xce", None, WireEncoding::Gbk, "1 byte: CE = not GBK"),
            // Control characters are escaped, so a customer cannot forge a log line.
            (
                b"a\nb",
                Some((Gbk, "a\nb")),
                WireEncoding::Gbk,
                "3 bytes: 61 0A 62 = GBK \"a\\nb\"",
            ),
        ];
        for (bytes, said, wire, want) in cases {
            assert_eq!(MessageLog::new(bytes, said, wire).to_string(), want);
        }
    }

    const GREETING: &str = "目前商店还有:瓜子(4.5),西瓜(2),矿泉水(2.5)。请问您需要什么?\r\n";

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases spells out its tuple type
    fn conversation_table() {
        // (name, wire, input, closing flag, expected output, expected end)
        let cases: Vec<(&str, WireEncoding, Vec<u8>, bool, Vec<u8>, End)> = vec![
            (
                "seed transcript in GBK",
                WireEncoding::Gbk,
                gbk("红牛\n西瓜\n拜拜\n忽略\n"),
                false,
                gbk(&format!(
                    "{GREETING}抱歉,您购买的商品目前没有,请选购其他的。\r\n购买成功,余额 -2\r\n欢迎下次光临\r\n"
                )),
                End::Bye,
            ),
            (
                "utf-8 both ways",
                WireEncoding::Utf8,
                "西瓜\r\n瓜子".as_bytes().to_vec(),
                false,
                format!("{GREETING}购买成功,余额 -2\r\n购买成功,余额 -6.5\r\n").into_bytes(),
                End::PeerClosed,
            ),
            (
                "auto answers in the charset of each message",
                WireEncoding::Auto,
                [gbk("西瓜\n"), "西瓜\n".as_bytes().to_vec()].concat(),
                false,
                [
                    gbk(GREETING),
                    gbk("购买成功,余额 -2\r\n"),
                    "购买成功,余额 -4\r\n".as_bytes().to_vec(),
                ]
                .concat(),
                End::PeerClosed,
            ),
            (
                "garbled bytes get a reply and the session goes on",
                WireEncoding::Gbk,
                [b"\xff\xfe\x80\n".to_vec(), gbk("西瓜\n")].concat(),
                false,
                gbk(&format!(
                    "{GREETING}抱歉,无法识别您发送的文字,本店使用 GBK 编码,请检查发送端的编码设置。\r\n购买成功,余额 -2\r\n"
                )),
                End::PeerClosed,
            ),
            (
                "shutdown says goodbye",
                WireEncoding::Gbk,
                Vec::new(),
                true,
                gbk(&format!("{GREETING}本店打烊了,欢迎下次光临\r\n")),
                End::ShopClosing,
            ),
            (
                "after the shop closes no message is answered, so nothing is sold",
                WireEncoding::Gbk,
                gbk("西瓜\n西瓜\n"),
                true,
                gbk(&format!("{GREETING}本店打烊了,欢迎下次光临\r\n")),
                End::ShopClosing,
            ),
        ];
        let utf8 = |s: &str| s.as_bytes().to_vec();
        let auto = |input: Vec<Vec<u8>>, replies: Vec<Vec<u8>>| {
            let want = [vec![gbk(GREETING)], replies].concat().concat();
            (
                WireEncoding::Auto,
                input.concat(),
                false,
                want,
                End::PeerClosed,
            )
        };
        const UNKNOWN: &str = "抱歉,您购买的商品目前没有,请选购其他的。\r\n";
        const GARBLED: &str =
            "抱歉,无法识别您发送的文字,本店使用 GBK 或 UTF-8 编码,请检查发送端的编码设置。\r\n";
        let hint_for_gbk =
            "抱歉,您发送的是 UTF-8 编码的「西瓜」,本店使用 GBK 编码,请把发送端的编码改成 GBK。\r\n";
        let hint_for_utf8 = "抱歉,您发送的是 GBK 编码的「西瓜」,本店使用 UTF-8 编码,请把发送端的编码改成 UTF-8。\r\n";
        let more = [
            (
                "auto: ASCII and empty after GBK stay GBK",
                auto(
                    vec![gbk("西瓜\n"), b"cola\n\n".to_vec()],
                    vec![gbk("购买成功,余额 -2\r\n"), gbk(UNKNOWN), gbk(GREETING)],
                ),
            ),
            (
                "auto: ASCII first is answered in the greeting's GBK",
                auto(vec![b"cola\n".to_vec()], vec![gbk(UNKNOWN)]),
            ),
            (
                "auto: after UTF-8, ASCII and an empty line stay UTF-8",
                auto(
                    vec![utf8("西瓜\ncola\n\n")],
                    vec![utf8("购买成功,余额 -2\r\n"), utf8(UNKNOWN), utf8(GREETING)],
                ),
            ),
            (
                "auto: garbled in the current charset",
                auto(
                    vec![b"\xff\n".to_vec(), utf8("瓜子\n"), b"\xff\n".to_vec()],
                    vec![gbk(GARBLED), utf8("购买成功,余额 -4.5\r\n"), utf8(GARBLED)],
                ),
            ),
            (
                "auto: an unknown name valid only in UTF-8 switches to UTF-8",
                auto(
                    vec![utf8("可\n"), b"\n".to_vec()],
                    vec![utf8(UNKNOWN), utf8(GREETING)],
                ),
            ),
        ];
        let hints = [
            (
                "gbk: UTF-8 西瓜 gets the hint in UTF-8 and buys nothing",
                (
                    WireEncoding::Gbk,
                    [utf8("西瓜\n"), gbk("西瓜\n")].concat(),
                    false,
                    [
                        gbk(GREETING),
                        utf8(hint_for_gbk),
                        gbk("购买成功,余额 -2\r\n"),
                    ]
                    .concat(),
                    End::PeerClosed,
                ),
            ),
            (
                "utf-8: GBK 西瓜 gets the hint in GBK and buys nothing",
                (
                    WireEncoding::Utf8,
                    [gbk("西瓜\n"), utf8("西瓜\n")].concat(),
                    false,
                    [
                        utf8(GREETING),
                        gbk(hint_for_utf8),
                        utf8("购买成功,余额 -2\r\n"),
                    ]
                    .concat(),
                    End::PeerClosed,
                ),
            ),
            (
                "gbk: a name unknown in both encodings gets the plain reply",
                (
                    WireEncoding::Gbk,
                    [utf8("可乐\n"), b"cola\n".to_vec()].concat(),
                    false,
                    [gbk(GREETING), gbk(UNKNOWN), gbk(UNKNOWN)].concat(),
                    End::PeerClosed,
                ),
            ),
        ];
        let cases = cases.into_iter().chain(
            more.into_iter()
                .chain(hints)
                .map(|(name, (w, i, c, o, e))| (name, w, i, c, o, e)),
        );
        for (name, wire, input, closing, want, want_end) in cases {
            let (got, end) = run(&input, wire, closing);
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "{name}"
            );
            assert_eq!(got, want, "{name}");
            assert_eq!(end, want_end, "{name}");
        }
    }
}
