//! The goods catalog: `goods.toml` in, a validated list of items out.
//!
//! Prices are kept as integer fen ([`Price`]), never as floats, so 0.1 + 0.2 is always 0.3
//! and a running total never shows `6.499999`. Every validation error names the file and
//! the line, so a teacher editing the file on a Windows PC can find the mistake.
//!
//! The goods file is outside input too: only a regular file is read (a FIFO would hang
//! the start, `/dev/zero` would never end), and no more than [`MAX_FILE_BYTES`] of it.

use std::collections::HashSet;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::shop::words::RESERVED_WORDS;
use crate::wire::codec::{self, WireEncoding};

/// The catalog shipped with the project, built into the binary so that a bare
/// `shop-server` works from any directory.
pub const EMBEDDED: &str = include_str!("../../goods.toml");

/// Largest goods file read, in bytes. A catalog of 100,000 items is about 5 MiB; a file
/// larger than this is a mistake (the wrong file, a log), and is refused before it is
/// read into memory.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Characters no item name may contain: the greeting is `目前商店还有:瓜子(4.5),西瓜(2)。…`,
/// so a name with one of them would make the list ambiguous (`瓜子,西瓜(1)`).
pub const FORBIDDEN_IN_NAMES: &[char] = &[',', '(', ')', ':', '。'];

/// A sum of money in fen (1/100 yuan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Price(pub u64);

impl Price {
    /// Parses a decimal yuan amount such as `4.5`, `2` or `2.25`.
    /// At most two decimals; no sign, no exponent.
    pub fn parse_yuan(s: &str) -> Result<Price, String> {
        let s = s.trim();
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if s.starts_with('-') {
            return Err(format!("price must be >= 0, got {s}"));
        }
        if whole.is_empty()
            || !digits(whole)
            || !digits(frac)
            || (s.contains('.') && frac.is_empty())
        {
            return Err(format!("price `{s}` is not a decimal number like 4.5"));
        }
        if frac.len() > 2 {
            return Err(format!("price {s} has more than 2 decimals"));
        }
        let whole: u64 = whole
            .parse()
            .map_err(|_| format!("price {s} is too large"))?;
        let mut fen = 0;
        for (i, b) in frac.bytes().enumerate() {
            fen += u64::from(b - b'0') * if i == 0 { 10 } else { 1 };
        }
        whole
            .checked_mul(100)
            .and_then(|w| w.checked_add(fen))
            .map(Price)
            .ok_or_else(|| format!("price {s} is too large"))
    }

    /// Appends the same text as `Display` to `out`, as ASCII bytes (the same in GBK and
    /// UTF-8). The purchase reply uses it: it skips the formatting machinery, which was
    /// a tenth of the work of answering a purchase.
    pub fn push_ascii(self, out: &mut Vec<u8>) {
        let (yuan, fen) = (self.0 / 100, self.0 % 100);
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut rest = yuan;
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[start..]);
        if fen != 0 {
            out.extend_from_slice(&[b'.', b'0' + (fen / 10) as u8]);
            if fen % 10 != 0 {
                out.push(b'0' + (fen % 10) as u8);
            }
        }
    }

    /// Adds two amounts, saturating instead of wrapping (a total can never overflow
    /// into a small number).
    pub fn saturating_add(self, other: Price) -> Price {
        Price(self.0.saturating_add(other.0))
    }
}

/// The shortest decimal: 200 fen → `2`, 450 → `4.5`, 225 → `2.25`.
impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (yuan, fen) = (self.0 / 100, self.0 % 100);
        match (fen / 10, fen % 10) {
            (0, 0) => write!(f, "{yuan}"),
            (jiao, 0) => write!(f, "{yuan}.{jiao}"),
            (jiao, cents) => write!(f, "{yuan}.{jiao}{cents}"),
        }
    }
}

/// One item for sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What customers type to buy it.
    pub name: String,
    /// Price per piece.
    pub price: Price,
    /// How many can be sold in total; `None` means unlimited.
    pub stock: Option<u64>,
}

/// A validated catalog, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    items: Vec<Item>,
    source: String,
}

