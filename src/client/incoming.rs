//! What the controller reacts to: one queue, fed by the reader thread and by whichever
//! input front end runs (piped stdin or the line editor).

use std::io;
use std::sync::mpsc::SyncSender;

use super::hints::Hint;

/// Things the controller reacts to.
#[derive(Debug)]
pub enum Incoming {
    /// A message from the server, decoded and sanitized.
    Server(String),
    /// The first [`MAX_MESSAGE`](super::pieces::MAX_MESSAGE) bytes of an over-long message.
    Cut(String),
    /// An over-long message ended; this many bytes of it were dropped.
    Dropped(u64),
    /// A hint worth showing once.
    Hint(Hint),
    /// The server closed the connection cleanly.
    Closed,
    /// Reading from the server failed (a reset, mostly).
    Failed(io::Error),
    /// A line typed by the user.
    Input(String),
    /// A line of input that was refused before sending, with the reason.
    Refused(String),
    /// The user's input ended.
    InputEnd,
}

/// The sending half of the controller's event queue, for input front ends.
pub type Inbox = SyncSender<Incoming>;
