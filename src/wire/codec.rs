//! Text encodings on the wire: GBK, UTF-8, or "auto" (whatever each message came in).
//!
//! This module and [`crate::wire::protocol`] are the only places that touch raw bytes.
//! Everything above them works with `&str`.
//!
//! Two traps this module exists to avoid (乱码):
//! - `encoding_rs::GBK.encode("😀")` silently yields `&#128512;`. [`encode`] refuses
//!   unmappable text instead, so a name or reply that cannot travel is caught, not mangled.
//! - A byte order mark silently switches an `encoding_rs` decoder to UTF-8 or UTF-16.
//!   Every decoder here is created *without* BOM handling, so a BOM is just bytes.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use encoding_rs::{CoderResult, Decoder, DecoderResult, EncoderResult};

/// A concrete character set that bytes can be decoded from and encoded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// GBK, as spoken by the Windows 网络调试助手 and the tutorial's reference answer.
    Gbk,
    /// UTF-8, as typed into `nc` or `telnet` on a modern terminal.
    Utf8,
}

impl Charset {
    fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            Charset::Gbk => encoding_rs::GBK,
            Charset::Utf8 => encoding_rs::UTF_8,
        }
    }

    /// The name users see in `--help`, logs and replies.
    pub fn name(self) -> &'static str {
        match self {
            Charset::Gbk => "GBK",
            Charset::Utf8 => "UTF-8",
        }
    }
}

impl fmt::Display for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Charset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "gbk" => Ok(Charset::Gbk),
            "utf-8" | "utf8" => Ok(Charset::Utf8),
            other => Err(format!(
                "未知的编码 `{other}`,只能是 gbk 或 utf-8 (unknown encoding, expected gbk or utf-8)"
            )),
        }
    }
}

/// The server's wire encoding setting (`--encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WireEncoding {
    /// GBK both ways (the default, like the tutorial).
    #[default]
    Gbk,
    /// UTF-8 both ways.
    Utf8,
    /// Greet in GBK, then answer each message in the charset it arrived in, decided
    /// per message by [`decide_auto`] and remembered per connection.
    Auto,
}

impl WireEncoding {
    /// The charset used before the peer has said anything (the greeting).
    pub fn greeting_charset(self) -> Charset {
        match self {
            WireEncoding::Gbk | WireEncoding::Auto => Charset::Gbk,
            WireEncoding::Utf8 => Charset::Utf8,
        }
    }

    /// The charsets every catalog name must be encodable in.
    pub fn charsets(self) -> &'static [Charset] {
        match self {
            WireEncoding::Gbk => &[Charset::Gbk],
            WireEncoding::Utf8 => &[Charset::Utf8],
            WireEncoding::Auto => &[Charset::Gbk, Charset::Utf8],
        }
    }

    /// How replies describe what the server expects.
    pub fn describe(self) -> &'static str {
        match self {
            WireEncoding::Gbk => "GBK",
            WireEncoding::Utf8 => "UTF-8",
            WireEncoding::Auto => "GBK 或 UTF-8",
        }
    }
}

impl FromStr for WireEncoding {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "gbk" => Ok(WireEncoding::Gbk),
            "utf-8" | "utf8" => Ok(WireEncoding::Utf8),
            "auto" => Ok(WireEncoding::Auto),
            other => Err(format!(
                "未知的编码 `{other}`,只能是 gbk、utf-8 或 auto (unknown encoding, expected gbk, utf-8 or auto)"
            )),
        }
    }
}

impl fmt::Display for WireEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireEncoding::Gbk => "gbk",
            WireEncoding::Utf8 => "utf-8",
            WireEncoding::Auto => "auto",
        })
    }
}

/// Bytes that are not valid text in the expected encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bytes are not valid {expected}")]
pub struct DecodeError {
    /// What the bytes were expected to be.
    pub expected: WireEncoding,
}

/// Text that the target charset cannot carry (an emoji over GBK, say).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{ch}` cannot be encoded in {charset}")]
pub struct Unmappable {
    /// The first character that has no encoding.
    pub ch: char,
    /// The charset that was asked for.
    pub charset: Charset,
}

