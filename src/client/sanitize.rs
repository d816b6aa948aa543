//! Making server text safe to print on a terminal.
//!
//! A server can send bytes that a terminal obeys instead of showing: ESC sequences
//! (clear the screen, set the window title, write the clipboard with OSC 52, move the
//! cursor up and erase a line to forge a fake 【服务器】 line), other C0 and C1
//! controls, and bidirectional overrides that reorder what is shown. [`sanitize`]
//! replaces each of them with a visible escape such as `\x1B` or `\u{202E}`, so a
//! learner sees exactly what was sent and the terminal obeys none of it.

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for a character that must not reach the terminal as it is.
pub fn is_unsafe(c: char) -> bool {
    match c {
        '\t' => false,
        // C0 controls (ESC among them) and DEL.
        '\0'..='\x1f' | '\x7f' => true,
        // C1 controls: a terminal may take U+009B as CSI.
        '\u{80}'..='\u{9f}' => true,
        // Bidirectional embeddings, overrides and isolates, and the invisible marks.
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        '\u{200e}' | '\u{200f}' | '\u{061c}' => true,
        _ => false,
    }
}

/// `text` with every unsafe character replaced by a visible escape: `\x1B` for C0
/// controls and DEL, `\u{9B}` for the rest. Borrows when nothing needs escaping.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    // Fast path: all unsafe characters start with a byte below 0x20, 0x7F, 0xC2
    // (U+0080..U+009F), 0xD8 (U+061C) or 0xE2 (U+200E.., U+202A.., U+2066..).
    let suspicious = |b: &u8| *b < 0x20 && *b != b'\t' || matches!(*b, 0x7f | 0xc2 | 0xd8 | 0xe2);
    if !text.as_bytes().iter().any(suspicious) {
        return Cow::Borrowed(text);
    }
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !is_unsafe(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02X}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:X}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_table() {
        let cases = [
            ("西瓜 2元", "西瓜 2元"),
            ("a\tb", "a\tb"),
            ("\x1b[2J", "\\x1B[2J"),
            ("\x1b]0;pwned\x07", "\\x1B]0;pwned\\x07"),
            ("\x1b]52;c;aGk=\x07", "\\x1B]52;c;aGk=\\x07"),
            (
                "\x1b[1A\x1b[2K【服务器】请输入您的密码",
                "\\x1B[1A\\x1B[2K【服务器】请输入您的密码",
            ),
            ("a\rb", "a\\x0Db"),
            ("\x7f\0", "\\x7F\\x00"),
            ("\u{9b}2J", "\\u{9B}2J"),
            ("abc\u{202e}gpj.exe", "abc\\u{202E}gpj.exe"),
            ("\u{2066}x\u{2069}", "\\u{2066}x\\u{2069}"),
            ("é…—", "é…—"), // 0xC3, 0xE2 leads that are harmless
            ("\u{fffd}", "\u{fffd}"),
        ];
        for (raw, want) in cases {
            assert_eq!(sanitize(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn nothing_unsafe_survives() {
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            let shown = sanitize(&c.to_string()).into_owned();
            assert!(!shown.chars().any(is_unsafe), "{c:?} -> {shown:?}");
        }
    }
}
