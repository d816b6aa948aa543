//! Which charset a message is in, when bytes alone cannot say.
//!
//! Under `--encoding auto` each message is read in the charset it arrived in
//! ([`decide_auto`]); under a fixed encoding a message in the other charset earns a hint
//! ([`wrong_charset`]); and catalog names that would be mistaken for each other are
//! found beforehand ([`misreadings`]). About 930 GB2312 characters are valid UTF-8 as
//! GBK bytes, so where both readings are valid the shop's own words decide.

use crate::wire::charset::Charset;
use crate::wire::codec::{decode_strict_into, encode};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
