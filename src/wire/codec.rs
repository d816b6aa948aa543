//! Text to bytes and back, strictly: decoding and encoding GBK and UTF-8, a phrase
//! encoded once, a decoder for a stream that arrives in pieces, and the hex view.
//!
//! Two traps this module exists to avoid (乱码):
//! - `encoding_rs::GBK.encode("😀")` silently yields `&#128512;`. [`encode`] refuses
//!   unmappable text instead, so a name or reply that cannot travel is caught, not mangled.
//! - A byte order mark silently switches an `encoding_rs` decoder to UTF-8 or UTF-16.
//!   Every decoder here is created *without* BOM handling, so a BOM is just bytes.

use std::sync::OnceLock;

use encoding_rs::{CoderResult, Decoder, DecoderResult, EncoderResult};

use crate::wire::auto::decide_auto;
/// The charsets these functions take, re-exported so that one `use` of `codec` brings
/// them along.
pub use crate::wire::charset::{Charset, WireEncoding};

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

/// Decodes one whole message on its own, without a connection: in the charset of a
/// fixed `wire`, or, with [`WireEncoding::Auto`], by the server's rule
/// (`auto::decide_auto`) for a first message that names nothing: valid in only one
/// charset, that one; valid in both, GBK, the greeting's. For tests and tools; the
/// server keeps per-connection state and calls `auto::decide_auto` itself.
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

    #[test]
    fn hex_view() {
        assert_eq!(hex(GBK_XIGUA), "CE F7 B9 CF");
        assert_eq!(hex(b""), "");
    }
}
