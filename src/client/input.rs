//! Piped input: a session whose lines come from stdin (or a file), and the thread that
//! reads them one bounded line at a time, only when the controller asks for the next
//! one. On a terminal the line editor ([`super::editor`]) does this instead.

use std::io::{self, BufRead};
use std::net::TcpStream;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread;

use super::controller::Controller;
use super::ending::Ending;
use super::incoming::Incoming;
use super::names::Names;
use super::options::Options;
use super::reader::start_reader;
use super::screen::Screen;
use crate::wire::codec;

/// The longest line of input sent; longer lines are refused with a notice. Far above
/// any item name, and the server's own limit is lower still.
pub const MAX_INPUT_LINE: usize = 64 * 1024;

/// Runs a session with piped (non-terminal) input: reads `input` one line at a time
/// and shows everything on `screen`. Returns how it ended.
pub fn run<I, S>(stream: TcpStream, input: I, screen: &mut S, opts: &Options) -> io::Result<Ending>
where
    I: BufRead + Send + 'static,
    S: Screen,
{
    let (events, rx) = start_reader(&stream, opts)?;
    let (credit, credits) = mpsc::sync_channel(1);
    thread::Builder::new()
        .name("stdin-reader".into())
        .spawn(move || read_input(input, &events, &credits))?;
    Controller::new(stream, rx, Some(credit), Names::default(), opts)?.run(screen)
}

/// The piped input thread: one event per line, each read only after the controller
/// granted a credit (so a long file is never read ahead into memory).
fn read_input(mut input: impl BufRead, events: &SyncSender<Incoming>, credits: &Receiver<()>) {
    let mut line = Vec::new();
    loop {
        line.clear();
        let event = match read_bounded_line(&mut input, &mut line) {
            Ok(None) | Err(_) => break,
            Ok(Some(false)) => Incoming::Refused(format!(
                "这一行超过 {} KiB,没有发送。 · Line longer than {} KiB not sent.",
                MAX_INPUT_LINE / 1024,
                MAX_INPUT_LINE / 1024
            )),
            Ok(Some(true)) => {
                let text = line.strip_suffix(b"\n").unwrap_or(&line);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                match std::str::from_utf8(text) {
                    Ok(text) => Incoming::Input(text.to_string()),
                    Err(_) => Incoming::Refused(invalid_utf8_notice(text)),
                }
            }
        };
        if events.send(event).is_err() {
            return;
        }
        // The controller grants a credit once it sent (or refused) this line.
        if credits.recv().is_err() {
            return;
        }
    }
    let _ = events.send(Incoming::InputEnd);
}

/// The notice for input that is not UTF-8.
pub fn invalid_utf8_notice(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(16)];
    format!(
        "输入的这一行不是有效的 UTF-8(字节 {}{}),没有发送。请把终端或文件的编码设为 \
         UTF-8。 · Input is not valid UTF-8; line not sent.",
        codec::hex(shown),
        if bytes.len() > shown.len() {
            " …"
        } else {
            ""
        }
    )
}

/// Reads one line of at most [`MAX_INPUT_LINE`] bytes into `line`. `Ok(None)` at end
/// of input, `Ok(Some(false))` if the line was too long (it is skipped).
fn read_bounded_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<bool>> {
    let mut too_long = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(if line.is_empty() && !too_long {
                None
            } else {
                Some(!too_long)
            });
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            if line.len() + take > MAX_INPUT_LINE + 1 {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(&chunk[..take]);
            }
        }
        input.consume(take);
        if done {
            return Ok(Some(!too_long));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines() {
        let long = "x".repeat(MAX_INPUT_LINE + 10);
        let text = format!("a\r\n{long}\nb");
        let mut input = text.as_bytes();
        let mut line = Vec::new();
        let mut got = Vec::new();
        loop {
            line.clear();
            match read_bounded_line(&mut input, &mut line).unwrap() {
                None => break,
                Some(ok) => got.push((ok, String::from_utf8(line.clone()).unwrap())),
            }
        }
        assert_eq!(
            got,
            [
                (true, "a\r\n".to_string()),
                (false, String::new()),
                (true, "b".to_string())
            ]
        );
    }
}
