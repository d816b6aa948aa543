//! Where the controller shows things, and the prefixes that say who is speaking.

use std::io::{self, Write};

/// Prefix of every server message shown, as in the tutorial's transcript.
pub const SERVER_PREFIX: &str = "【服务器】";
/// The prompt on a terminal, and the prefix of sent lines in a piped transcript.
pub const PROMPT: &str = "【客户端】";
/// Prefix of the client's own notices.
pub const NOTICE_PREFIX: &str = "【提示】";

/// Where the controller shows things: stdout, or the line editor's printer that keeps
/// the line being typed intact.
pub trait Screen {
    /// Shows one line (without its `\n`).
    fn line(&mut self, text: &str) -> io::Result<()>;
}

/// A [`Screen`] over any writer (stdout, or a `Vec<u8>` in tests).
pub struct Plain<W: Write>(pub W);

impl<W: Write> Screen for Plain<W> {
    fn line(&mut self, text: &str) -> io::Result<()> {
        self.0.write_all(text.as_bytes())?;
        self.0.write_all(b"\n")?;
        self.0.flush()
    }
}
