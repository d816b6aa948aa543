//! The goods catalog: `goods.toml` in, a validated list of items out.
//!
//! Prices are kept as integer fen ([`Price`]), never as floats, so 0.1 + 0.2 is always 0.3
//! and a running total never shows `6.499999`. Every validation error names the file and
//! the line, so a teacher editing the file on a Windows PC can find the mistake.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::codec::{self, WireEncoding};
use crate::words::RESERVED_WORDS;

/// The catalog shipped with the project, built into the binary so that a bare
/// `shop-server` works from any directory.
pub const EMBEDDED: &str = include_str!("../goods.toml");

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
    #[error("{path}: cannot read goods file: {source}")]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
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
            None if local.is_file() => local,
            None => return Catalog::parse(EMBEDDED, "<embedded goods.toml>", wire),
        };
        let bytes = std::fs::read(path).map_err(|source| CatalogError::Read {
            path: path.to_path_buf(),
            source,
        })?;
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
/// decoding names something (see [`codec::decide_auto`]). Two names where one's bytes in
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
        for (charset, reading) in codec::misreadings(name) {
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
        for (charset, reading) in codec::misreadings(name) {
            if self.names.contains(&reading) {
                return Err(clash(name, charset, &reading));
            }
        }
        self.add(name);
        Ok(())
    }
}

fn validate_name(name: &str, wire: WireEncoding) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("name must not be empty".into());
    }
    if name.trim() != name {
        return Err(format!(
            "name `{name}` has surrounding whitespace, so nobody could type it"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("name {name:?} contains a control character"));
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
        toml::Value::String(s) => Price::parse_yuan(s),
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
    fn optional_stock_and_string_prices() {
        let text = "[[goods]]\nname = \"a\"\nprice = \"1.10\"\n[[goods]]\nname = \"b\"\nprice = 3\nstock = 0\n";
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
