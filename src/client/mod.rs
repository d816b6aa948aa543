//! The shop client: lines from a terminal (or a pipe) to the shop, replies back.
//!
//! Threads and queues, all bounded:
//!
//! - the *reader* thread (`reader.rs`) splits the server's bytes into messages
//!   (`pieces.rs`), decodes and sanitizes them (`sanitize.rs`) and hands them to the
//!   controller. When the display is behind, its queue fills, the reader stops reading,
//!   and TCP tells the server to wait;
//! - the *input* thread (`input.rs`, which also runs a piped session) reads stdin one
//!   line at a time, only when the controller asks for the next one; on a terminal the
//!   line editor ([`editor`], with its printer in `printer.rs`) does this;
//! - the *controller* (`controller.rs`) owns the output (`screen.rs`) and the socket's
//!   write side, and sends one line at a time. What it reacts to is in `incoming.rs`.
//!
//! `options.rs` holds what the binary sets; every way a session ends is an [`Ending`]
//! (`ending.rs`) with its own notice and exit code. [`address`] parses where to connect,
//! `names.rs` remembers item names for completion, `hints.rs` spots a wrong encoding or
//! line ending.

pub mod address;
mod controller;
pub mod editor;
mod ending;
mod hints;
mod incoming;
mod input;
mod names;
mod options;
mod pieces;
mod printer;
mod reader;
mod sanitize;
mod screen;
#[cfg(unix)]
mod terminal;

pub use ending::{Ending, os_reason};
pub use input::run;
pub use options::{Eol, LEAVE_WITHIN, MAX_REPLY_WAIT, Options, parse_reply_wait, parse_seconds};
pub use screen::{NOTICE_PREFIX, Plain, Screen};

/// Throws away what was typed on a terminal but not read, so it does not land in the
/// shell after the client exits. Does nothing when stdin is not a terminal.
pub fn discard_typed_ahead() {
    #[cfg(unix)]
    terminal::discard_typed_ahead();
}
