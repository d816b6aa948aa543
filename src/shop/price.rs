//! Money as integer fen (1/100 yuan), never floats, so 0.1 + 0.2 is always 0.3 and a
//! running total never shows `6.499999`.

use std::fmt;

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
}
