//! 第 5 步 · 乱码:西瓜在 GBK 里是 `CE F7 B9 CF`,在 UTF-8 里是 `E8 A5 BF E7 93 9C`。
//! 网络调试助手(Windows)发 GBK,UTF-8 终端里的 `nc` 发 UTF-8。天真的解码(`--lossy`)
//! 把不合法的字节悄悄换成 `�`,或者把 UTF-8 的西瓜读成 GBK 的「瑗跨摐」,然后回答「没有」。
//! 改正:用 encoding_rs 严格解码,不替换;解不出来或不是商品时,再用另一种编码读一遍,
//! 是商品的话就用顾客自己的编码告诉他该改成什么编码。
//!
//! Step 5 · Garbled text (乱码): 西瓜 is `CE F7 B9 CF` in GBK and `E8 A5 BF E7 93 9C` in
//! UTF-8. The debug assistant sends GBK, `nc` in a UTF-8 terminal UTF-8. A lossy decode
//! (`--lossy`) silently turns bad bytes into `�`, or reads UTF-8 西瓜 as GBK 「瑗跨摐」,
//! and answers "no such item". The fix decodes strictly with encoding_rs, never
//! substituting; when that fails or names nothing, it reads the bytes in the other
//! encoding, and if they name an item tells the customer, in their own encoding.
//!
//! 运行 · Run: `cargo run --example step5_encoding -- [--utf8] [--lossy] [--port 9999]`
//! (`--utf8`:本店用 UTF-8 · the shop speaks UTF-8; default GBK)

use std::io::{self, Write};
use std::net::TcpStream;
use std::thread;

use encoding_rs::{Encoding, GBK, UTF_8};

#[path = "step4_framing.rs"]
#[allow(dead_code)]
mod step4;

use step4::step1::{self, GOODBYE, GOODS, GREETING, hex};
use step4::{Framer, Framing, PAUSE};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Decoding {
    /// Naive: invalid bytes become U+FFFD, and whatever comes out is taken as the text.
    Lossy,
    /// No substitution; the other encoding is tried before answering "no such item".
    Strict,
}

/// `bytes` as text in `encoding`, or `None` if they are not valid in it. No `�`, and no
/// byte order mark switching the encoding behind our back.
pub fn decode_strict(bytes: &[u8], encoding: &'static Encoding) -> Option<String> {
    let text = encoding.decode_without_bom_handling_and_without_replacement(bytes)?;
    Some(text.into_owned())
}

fn price(text: &str) -> Option<&'static str> {
    GOODS
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, price)| *price)
}

/// The reply to one message (line end already removed) and the encoding to send it in.
pub fn answer(
    message: &[u8],
    wire: &'static Encoding,
    decoding: Decoding,
) -> (String, &'static Encoding) {
    let text = match decoding {
        Decoding::Lossy => Some(wire.decode_without_bom_handling(message).0.into_owned()),
        Decoding::Strict => decode_strict(message, wire),
    };
    if let Some(price) = text.as_deref().and_then(price) {
        return (format!("购买成功,余额 -{price}"), wire);
    }
    let other = if wire == GBK { UTF_8 } else { GBK };
    let item = decode_strict(message, other).filter(|t| price(t).is_some());
    if let Some(item) = item.filter(|_| decoding == Decoding::Strict) {
        let (sent, ours) = (other.name(), wire.name());
        let hint = format!(
            "抱歉,您发送的是 {sent} 编码的「{item}」,本店使用 {ours} 编码,请把发送端的编码改成 {ours}。"
        );
        return (hint, other);
    }
    match text {
        Some(text) => (format!("抱歉,本店没有「{text}」。"), wire),
        None => (
            format!(
                "抱歉,无法识别您发送的文字({}),本店使用 {} 编码。",
                hex(message),
                wire.name()
            ),
            wire,
        ),
    }
}

/// One customer, framed as in step 4 (lines, or a pause), answered by [`answer`].
pub fn customer(stream: &TcpStream, wire: &'static Encoding, decoding: Decoding) -> io::Result<()> {
    let mut out = stream;
    out.write_all(&wire.encode(&format!("{GREETING}\r\n")).0)?;
    let mut framer = Framer::new(stream, Framing::Lines { pause: Some(PAUSE) });
    while let Some(message) = framer.next(&mut |_| {})? {
        let message = message.strip_suffix(b"\n").unwrap_or(&message);
        let message = message.strip_suffix(b"\r").unwrap_or(message);
        let (reply, charset) = if message == wire.encode("拜拜").0.as_ref() {
            (GOODBYE.to_string(), wire)
        } else {
            answer(message, wire, decoding)
        };
        println!("{} → {reply} ({})", hex(message), charset.name());
        out.write_all(&charset.encode(&format!("{reply}\r\n")).0)?;
        if reply == GOODBYE {
            return Ok(());
        }
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let usage = "用法 · usage: step5_encoding [--utf8] [--lossy] [--host 127.0.0.1] [--port 9999]";
    let (address, flags) = step1::parse_args(usage, &["--utf8", "--lossy"]);
    let wire = if flags.iter().any(|f| f == "--utf8") {
        UTF_8
    } else {
        GBK
    };
    let decoding = if flags.iter().any(|f| f == "--lossy") {
        Decoding::Lossy
    } else {
        Decoding::Strict
    };
    for (name, encoding) in [("GBK", GBK), ("UTF-8", UTF_8)] {
        println!("西瓜 in {name}: {}", hex(&encoding.encode("西瓜").0));
    }
    let listener = step1::listen(&address);
    println!("本店用 · the shop speaks {}", wire.name());
    for stream in listener.incoming() {
        let stream = stream?;
        thread::spawn(move || customer(&stream, wire, decoding));
    }
    Ok(())
}
