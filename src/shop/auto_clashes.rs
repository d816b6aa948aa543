//! Names that `--encoding auto` could not tell apart, refused when the catalog loads.

use std::collections::{HashMap, HashSet};

use super::words::RESERVED_WORDS;
use crate::wire::codec::Charset;

/// Under `--encoding auto` a message valid in both GBK and UTF-8 is read as whichever
/// decoding names something (see [`crate::wire::auto::decide_auto`]). Two names where one's bytes in
/// one charset read as the other name in the other charset could never be told apart,
/// so such a catalog is refused. Keywords count as names here.
pub(super) struct AutoClashes {
    /// Every name (and keyword) so far.
    names: HashSet<String>,
    /// What each earlier name reads as in the wrong charset: misreading -> (name, the
    /// charset whose bytes were misread).
    misread: HashMap<String, (String, Charset)>,
}

impl AutoClashes {
    pub(super) fn new() -> Self {
        let mut clashes = AutoClashes {
            names: HashSet::new(),
            misread: HashMap::new(),
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

    pub(super) fn check(&mut self, name: &str) -> Result<(), String> {
        let clash = |a: &str, charset: Charset, b: &str| {
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