impl Charset {
    /// The other one of the two charsets.
    pub fn other(self) -> Charset {
        match self {
            Charset::Gbk => Charset::Utf8,
            Charset::Utf8 => Charset::Gbk,
        }
    }
}

/// Decodes `bytes` strictly in `charset` into `out` (cleared first); false, with `out`
/// empty, if they are not valid text in it. No replacement, no BOM sniffing.
pub fn decode_strict_into(bytes: &[u8], charset: Charset, out: &mut String) -> bool {
    out.clear();
    let ok = match charset {
        Charset::Utf8 => std::str::from_utf8(bytes)
            .map(|text| out.push_str(text))
            .is_ok(),
        Charset::Gbk => decode_gbk_into(bytes, out),
    };
    if !ok {
        out.clear();
    }
    ok
}

/// Decides how one message reads under `--encoding auto`, and in which charset to answer
/// it. `current` is the connection's charset so far (GBK, the greeting's, at first);
/// the caller makes the result its new `current`. `is_known` tells whether a decoded
/// text means something to the shop (an item name or a keyword such as 拜拜 or 菜单).
///
/// - ASCII only, or empty: no evidence either way; `current`.
/// - Valid in only one of UTF-8 and GBK: that one.
/// - Valid in both (about 930 GB2312 characters, 虾 `CF BA` among them, are valid UTF-8
///   as GBK bytes, and UTF-8 Chinese is often valid GBK): if exactly one decoding is
///   known, that one; otherwise `current`.
/// - Valid in neither: `None`, the message is garbled; answer in `current`.
///
/// On `Some`, `text` holds the message decoded in the returned charset. `scratch` is a
/// second reusable buffer. Pure: no I/O, so the rules are tested as a table.
pub fn decide_auto(
    bytes: &[u8],
    current: Charset,
    is_known: impl Fn(&str) -> bool,
    text: &mut String,
    scratch: &mut String,
) -> Option<Charset> {
    text.clear();
    let utf8 = std::str::from_utf8(bytes).ok();
    if let Some(ascii) = utf8.filter(|t| t.is_ascii()) {
        text.push_str(ascii);
        return Some(current);
    }
    let gbk = decode_strict_into(bytes, Charset::Gbk, scratch);
    let chosen = match (utf8, gbk) {
        (None, false) => return None,
        (Some(_), false) => Charset::Utf8,
        (None, true) => Charset::Gbk,
        (Some(u), true) => match (is_known(u), is_known(scratch)) {
            (true, false) => Charset::Utf8,
            (false, true) => Charset::Gbk,
            _ => current,
        },
    };
    match (chosen, utf8) {
        (Charset::Utf8, Some(u)) => text.push_str(u),
        _ => std::mem::swap(text, scratch),
    }
    Some(chosen)
}

/// In a fixed wire charset (`--encoding gbk` or `utf-8`), tells whether a message that
/// named nothing in `expected` (or did not decode in it) was sent in the other charset.
///
/// It was if its bytes are valid in the other charset and either did not decode in
/// `expected` at all, or their other reading is known to the shop (see [`decide_auto`]
/// for `is_known`). Then it returns that charset, with the text as meant in `out`. ASCII
/// reads the same in both, so a plain unknown word never raises this alarm.
pub fn wrong_charset(
    bytes: &[u8],
    expected: Charset,
    is_known: impl Fn(&str) -> bool,
    out: &mut String,
) -> Option<Charset> {
    out.clear();
    if bytes.is_ascii() {
        return None;
    }
    let valid_as_expected = match expected {
        Charset::Utf8 => std::str::from_utf8(bytes).is_ok(),
        Charset::Gbk => decode_strict_into(bytes, Charset::Gbk, out),
    };
    let sent = expected.other();
    if !decode_strict_into(bytes, sent, out) || (valid_as_expected && !is_known(out)) {
        out.clear();
        return None;
    }
    Some(sent)
}