/// Why a catalog could not be used. Each variant displays as one line.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file could not be read at all.
    ///
    /// The OS error is part of the message and deliberately not a `source`: error
    /// chains (anyhow's `{:#}`) would print it a second time.
    #[error("{path}: cannot read goods file: {error}")]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// Why it failed.
        error: std::io::Error,
    },
    /// The path names something other than a regular file (a directory, a FIFO, a
    /// device such as `/dev/zero`), which is refused without reading it.
    #[error("{path}: cannot read goods file: it is {kind}, not a regular file")]
    NotAFile {
        /// The file that was asked for.
        path: PathBuf,
        /// What it is instead, such as `a directory`.
        kind: &'static str,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("{path}: goods file is larger than {limit} bytes; is it the right file?")]
    TooLarge {
        /// The file that was asked for.
        path: PathBuf,
        /// The limit, [`MAX_FILE_BYTES`].
        limit: u64,
    },
    /// The file was read but is not a valid catalog.
    #[error("{source_name}:{line}: {message}")]
    Invalid {
        /// The file name (or `<embedded goods.toml>`).
        source_name: String,
        /// 1-based line of the offending entry.
        line: usize,
        /// What is wrong, in one line.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    goods: Vec<Spanned<RawItem>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    name: Spanned<String>,
    price: Spanned<toml::Value>,
    stock: Option<Spanned<toml::Value>>,
}

impl Catalog {
    /// Finds and loads the catalog: `explicit` (from `--goods`) if given, else
    /// `./goods.toml` if it exists, else the embedded copy.
    pub fn load(explicit: Option<&Path>, wire: WireEncoding) -> Result<Catalog, CatalogError> {
        let local = Path::new("goods.toml");
        let path = match explicit {
            Some(path) => path,
            // Anything called goods.toml here is meant as the catalog: a directory or
            // a FIFO of that name is refused with a reason, not silently skipped.
            None if local.exists() => local,
            None => return Catalog::parse(EMBEDDED, "<embedded goods.toml>", wire),
        };
        let bytes = read_goods_file(path)?;
        let name = path.display().to_string();
        let text = String::from_utf8(bytes).map_err(|e| {
            // Notepad on a Chinese Windows may save as GBK ("ANSI"); say how to fix it.
            let at = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            CatalogError::Invalid {
                source_name: name.clone(),
                line,
                message:
                    "the file is not UTF-8 text; save it as UTF-8 (TOML requires it), not GBK/ANSI"
                        .into(),
            }
        })?;
        Catalog::parse(&text, &name, wire)
    }

    /// Parses and validates catalog text. `source_name` is used in error messages.
    pub fn parse(
        text: &str,
        source_name: &str,
        wire: WireEncoding,
    ) -> Result<Catalog, CatalogError> {
        let invalid = |offset: usize, message: String| CatalogError::Invalid {
            source_name: source_name.to_string(),
            line: line_of(text, offset),
            message,
        };
        let raw: RawCatalog = toml::from_str(text).map_err(|e| {
            if let Some(offset) = single_goods_header(text) {
                return invalid(
                    offset,
                    "`[goods]` with one pair of brackets is a single table; write `[[goods]]` \
                     (two pairs) before each item, as in the shipped goods.toml"
                        .into(),
                );
            }
            let offset = e.span().map_or(0, |s| s.start);
            invalid(offset, e.message().trim().replace('\n', " "))
        })?;
        if raw.goods.is_empty() {
            return Err(invalid(
                0,
                "no [[goods]] entries: the shop has nothing to sell".into(),
            ));
        }
        let mut seen = HashSet::new();
        let mut auto = (wire == WireEncoding::Auto).then(AutoClashes::new);
        let mut items = Vec::with_capacity(raw.goods.len());
        for entry in raw.goods {
            let raw = entry.into_inner();
            let at = raw.name.span().start;
            let name = raw.name.into_inner();
            validate_name(&name, wire).map_err(|m| invalid(at, m))?;
            if !seen.insert(name.clone()) {
                return Err(invalid(at, format!("duplicate name `{name}`")));
            }
            if let Some(auto) = &mut auto {
                auto.check(&name).map_err(|m| invalid(at, m))?;
            }
            let price = price_from_value(raw.price.get_ref())
                .map_err(|m| invalid(raw.price.span().start, m))?;
            let stock = match raw.stock {
                None => None,
                Some(v) => {
                    Some(stock_from_value(v.get_ref()).map_err(|m| invalid(v.span().start, m))?)
                }
            };
            items.push(Item { name, price, stock });
        }
        Ok(Catalog {
            items,
            source: source_name.to_string(),
        })
    }

    /// The items, in file order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Where the catalog came from (a path, or `<embedded goods.toml>`).
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Under `--encoding auto` a message valid in both GBK and UTF-8 is read as whichever
/// decoding names something (see [`crate::wire::auto::decide_auto`]). Two names where one's bytes in
/// one charset read as the other name in the other charset could never be told apart,
/// so such a catalog is refused. Keywords count as names here.
struct AutoClashes {
    /// Every name (and keyword) so far.
    names: HashSet<String>,
    /// What each earlier name reads as in the wrong charset: misreading -> (name, the
    /// charset whose bytes were misread).
    misread: std::collections::HashMap<String, (String, codec::Charset)>,
}

impl AutoClashes {
    fn new() -> Self {
        let mut clashes = AutoClashes {
            names: HashSet::new(),
            misread: std::collections::HashMap::new(),
        };
        for word in RESERVED_WORDS {
            clashes.add(word);
        }
        clashes
    }

    fn add(&mut self, name: &str) {
        for (charset, reading) in crate::wire::auto::misreadings(name) {
            self.misread.insert(reading, (name.to_string(), charset));
        }
        self.names.insert(name.to_string());
    }

    fn check(&mut self, name: &str) -> Result<(), String> {
        let clash = |a: &str, charset: codec::Charset, b: &str| {
            format!(
                "`{name}` clashes with `{other}` under --encoding auto: the {charset} bytes of `{a}` read as {} are `{b}`, so a message could mean either; rename one, or use --encoding gbk or utf-8",
                charset.other(),
                other = if a == name { b } else { a },
            )
        };
        if let Some((earlier, charset)) = self.misread.get(name) {
            return Err(clash(earlier, *charset, name));
        }
        for (charset, reading) in crate::wire::auto::misreadings(name) {
            if self.names.contains(&reading) {
                return Err(clash(name, charset, &reading));
            }
        }
        self.add(name);
        Ok(())
    }
}

/// Reads a goods file: a regular file of at most [`MAX_FILE_BYTES`], nothing else.
///
/// The type is checked before opening, since opening a FIFO for reading blocks until
/// a writer appears. On Unix the open itself does not block either (`O_NONBLOCK`, in
/// case the path is swapped for a FIFO in between), and the opened file is checked
/// again, so what is read is what was checked.
fn read_goods_file(path: &Path) -> Result<Vec<u8>, CatalogError> {
    let read_error = |error| CatalogError::Read {
        path: path.to_path_buf(),
        error,
    };
    let not_a_file = |kind| CatalogError::NotAFile {
        path: path.to_path_buf(),
        kind,
    };
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    if !metadata.is_file() {
        return Err(not_a_file(file_kind(&metadata)));
    }
    let file = open_without_blocking(path).map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    if !metadata.is_file() {
        return Err(not_a_file(file_kind(&metadata)));
    }
    let too_large = || CatalogError::TooLarge {
        path: path.to_path_buf(),
        limit: MAX_FILE_BYTES,
    };
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    // The length can change while reading (a file being written): read one byte past
    // the limit to notice, never more.
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

#[cfg(unix)]
fn open_without_blocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_without_blocking(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).open(path)
}

/// What a path that is not a regular file is, for the error message.
fn file_kind(metadata: &std::fs::Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "something else"
}

fn validate_name(name: &str, wire: WireEncoding) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("name must not be empty or only whitespace".into());
    }
    if name.trim() != name {
        return Err(format!(
            "name `{name}` has surrounding whitespace, so nobody could type it"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("name {name:?} contains a control character"));
    }
    if let Some(c) = name.chars().find(|c| FORBIDDEN_IN_NAMES.contains(c)) {
        return Err(format!(
            "name `{name}` contains `{c}`, which the greeting uses as punctuation \
             (目前商店还有:瓜子(4.5),西瓜(2)。), so the list would be ambiguous; \
             names must not contain , ( ) : or 。"
        ));
    }
    if RESERVED_WORDS.contains(&name) {
        return Err(format!("name `{name}` is a reserved word of the protocol"));
    }
    for &charset in wire.charsets() {
        if let Err(e) = codec::encode(name, charset) {
            return Err(format!(
                "name `{name}`: {e}, the wire encoding (--encoding {wire})"
            ));
        }
    }
    Ok(())
}

fn price_from_value(value: &toml::Value) -> Result<Price, String> {
    match value {
        toml::Value::Integer(i) if *i < 0 => Err(format!("price must be >= 0, got {i}")),
        toml::Value::Integer(i) => Price::parse_yuan(&i.to_string()),
        toml::Value::Float(f) if !f.is_finite() => Err(format!("price must be a number, got {f}")),
        toml::Value::Float(f) if *f < 0.0 => Err(format!("price must be >= 0, got {f}")),
        // Rust prints the shortest decimal that reads back as the same float, so `4.5`
        // in the file is `4.5` here and `2.255` stays `2.255` (and is refused).
        toml::Value::Float(f) => Price::parse_yuan(&format!("{f}")),
        toml::Value::String(s) => Err(format!(
            "price must be a number like 4.5, not the text \"{s}\": write it without quotes"
        )),
        other => Err(format!(
            "price must be a number like 4.5, got {}",
            other.type_str()
        )),
    }
}

fn stock_from_value(value: &toml::Value) -> Result<u64, String> {
    match value {
        toml::Value::Integer(i) => {
            u64::try_from(*i).map_err(|_| format!("stock must be >= 0, got {i}"))
        }
        other => Err(format!("stock must be a whole number, got {other}")),
    }
}

/// The byte offset of a `[goods]` header (one pair of brackets), the usual slip for
/// `[[goods]]`: TOML's own error for it ("invalid type: map, expected a sequence") does
/// not say what to do.
fn single_goods_header(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let code = line.split('#').next().unwrap_or_default().trim();
        let inner = code.strip_prefix('[').and_then(|c| c.strip_suffix(']'));
        if inner.is_some_and(|inner| inner.trim() == "goods") {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_parse_table() {
        let cases: &[(&str, Result<u64, &str>)] = &[
            ("4.5", Ok(450)),
            ("2", Ok(200)),
            ("2.25", Ok(225)),
            ("0", Ok(0)),
            ("0.05", Ok(5)),
            ("10.50", Ok(1050)),
            (" 3 ", Ok(300)),
            ("2.255", Err("more than 2 decimals")),
            ("-1", Err(">= 0")),
            ("abc", Err("not a decimal")),
            ("1e3", Err("not a decimal")),
            ("", Err("not a decimal")),
            (".5", Err("not a decimal")),
            ("5.", Err("not a decimal")),
            ("+5", Err("not a decimal")),
            ("99999999999999999999", Err("too large")),
            ("184467440737095517", Err("too large")),
        ];
        for (input, want) in cases {
            let got = Price::parse_yuan(input);
            match want {
                Ok(fen) => assert_eq!(got, Ok(Price(*fen)), "{input:?}"),
                Err(part) => {
                    let msg = got.expect_err(input);
                    assert!(msg.contains(part), "{input:?}: {msg}");
                }
            }
        }
    }

    #[test]
    fn price_format_table() {
        for (fen, want) in [
            (200, "2"),
            (450, "4.5"),
            (225, "2.25"),
            (0, "0"),
            (5, "0.05"),
            (50, "0.5"),
            (650, "6.5"),
            (1001, "10.01"),
        ] {
            assert_eq!(Price(fen).to_string(), want);
        }
    }

    #[test]
    fn push_ascii_matches_display() {
        let samples = (0..3000).chain([99_999, 100_000, 123_456_789, u64::MAX - 1, u64::MAX]);
        for fen in samples {
            let mut out = Vec::new();
            Price(fen).push_ascii(&mut out);
            assert_eq!(out, Price(fen).to_string().as_bytes(), "{fen}");
        }
    }

    #[test]
    fn price_round_trips() {
        for fen in 0..2000 {
            let p = Price(fen);
            assert_eq!(Price::parse_yuan(&p.to_string()), Ok(p));
        }
    }

    #[test]
    fn embedded_catalog_is_the_tutorial_one() {
        let c = Catalog::parse(EMBEDDED, "goods.toml", WireEncoding::Gbk).unwrap();
        let got: Vec<_> = c
            .items()
            .iter()
            .map(|i| (i.name.as_str(), i.price.0))
            .collect();
        assert_eq!(got, [("瓜子", 450), ("西瓜", 200), ("矿泉水", 250)]);
        assert!(c.items().iter().all(|i| i.stock.is_some_and(|s| s > 0)));
    }

    #[test]
    fn optional_stock() {
        let text = "[[goods]]\nname = \"a\"\nprice = 1.10\n[[goods]]\nname = \"b\"\nprice = 3\nstock = 0\n";
        let c = Catalog::parse(text, "t", WireEncoding::Gbk).unwrap();
        assert_eq!(
            c.items(),
            [
                Item {
                    name: "a".into(),
                    price: Price(110),
                    stock: None
                },
                Item {
                    name: "b".into(),
                    price: Price(300),
                    stock: Some(0)
                },
            ]
        );
    }

    #[test]
    fn validation_table() {
        let item =
            |name: &str, price: &str| format!("[[goods]]\nname = \"{name}\"\nprice = {price}\n");
        let two = |a: String, b: String| a + &b;
        // (text, wire, expected line, expected message part)
        let cases: Vec<(String, WireEncoding, usize, &str)> = vec![
            (
                two(item("瓜子", "1"), item("瓜子", "2")),
                WireEncoding::Gbk,
                5,
                "duplicate name `瓜子`",
            ),
            (item("瓜子", "-1"), WireEncoding::Gbk, 3, ">= 0"),
            (item("瓜子", "-0.5"), WireEncoding::Gbk, 3, ">= 0"),
            (
                item("瓜子", "2.255"),
                WireEncoding::Gbk,
                3,
                "more than 2 decimals",
            ),
            (
                item("瓜子", "true"),
                WireEncoding::Gbk,
                3,
                "must be a number",
            ),
            (item("", "1"), WireEncoding::Gbk, 2, "must not be empty"),
            (item(" 瓜子", "1"), WireEncoding::Gbk, 2, "whitespace"),
            (item("拜拜", "1"), WireEncoding::Gbk, 2, "reserved"),
            (
                item("😀", "1"),
                WireEncoding::Gbk,
                2,
                "cannot be encoded in GBK",
            ),
            (
                item("😀", "1"),
                WireEncoding::Auto,
                2,
                "cannot be encoded in GBK",
            ),
            (
                item("瓜子", "1") + "stock = -3\n",
                WireEncoding::Gbk,
                4,
                "stock must be >= 0",
            ),
            (
                item("瓜子", "1") + "stock = 1.5\n",
                WireEncoding::Gbk,
                4,
                "whole number",
            ),
            (
                item("瓜子", "1") + "colour = 1\n",
                WireEncoding::Gbk,
                4,
                "unknown field",
            ),
            (
                "[[goods]]\nname = \"x\"\n".into(),
                WireEncoding::Gbk,
                1,
                "missing field `price`",
            ),
            ("goods = [ oops".into(), WireEncoding::Gbk, 1, ""),
            ("".into(), WireEncoding::Gbk, 1, "nothing to sell"),
            (
                item("瓜子", "\"4.5\""),
                WireEncoding::Gbk,
                3,
                "without quotes",
            ),
            (
                item("瓜子", "\"abc\""),
                WireEncoding::Gbk,
                3,
                "not the text \"abc\"",
            ),
            (item("   ", "1"), WireEncoding::Gbk, 2, "only whitespace"),
            (
                item("\u{3000}", "1"),
                WireEncoding::Gbk,
                2,
                "only whitespace",
            ),
            (item("瓜子,西瓜", "1"), WireEncoding::Gbk, 2, "contains `,`"),
            (item("西瓜(大)", "1"), WireEncoding::Gbk, 2, "contains `(`"),
            (item("大)", "1"), WireEncoding::Gbk, 2, "contains `)`"),
            (item("a:b", "1"), WireEncoding::Gbk, 2, "contains `:`"),
            (item("好。", "1"), WireEncoding::Gbk, 2, "contains `。`"),
            (
                item("a\\tb", "1"),
                WireEncoding::Gbk,
                2,
                "control character",
            ),
            (
                item("a\\u0007", "1"),
                WireEncoding::Gbk,
                2,
                "control character",
            ),
            (
                "# list\n[goods]\nname = \"瓜子\"\nprice = 1\n".into(),
                WireEncoding::Gbk,
                2,
                "write `[[goods]]`",
            ),
            (
                item("瓜子", "1") + "[ goods ]  # oops\nname = \"西瓜\"\nprice = 1\n",
                WireEncoding::Gbk,
                4,
                "write `[[goods]]`",
            ),
        ];
        for (text, wire, line, part) in cases {
            match Catalog::parse(&text, "goods.toml", wire) {
                Err(CatalogError::Invalid {
                    source_name,
                    line: got,
                    message,
                }) => {
                    assert_eq!(source_name, "goods.toml");
                    assert!(message.contains(part), "{text:?}: {message}");
                    assert_eq!(got, line, "{text:?}: {message}");
                    assert!(!message.contains('\n'), "one line: {message:?}");
                }
                other => panic!("{text:?}: expected Invalid, got {other:?}"),
            }
        }
        // An emoji is fine over UTF-8.
        assert!(Catalog::parse(&item("😀", "1"), "t", WireEncoding::Utf8).is_ok());
    }

    #[test]
    fn a_gbk_saved_file_gets_a_hint_and_a_line() {
        let path = std::env::temp_dir().join(format!("snack-shop-gbk-{}.toml", std::process::id()));
        let text = "# goods\n[[goods]]\nname = \"瓜子\"\nprice = 1\n";
        std::fs::write(&path, codec::encode(text, codec::Charset::Gbk).unwrap()).unwrap();
        let err = Catalog::load(Some(&path), WireEncoding::Gbk)
            .unwrap_err()
            .to_string();
        let _ = std::fs::remove_file(&path);
        assert!(err.contains(":3: the file is not UTF-8"), "{err}");
        assert!(err.contains("save it as UTF-8"), "{err}");
    }

    #[test]
    fn only_regular_files_of_bounded_size_are_read() {
        let dir = std::env::temp_dir().join(format!("snack-shop-cat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = Catalog::load(Some(&dir), WireEncoding::Gbk).unwrap_err();
        assert!(
            matches!(
                err,
                CatalogError::NotAFile {
                    kind: "a directory",
                    ..
                }
            ),
            "{err}"
        );
        // A sparse file one byte over the limit: refused before reading.
        let big = dir.join("big.toml");
        let file = File::create(&big).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = Catalog::load(Some(&big), WireEncoding::Gbk).unwrap_err();
        assert!(matches!(err, CatalogError::TooLarge { .. }), "{err}");
        // Exactly at the limit is read (and then is not TOML).
        file.set_len(MAX_FILE_BYTES).unwrap();
        let err = Catalog::load(Some(&big), WireEncoding::Gbk).unwrap_err();
        assert!(matches!(err, CatalogError::Invalid { .. }), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
        #[cfg(unix)]
        {
            let err = Catalog::load(Some(Path::new("/dev/zero")), WireEncoding::Gbk).unwrap_err();
            assert_eq!(
                err.to_string(),
                "/dev/zero: cannot read goods file: it is a device, not a regular file"
            );
        }
    }

    #[test]
    fn unreadable_file_names_the_path() {
        let err =
            Catalog::load(Some(Path::new("/no/such/goods.toml")), WireEncoding::Gbk).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("/no/such/goods.toml: cannot read goods file"),
            "{msg}"
        );
    }
}
