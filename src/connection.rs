//! One customer's connection, from greeting to goodbye.
//!
//! This is the glue between the layers: frames from [`crate::protocol`], text from
//! [`crate::codec`], a [`Request`] for the [`Session`], and the [`Reply`] back as text
//! for [`LineWriter`] to send as a line. It takes any [`Source`] and any [`Sink`], so
//! tests can run it over byte slices.

use std::fmt::{self, Write as _};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use log::{debug, log_enabled};

use crate::catalog::Price;
use crate::codec::{self, Charset, Phrase, WireEncoding};
use crate::protocol::{self, Frame, FrameError, FrameReader, LineWriter, Sink, Source};
use crate::session::{BOUGHT_PREFIX, Reply, Request, Session};

/// How a conversation ended, when it ended in an orderly way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The customer said `拜拜`.
    Bye,
    /// The customer closed the connection.
    PeerClosed,
    /// The customer said nothing for the idle timeout.
    Idle,
    /// The server is shutting down.
    ShopClosing,
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            End::Bye => "said goodbye",
            End::PeerClosed => "closed the connection",
            End::Idle => "was idle too long",
            End::ShopClosing => "shop closing",
        })
    }
}

/// Turns replies into text and sends each as one line.
///
/// It reuses one text buffer for the whole connection. The reply to a purchase, by far
/// the most frequent, skips text formatting and most encoding: a fixed prefix whose
/// bytes are computed once per process, then the running total in ASCII digits.
pub struct ReplyWriter<W: Sink> {
    lines: LineWriter<W>,
    text: String,
}

/// [`BOUGHT_PREFIX`], encoded once.
static BOUGHT: Phrase = Phrase::new(BOUGHT_PREFIX);

impl<W: Sink> ReplyWriter<W> {
    /// Wraps `out`.
    pub fn new(out: W) -> Self {
        ReplyWriter {
            lines: LineWriter::new(out),
            text: String::new(),
        }
    }

    /// Sends one reply line in `charset`. A reply that ends the conversation is the
    /// last line, which may wait in the socket until the close.
    pub fn send(&mut self, reply: &Reply, charset: Charset) -> io::Result<()> {
        self.text.clear();
        if let Reply::Bought { spent } = reply {
            push_price(&mut self.text, *spent);
            return self.lines.write_phrase_line(&BOUGHT, &self.text, charset);
        }
        if let Reply::Greeting(greeting) = reply {
            // Shared bytes, not a per-customer copy: with a big catalog the greeting
            // is megabytes (issue 10, item 8).
            let line = greeting.line(charset, |text| {
                let mut line = Vec::new();
                protocol::encode_line(text, charset, &mut line);
                line
            });
            return self.lines.write_encoded_line(&line);
        }
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

/// Appends `price` as its `Display` text, without the formatting machinery (it showed
/// in the purchase path's instruction count, docs/BENCHMARKS.md).
fn push_price(text: &mut String, price: Price) {
    let mut bytes = std::mem::take(text).into_bytes();
    price.push_ascii(&mut bytes);
    // `push_ascii` appends only ASCII digits and a dot, so this is always valid text.
    *text = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
}

/// Runs one conversation: greets, then answers every message until the customer leaves,
/// goes quiet, or `closing` is set and the read side is shut down.
///
/// `Ok` is an orderly end. `Err` means the stream broke; see
/// [`crate::protocol::is_disconnect`] for the errors that are just a vanished customer.
pub fn converse<S: Source, W: Sink>(
    frames: &mut FrameReader<S>,
    out: &mut ReplyWriter<W>,
    session: &mut Session,
    wire: WireEncoding,
    closing: &AtomicBool,
    peer: &dyn fmt::Display,
) -> io::Result<End> {
    // Until the customer says something, speak the greeting charset. With `auto`, each
    // reply then follows the charset of the message it answers.
    let mut charset = wire.greeting_charset();
    // One decode buffer for the whole conversation: a purchase allocates nothing.
    let mut text = String::new();
    out.send(&session.greet(), charset)?;
    loop {
        let request_reply = match frames.read_frame() {
            Ok(Some(Frame::Message(bytes))) => {
                if log_enabled!(log::Level::Debug) {
                    debug!("{peer} sent {} bytes: {}", bytes.len(), codec::hex(bytes));
                }
                match codec::decode_into(bytes, wire, &mut text) {
                    Ok(used) => {
                        charset = used;
                        let request = Request::parse(&text);
                        let reply = session.handle(request);
                        if let (Request::Buy(name), Reply::Bought { spent }) = (request, &reply) {
                            debug!("{peer} bought {name}, spent {spent} so far");
                        }
                        reply
                    }
                    Err(_) => session.handle(Request::Garbled),
                }
            }
            Ok(Some(Frame::TooLong)) => session.handle(Request::TooLong),
            Ok(None) if closing.load(Ordering::Acquire) => {
                out.send(&Reply::Closing, charset)?;
                return Ok(End::ShopClosing);
            }
            Ok(None) => return Ok(End::PeerClosed),
            Err(FrameError::Idle(after)) => {
                out.send(&Reply::Idle(after.as_secs()), charset)?;
                return Ok(End::Idle);
            }
            Err(FrameError::Io(e)) => return Err(e),
        };
        out.send(&request_reply, charset)?;
        if request_reply.closes() {
            return Ok(End::Bye);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, EMBEDDED};
    use crate::protocol::Limits;
    use crate::shop::Shop;

    fn run(input: &[u8], wire: WireEncoding, closing: bool) -> (Vec<u8>, End) {
        let shop = Shop::new(Catalog::parse(EMBEDDED, "t", wire).unwrap());
        let mut session = Session::new(shop, wire, 1024);
        let mut frames = FrameReader::new(input, Limits::default()).unwrap();
        let mut out = ReplyWriter::new(Vec::new());
        let closing = AtomicBool::new(closing);
        let end = converse(&mut frames, &mut out, &mut session, wire, &closing, &"test").unwrap();
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
        ];
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