/// How `name` reads when its bytes in one charset are decoded in the other: pairs of the
/// charset it was encoded in and the misreading, for each direction that decodes.
///
/// Under `--encoding auto` two catalog names where one is the other's misreading cannot
/// be told apart by meaning, so the catalog refuses them.
pub fn misreadings(name: &str) -> Vec<(Charset, String)> {
    let mut found = Vec::new();
    for charset in [Charset::Gbk, Charset::Utf8] {
        let mut text = String::new();
        if let Ok(bytes) = encode(name, charset)
            && decode_strict_into(&bytes, charset.other(), &mut text)
            && text != name
        {
            found.push((charset, text));
        }
    }
    found
}

/// Decodes one whole message on its own, without a connection: in the charset of a
/// fixed `wire`, or, with [`WireEncoding::Auto`], by the server's rule
/// ([`decide_auto`]) for a first message that names nothing: valid in only one
/// charset, that one; valid in both, GBK, the greeting's. For tests and tools; the
/// server keeps per-connection state and calls [`decide_auto`] itself.
pub fn decode(bytes: &[u8], wire: WireEncoding) -> Result<(String, Charset), DecodeError> {
    let mut text = String::new();
    let charset = match wire {
        WireEncoding::Auto => {
            let mut scratch = String::new();
            decide_auto(
                bytes,
                wire.greeting_charset(),
                |_| false,
                &mut text,
                &mut scratch,
            )
        }
        fixed => {
            let charset = fixed.greeting_charset();
            decode_strict_into(bytes, charset, &mut text).then_some(charset)
        }
    };
    charset
        .map(|charset| (text, charset))
        .ok_or(DecodeError { expected: wire })
}

/// Decodes GBK without replacement and without BOM sniffing; false if malformed.
fn decode_gbk_into(bytes: &[u8], out: &mut String) -> bool {
    let mut decoder = encoding_rs::GBK.new_decoder_without_bom_handling();
    // `decode_to_string_*` never grows the String: reserve the worst case first.
    let need = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len() * 3 + 4);
    out.reserve(need);
    let (result, _read) = decoder.decode_to_string_without_replacement(bytes, out, true);
    result == DecoderResult::InputEmpty
}

/// Encodes `text`, refusing any character the charset cannot carry.
pub fn encode(text: &str, charset: Charset) -> Result<Vec<u8>, Unmappable> {
    let mut out = Vec::new();
    encode_into(text, charset, &mut out)?;
    Ok(out)
}

/// Like [`encode`], but appends to `out` so a caller can reuse one buffer.
/// On error `out` is left as it was.
pub fn encode_into(text: &str, charset: Charset, out: &mut Vec<u8>) -> Result<(), Unmappable> {
    // ASCII has the same bytes in both charsets: no encoder needed.
    if charset == Charset::Utf8 || text.is_ascii() {
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    }
    let start = out.len();
    let mut encoder = charset.encoding().new_encoder();
    // GBK never needs more than 2 bytes per char, but ask encoding_rs to be sure.
    let need = encoder
        .max_buffer_length_from_utf8_without_replacement(text.len())
        .unwrap_or(text.len() * 4);
    out.reserve(need);
    let (result, _read) = encoder.encode_from_utf8_to_vec_without_replacement(text, out, true);
    match result {
        EncoderResult::InputEmpty => Ok(()),
        EncoderResult::Unmappable(ch) => {
            out.truncate(start);
            Err(Unmappable { ch, charset })
        }
        // Cannot happen after the reserve above; treat it as a bug-free refusal anyway.
        EncoderResult::OutputFull => {
            out.truncate(start);
            Err(Unmappable {
                ch: '\u{FFFD}',
                charset,
            })
        }
    }
}

/// Like [`encode_into`], but a character the charset cannot carry becomes a visible `?`
/// rather than an error (or encoding_rs's silent `&#NNNN;`). For server texts that were
/// checked at start-up and so always encode; should one ever not, the customer still
/// gets a line.
pub fn encode_marking_unmappable(text: &str, charset: Charset, out: &mut Vec<u8>) {
    if encode_into(text, charset, out).is_err() {
        let mut buf = [0u8; 4];
        for ch in text.chars() {
            if encode_into(ch.encode_utf8(&mut buf), charset, out).is_err() {
                out.push(b'?');
            }
        }
    }
}

