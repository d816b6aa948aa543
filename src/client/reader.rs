//! The reader thread: the server's bytes in, decoded and sanitized messages out to the
//! controller, through a bounded queue. When the display is behind, the queue fills,
//! the reader stops reading, and TCP tells the server to wait.

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread;

use super::hints::{self, Hint};
use super::incoming::{Inbox, Incoming};
use super::options::{Eol, Options};
use super::pieces::{Piece, PieceEnd, Splitter};
use super::sanitize::sanitize;
use crate::wire::codec::{Charset, StreamDecoder};
use crate::wire::{self, FLUSH_AFTER};

/// Server events queued for the display. With
/// [`MAX_MESSAGE`](super::pieces::MAX_MESSAGE) per message this bounds the queue to a
/// few MiB; when it is full the reader stops reading.
pub const SERVER_QUEUE: usize = 16;

/// Starts the reader thread for `stream` and returns the event queue it feeds.
pub fn start_reader(stream: &TcpStream, opts: &Options) -> io::Result<(Inbox, Receiver<Incoming>)> {
    let (events, rx) = mpsc::sync_channel(SERVER_QUEUE);
    let reader = stream.try_clone()?;
    reader.set_read_timeout(Some(FLUSH_AFTER))?;
    let (charset, eol) = (opts.charset, opts.eol);
    let server_events = events.clone();
    thread::Builder::new()
        .name("server-reader".into())
        .spawn(move || read_server(reader, charset, eol, &server_events))?;
    Ok((events, rx))
}

/// The reader thread: splits, decodes and sanitizes what the server sends. Blocks
/// (and so stops reading) whenever the controller's queue is full.
fn read_server(mut stream: TcpStream, charset: Charset, eol: Eol, events: &SyncSender<Incoming>) {
    let mut splitter = Splitter::default();
    let mut buf = vec![0u8; 16 * 1024];
    let mut hinted_encoding = false;
    // Settled once the hint was given, or once the server ended a line with `\n`: then
    // it frames its messages, and a later one without a newline is only a pause in
    // the middle of a line (a slow server, or one that died mid-line).
    let mut eol_settled = eol == Eol::None;
    // Sends one piece, then the hints it gave rise to; false once the controller is gone.
    let mut deliver = |piece: Piece, events: &SyncSender<Incoming>| -> bool {
        let mut found = [None, None];
        let event = match piece {
            Piece::Message(bytes, end) => {
                if !hinted_encoding && let Some(other) = hints::wrong_encoding(&bytes, charset) {
                    hinted_encoding = true;
                    found[0] = Some(Hint::Encoding(other));
                }
                if end == PieceEnd::Newline {
                    eol_settled = true;
                } else if !eol_settled && !bytes.is_empty() {
                    eol_settled = true;
                    found[1] = Some(Hint::EolNone);
                }
                Incoming::Server(display(&bytes, charset))
            }
            Piece::Cut(bytes) => Incoming::Cut(display(&bytes, charset)),
            Piece::Dropped(n, _) => Incoming::Dropped(n),
        };
        events.send(event).is_ok()
            && found
                .into_iter()
                .flatten()
                .all(|h| events.send(Incoming::Hint(h)).is_ok())
    };
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if wire::is_timeout(&e) => {
                // A quiet pause ends a message that came without a newline.
                let mut alive = true;
                splitter.flush(&mut |f| alive = alive && deliver(f, events));
                if !alive {
                    return;
                }
                continue;
            }
            Err(e) => {
                let mut alive = true;
                splitter.flush(&mut |f| alive = alive && deliver(f, events));
                let _ = events.send(Incoming::Failed(e));
                return;
            }
        };
        let mut alive = true;
        if n == 0 {
            splitter.flush(&mut |f| alive = alive && deliver(f, events));
            let _ = events.send(Incoming::Closed);
            return;
        }
        splitter.push(&buf[..n], &mut |f| alive = alive && deliver(f, events));
        if !alive {
            return;
        }
    }
}

/// Decodes one message for display: invalid bytes become U+FFFD, controls escapes.
fn display(bytes: &[u8], charset: Charset) -> String {
    let mut text = String::new();
    StreamDecoder::new(charset).decode(bytes, &mut text, true);
    match sanitize(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(safe) => safe,
    }
}
