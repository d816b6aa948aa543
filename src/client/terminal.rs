//! The terminal's own state, for leaving it as we found it.
//!
//! When the server ends the session while rustyline holds the terminal in raw mode,
//! the client exits from another thread, so rustyline's guard never runs. These
//! helpers restore the saved mode and drop whatever was typed but not yet read, so it
//! does not land in the shell afterwards.

use std::io;

use nix::sys::termios::{self, FlushArg, SetArg, Termios};

/// The terminal mode saved at start.
pub struct Saved(Termios);

/// Saves the mode of the terminal on stdin, if stdin is one.
pub fn save() -> Option<Saved> {
    termios::tcgetattr(io::stdin()).ok().map(Saved)
}

impl Saved {
    /// Puts the saved mode back.
    pub fn restore(&self) {
        let _ = termios::tcsetattr(io::stdin(), SetArg::TCSANOW, &self.0);
    }
}

/// Throws away input typed but not yet read.
pub fn discard_typed_ahead() {
    let _ = termios::tcflush(io::stdin(), FlushArg::TCIFLUSH);
}