/// A fixed text whose GBK bytes are computed once per process, for a reply sent
/// thousands of times a second (encoding Chinese costs far more than copying it).
pub struct Phrase {
    text: &'static str,
    gbk: OnceLock<Vec<u8>>,
}

impl Phrase {
    /// A phrase for `text`; nothing is encoded until first use.
    pub const fn new(text: &'static str) -> Phrase {
        Phrase {
            text,
            gbk: OnceLock::new(),
        }
    }

    /// The text itself.
    pub fn text(&self) -> &'static str {
        self.text
    }

    /// The text's bytes in `charset`, as [`encode_marking_unmappable`] gives them.
    pub fn encoded(&self, charset: Charset) -> &[u8] {
        match charset {
            Charset::Utf8 => self.text.as_bytes(),
            Charset::Gbk => self.gbk.get_or_init(|| {
                let mut bytes = Vec::new();
                encode_marking_unmappable(self.text, Charset::Gbk, &mut bytes);
                bytes
            }),
        }
    }
}

/// Decodes a byte stream that arrives in arbitrary pieces, such as `recv` results.
///
/// A GBK or UTF-8 character split across two reads is held back until its second half
/// arrives. Invalid bytes become U+FFFD: the client only *shows* what it receives.
pub struct StreamDecoder {
    decoder: Decoder,
}

impl StreamDecoder {
    /// A decoder for `charset`, without BOM sniffing.
    pub fn new(charset: Charset) -> Self {
        StreamDecoder {
            decoder: charset.encoding().new_decoder_without_bom_handling(),
        }
    }

    /// Decodes `bytes` and appends the text to `out`. Pass `last = true` at end of stream
    /// so a dangling half character is reported as U+FFFD instead of kept forever.
    pub fn decode(&mut self, bytes: &[u8], out: &mut String, last: bool) {
        // `decode_to_string` never grows the String: reserve the worst case first.
        let need = self
            .decoder
            .max_utf8_buffer_length(bytes.len())
            .unwrap_or(bytes.len() * 3 + 4);
        out.reserve(need);
        let (result, read, _replaced) = self.decoder.decode_to_string(bytes, out, last);
        debug_assert_eq!(result, CoderResult::InputEmpty);
        debug_assert_eq!(read, bytes.len());
    }
}

