//! The goods catalog: `goods.toml` in, a validated list of items out.
//!
//! Prices are kept as integer fen ([`Price`]), never as floats, so 0.1 + 0.2 is always 0.3
//! and a running total never shows `6.499999`. Every validation error names the file and
//! the line, so a teacher editing the file on a Windows PC can find the mistake.
//!
//! The file itself is read by [`super::goods_file`], which bounds what it reads.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::auto_clashes::AutoClashes;
pub use super::goods_file::MAX_FILE_BYTES;
use super::goods_file::read_goods_file;
pub use super::price::Price;
use crate::shop::words::RESERVED_WORDS;
use crate::wire::codec::{self, WireEncoding};

/// The goods file looked for in the current directory when `--goods` is not given.
pub const LOCAL_GOODS: &str = "goods.toml";

/// The catalog shipped with the project, built into the binary so that a bare
/// `shop-server` works from any directory.
pub const EMBEDDED: &str = include_str!("../../goods.toml");

/// Characters no item name may contain: the greeting is `目前商店还有:瓜子(4.5),西瓜(2)。…`,
/// so a name with one of them would make the list ambiguous (`瓜子,西瓜(1)`).
pub const FORBIDDEN_IN_NAMES: &[char] = &[',', '(', ')', ':', '。'];

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
        let local = Path::new(LOCAL_GOODS);
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
    use std::fs::File;

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