/// Renders bytes like the debug assistant's hex view: `CE F7 B9 CF`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02X}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const GBK_XIGUA: &[u8] = b"\xce\xf7\xb9\xcf"; // 西瓜
    const UTF8_GUAZI: &[u8] = "瓜子".as_bytes();

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases spells out its tuple type
    fn decode_table() {
        use WireEncoding::*;
        let ok = |s: &str, c| Ok((s.to_string(), c));
        let err = |e| Err(DecodeError { expected: e });
        let cases: &[(&[u8], WireEncoding, Result<(String, Charset), DecodeError>)] = &[
            (GBK_XIGUA, Gbk, ok("西瓜", Charset::Gbk)),
            (GBK_XIGUA, Auto, ok("西瓜", Charset::Gbk)),
            (GBK_XIGUA, Utf8, err(Utf8)),
            (UTF8_GUAZI, Utf8, ok("瓜子", Charset::Utf8)),
            // UTF-8 瓜子 is valid GBK too: on its own, with no name to go by, auto keeps
            // the greeting's GBK, as the server does for a first message.
            (UTF8_GUAZI, Auto, ok("鐡滃瓙", Charset::Gbk)),
            ("可".as_bytes(), Auto, ok("可", Charset::Utf8)), // valid UTF-8 only
            (UTF8_GUAZI, Gbk, ok("鐡滃瓙", Charset::Gbk)),
            (b"abc", Gbk, ok("abc", Charset::Gbk)),
            (b"", Auto, ok("", Charset::Gbk)),
            (b"\xff\xfe\x80", Gbk, err(Gbk)),
            (b"\xff\xfe\x80", Auto, err(Auto)),
            (b"\xce", Gbk, err(Gbk)), // a lone GBK lead byte
            // In UTF-8 a BOM stays a visible U+FEFF rather than being swallowed.
            (b"\xef\xbb\xbfab", Utf8, ok("\u{feff}ab", Charset::Utf8)),
        ];
        for (bytes, wire, want) in cases {
            assert_eq!(&decode(bytes, *wire), want, "decode({bytes:?}, {wire:?})");
        }
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases spells out its tuple type
    fn encode_table() {
        let cases: &[(&str, Charset, Result<&[u8], char>)] = &[
            ("西瓜", Charset::Gbk, Ok(GBK_XIGUA)),
            ("西瓜", Charset::Utf8, Ok("西瓜".as_bytes())),
            ("a😀", Charset::Gbk, Err('😀')),
            ("😀", Charset::Utf8, Ok("😀".as_bytes())),
            ("。", Charset::Gbk, Ok(b"\xa1\xa3")),
            ("", Charset::Gbk, Ok(b"")),
        ];
        for (text, charset, want) in cases {
            let got = encode(text, *charset);
            match want {
                Ok(bytes) => assert_eq!(got.as_deref(), Ok(*bytes), "{text}"),
                Err(ch) => assert_eq!(
                    got,
                    Err(Unmappable {
                        ch: *ch,
                        charset: *charset
                    })
                ),
            }
        }
    }

    #[test]
    fn decode_strict_into_reuses_and_clears_the_buffer() {
        let mut buf = String::from("old");
        assert!(decode_strict_into(GBK_XIGUA, Charset::Gbk, &mut buf));
        assert_eq!(buf, "西瓜");
        assert!(!decode_strict_into(b"\xce", Charset::Gbk, &mut buf));
        assert_eq!(buf, "", "no half-decoded text is left behind");
        assert!(!decode_strict_into(b"\xe8\xa5", Charset::Utf8, &mut buf));
        assert_eq!(buf, "");
    }

    #[test]
    fn encode_into_leaves_buffer_alone_on_error() {
        let mut out = b"keep".to_vec();
        assert!(encode_into("瓜😀", Charset::Gbk, &mut out).is_err());
        assert_eq!(out, b"keep");
    }

    #[test]
    fn stream_decoder_joins_split_characters() {
        let whole = "西瓜,瓜子!";
        for charset in [Charset::Gbk, Charset::Utf8] {
            let bytes = encode(whole, charset).unwrap();
            for split in 0..=bytes.len() {
                let mut dec = StreamDecoder::new(charset);
                let mut out = String::new();
                dec.decode(&bytes[..split], &mut out, false);
                dec.decode(&bytes[split..], &mut out, true);
                assert_eq!(out, whole, "{charset} split at {split}");
            }
        }
    }

    #[test]
    fn a_bom_never_switches_the_decoder() {
        // UTF-8 and UTF-16LE byte order marks, each followed by text in that encoding.
        let utf8 = [b"\xef\xbb\xbf".as_slice(), "瓜子".as_bytes()].concat();
        let utf16 = b"\xff\xfe\x1c\x74\x50\x5b".to_vec(); // BOM + 瓜子 in UTF-16LE
        for bytes in [utf8, utf16] {
            let whole = decode(&bytes, WireEncoding::Gbk).map(|(t, _)| t);
            assert_ne!(whole.as_deref(), Ok("瓜子"), "{bytes:?}");
            let mut streamed = String::new();
            let mut dec = StreamDecoder::new(Charset::Gbk);
            for b in &bytes {
                dec.decode(std::slice::from_ref(b), &mut streamed, false);
            }
            dec.decode(&[], &mut streamed, true);
            assert!(!streamed.contains("瓜子"), "switched decoder: {streamed}");
        }
    }

    #[test]
    fn wire_encoding_parses() {
        for (s, want) in [
            ("gbk", Some(WireEncoding::Gbk)),
            ("GBK", Some(WireEncoding::Gbk)),
            ("utf-8", Some(WireEncoding::Utf8)),
            ("utf8", Some(WireEncoding::Utf8)),
            ("auto", Some(WireEncoding::Auto)),
            ("latin1", None),
        ] {
            assert_eq!(s.parse::<WireEncoding>().ok(), want, "{s}");
        }
    }

    #[test]
    fn a_phrase_has_the_bytes_of_its_text() {
        static PHRASE: Phrase = Phrase::new("购买成功,余额 -");
        for charset in [Charset::Gbk, Charset::Utf8] {
            assert_eq!(
                PHRASE.encoded(charset),
                encode(PHRASE.text(), charset).unwrap(),
                "{charset}"
            );
        }
    }

    #[test]
    fn marking_unmappable_shows_a_question_mark() {
        let mut out = Vec::new();
        encode_marking_unmappable("a😀瓜", Charset::Gbk, &mut out);
        assert_eq!(out, b"a?\xb9\xcf");
    }

    /// The names a test shop knows: 西瓜, 虾 and 统一 (whose GBK bytes are valid UTF-8),
    /// and the keywords.
    fn known(text: &str) -> bool {
        ["西瓜", "虾", "统一", "拜拜", "菜单"].contains(&text.trim())
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases spells out its tuple type
    fn auto_decision_table() {
        use Charset::{Gbk, Utf8};
        let gbk = |s: &str| encode(s, Gbk).unwrap();
        let utf8 = |s: &str| s.as_bytes().to_vec();
        // (what, bytes, current, expected charset and text; None = garbled)
        let cases: Vec<(&str, Vec<u8>, Charset, Option<(Charset, &str)>)> = vec![
            (
                "ASCII first: no evidence",
                b"cola".to_vec(),
                Gbk,
                Some((Gbk, "cola")),
            ),
            (
                "ASCII after GBK",
                b"cola".to_vec(),
                Gbk,
                Some((Gbk, "cola")),
            ),
            (
                "ASCII after UTF-8",
                b"cola".to_vec(),
                Utf8,
                Some((Utf8, "cola")),
            ),
            ("empty after GBK", Vec::new(), Gbk, Some((Gbk, ""))),
            ("empty after UTF-8", Vec::new(), Utf8, Some((Utf8, ""))),
            ("only GBK is valid", gbk("西瓜"), Utf8, Some((Gbk, "西瓜"))),
            (
                "only GBK is valid, unknown",
                gbk("可乐"),
                Utf8,
                Some((Gbk, "可乐")),
            ),
            ("only UTF-8 is valid", utf8("虾"), Gbk, Some((Utf8, "虾"))),
            // 虾 is CF BA in GBK, which is also UTF-8 `Ϻ`: the meaning decides.
            (
                "both valid, GBK reading known",
                gbk("虾"),
                Utf8,
                Some((Gbk, "虾")),
            ),
            (
                "both valid, GBK known, two chars",
                gbk("统一"),
                Utf8,
                Some((Gbk, "统一")),
            ),
            // UTF-8 西瓜 is also GBK `瑗跨摐`.
            (
                "both valid, UTF-8 reading known",
                utf8("西瓜"),
                Gbk,
                Some((Utf8, "西瓜")),
            ),
            (
                "both valid, keyword in UTF-8",
                utf8("菜单"),
                Gbk,
                Some((Utf8, "菜单")),
            ),
            (
                "both valid, keyword in UTF-8, current UTF-8",
                utf8("拜拜"),
                Utf8,
                Some((Utf8, "拜拜")),
            ),
            // No keyword's GBK bytes are valid UTF-8 (拜 is B0 DD): GBK alone decides.
            (
                "only GBK is valid, keyword",
                gbk("拜拜"),
                Utf8,
                Some((Gbk, "拜拜")),
            ),
            (
                "both valid, neither known: keep GBK",
                gbk("毛"),
                Gbk,
                Some((Gbk, "毛")),
            ),
            // 毛 is C3 AB in GBK, which is UTF-8 `ë`.
            (
                "both valid, neither known: keep UTF-8",
                gbk("毛"),
                Utf8,
                Some((Utf8, "ë")),
            ),
            ("valid in neither", b"\xff\xfe\x80".to_vec(), Gbk, None),
            ("valid in neither after UTF-8", b"\xce".to_vec(), Utf8, None),
        ];
        let (mut text, mut scratch) = (String::new(), String::new());
        for (what, bytes, current, want) in cases {
            let got = decide_auto(&bytes, current, known, &mut text, &mut scratch);
            match want {
                None => assert_eq!(got, None, "{what}"),
                Some((charset, want_text)) => {
                    assert_eq!(got, Some(charset), "{what}");
                    assert_eq!(text, want_text, "{what}");
                }
            }
        }
    }

    #[test]
    fn auto_with_both_readings_known_keeps_the_current_charset() {
        // A catalog under auto refuses such a pair (see `misreadings`); the rule must
        // still not guess: UTF-8 西瓜 is GBK 瑗跨摐, and both mean something here.
        let both = |t: &str| ["西瓜", "瑗跨摐"].contains(&t);
        let (mut text, mut scratch) = (String::new(), String::new());
        for (current, want) in [(Charset::Gbk, "瑗跨摐"), (Charset::Utf8, "西瓜")] {
            let got = decide_auto("西瓜".as_bytes(), current, both, &mut text, &mut scratch);
            assert_eq!(got, Some(current));
            assert_eq!(text, want, "{current}");
        }
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases spells out its tuple type
    fn wrong_charset_table() {
        use Charset::{Gbk, Utf8};
        let gbk = |s: &str| encode(s, Gbk).unwrap();
        let utf8 = |s: &str| s.as_bytes().to_vec();
        // (what, bytes, the shop's charset, the hint: the customer's charset and text)
        let cases: Vec<(&str, Vec<u8>, Charset, Option<(Charset, &str)>)> = vec![
            // UTF-8 西瓜 is valid GBK (瑗跨摐), but only the UTF-8 reading means something.
            (
                "UTF-8 item to a GBK shop",
                utf8("西瓜"),
                Gbk,
                Some((Utf8, "西瓜")),
            ),
            (
                "UTF-8 keyword to a GBK shop",
                utf8("菜单"),
                Gbk,
                Some((Utf8, "菜单")),
            ),
            (
                "GBK item to a UTF-8 shop",
                gbk("西瓜"),
                Utf8,
                Some((Gbk, "西瓜")),
            ),
            // 虾 in GBK is valid UTF-8 (Ϻ): known only as GBK.
            ("GBK 虾 to a UTF-8 shop", gbk("虾"), Utf8, Some((Gbk, "虾"))),
            // Not valid in the shop's charset, valid in the other: a hint even if unknown.
            (
                "undecodable, valid GBK",
                gbk("可乐"),
                Utf8,
                Some((Gbk, "可乐")),
            ),
            (
                "undecodable, valid UTF-8",
                utf8("可"),
                Gbk,
                Some((Utf8, "可")),
            ),
            // No false alarms.
            ("ASCII unknown", b"cola".to_vec(), Gbk, None),
            ("unknown in both", utf8("可乐"), Gbk, None),
            ("unknown in both, GBK", gbk("毛"), Utf8, None),
            ("valid in neither", b"\xff\xfe\x80".to_vec(), Gbk, None),
            (
                "valid in neither, UTF-8 shop",
                b"\xff\xfe\x80".to_vec(),
                Utf8,
                None,
            ),
        ];
        let mut out = String::new();
        for (what, bytes, expected, want) in cases {
            let got = wrong_charset(&bytes, expected, known, &mut out);
            assert_eq!(got, want.map(|(c, _)| c), "{what}");
            assert_eq!(out, want.map_or("", |(_, t)| t), "{what}");
        }
    }

    #[test]
    fn misreadings_go_both_ways() {
        assert_eq!(misreadings("西瓜"), [(Charset::Utf8, "瑗跨摐".to_string())]);
        assert_eq!(misreadings("瑗跨摐"), [(Charset::Gbk, "西瓜".to_string())]);
        assert_eq!(misreadings("虾"), [(Charset::Gbk, "\u{3FA}".to_string())]);
        assert_eq!(misreadings("cola"), []);
        assert_eq!(misreadings("可"), [], "3 UTF-8 bytes are never GBK");
    }

    #[test]
    fn hex_view() {
        assert_eq!(hex(GBK_XIGUA), "CE F7 B9 CF");
        assert_eq!(hex(b""), "");
    }
}
