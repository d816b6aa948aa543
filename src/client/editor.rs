//! The terminal front end: rustyline for editing, history and completion.
//!
//! rustyline gives arrows, Home/End, Backspace over wide characters, history with
//! Up/Down and Ctrl-R, and Tab completion of the item names seen so far
//! (`names.rs`). Server messages go through its `ExternalPrinter`, which
//! prints them above the prompt and redraws the line being typed.
//!
//! The printer's queue holds one message, and only `readline` empties it: once
//! `readline` has returned, a `print` that found the queue full blocks until the next
//! `readline`. So two rules keep the threads from waiting on each other:
//! - the line editor never blocks on the controller: typed lines go through their own
//!   bounded queue and a forwarding thread (`forward`), so `readline` runs again at
//!   once, whatever the controller is doing;
//! - the controller never waits for the printer once the user left: a printing thread
//!   owns it (`Printed`, in `printer.rs`), and after the user left the controller writes to the
//!   terminal itself (no `readline` runs any more, so the terminal is in its normal
//!   mode).
//!
//! A slow or paused terminal still slows the server reader down: the printing thread
//! waits, the controller waits for it, and the reader's queue fills.
//!
//! Ctrl-D, or Ctrl-C at an empty prompt, leaves; Ctrl-C with text typed clears the line.

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread;
use std::time::{Duration, Instant};

use rustyline::completion::{Completer, Pair};
use rustyline::config::Config;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{
    Cmd, CompletionType, ConditionalEventHandler, Context, Editor, Event as KeyEventOf,
    EventContext, EventHandler, Helper, KeyEvent, Movement, RepeatCount,
};

use super::controller::Controller;
use super::incoming::{Inbox, Incoming};
use super::names::Names;
use super::options::{LEAVE_WITHIN, MAX_TYPED_AHEAD, Options};
use super::printer::Printed;
use super::reader::start_reader;
use super::screen::{NOTICE_PREFIX, PROMPT, Screen};

/// Lines of history kept (in memory only).
pub const HISTORY_LINES: usize = 1000;
/// Exit code when the terminal itself cannot be written to (as for other local errors).
const OUTPUT_FAILED: u8 = 1;
/// How long to let the editor print the last messages before the terminal is restored.
const LAST_PRINT_GRACE: Duration = Duration::from_millis(150);

/// Completion of item names and the two commands.
struct ShopHelper {
    names: Names,
}

impl Completer for ShopHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        // Item names may contain spaces: complete the whole line up to the cursor.
        let typed = &line[..pos];
        let start = typed.len() - typed.trim_start().len();
        let candidates = self
            .names
            .completions(&typed[start..])
            .into_iter()
            .map(|name| Pair {
                display: name.clone(),
                replacement: name,
            })
            .collect();
        Ok((start, candidates))
    }
}

impl Hinter for ShopHelper {
    type Hint = String;
}
impl Highlighter for ShopHelper {}
impl Validator for ShopHelper {}
impl Helper for ShopHelper {}

/// Ctrl-C: leave at an empty prompt, clear the line otherwise (as shells do).
struct CtrlC;

impl ConditionalEventHandler for CtrlC {
    fn handle(
        &self,
        _evt: &KeyEventOf,
        _n: RepeatCount,
        _positive: bool,
        ctx: &EventContext,
    ) -> Option<Cmd> {
        if ctx.line().is_empty() {
            Some(Cmd::Interrupt)
        } else {
            Some(Cmd::Kill(Movement::WholeLine))
        }
    }
}

/// Runs an interactive session on the terminal. Returns only if the editor cannot be
/// set up (then nothing has been read or shown yet); otherwise the process exits with
/// the session's [`super::Ending::exit_code`].
pub fn run(stream: TcpStream, opts: &Options) -> io::Result<()> {
    let to_io = |e: ReadlineError| io::Error::other(e.to_string());
    #[cfg(unix)]
    let saved = super::terminal::save();
    let config = Config::builder()
        .auto_add_history(true)
        .history_ignore_dups(true)
        .map_err(to_io)?
        .max_history_size(HISTORY_LINES)
        .map_err(to_io)?
        .completion_type(CompletionType::List)
        .build();
    let mut editor: Editor<ShopHelper, DefaultHistory> =
        Editor::with_config(config).map_err(to_io)?;
    let names = Names::default();
    editor.set_helper(Some(ShopHelper {
        names: names.clone(),
    }));
    editor.bind_sequence(
        KeyEvent::ctrl('C'),
        EventHandler::Conditional(Box::new(CtrlC)),
    );
    let printer = editor.create_external_printer().map_err(to_io)?;
    let mut screen = Printed::start(printer)?;
    let left = screen.clone();
    let (events, rx) = start_reader(&stream, opts)?;
    let opts = Options {
        leave_within: Some(LEAVE_WITHIN),
        ..opts.clone()
    };
    let (typed, typed_rx) = mpsc::sync_channel(MAX_TYPED_AHEAD);
    thread::Builder::new()
        .name("typed-lines".into())
        .spawn(move || forward(&typed_rx, &events))?;
    thread::Builder::new()
        .name("controller".into())
        .spawn(move || {
            let result =
                Controller::new(stream, rx, None, names, &opts).and_then(|c| c.run(&mut screen));
            let (text, code) = match result {
                Ok(ending) => (
                    format!("{NOTICE_PREFIX}{}", ending.notice()),
                    ending.exit_code(),
                ),
                Err(e) => (
                    format!("{NOTICE_PREFIX}终端输出失败:{e} · Output failed: {e}"),
                    OUTPUT_FAILED,
                ),
            };
            // Print through the editor so the line being typed is not garbled, give
            // it a moment, then leave the terminal as we found it.
            let _ = screen.line(&text);
            thread::sleep(LAST_PRINT_GRACE);
            #[cfg(unix)]
            {
                if let Some(saved) = &saved {
                    saved.restore();
                }
                super::terminal::discard_typed_ahead();
            }
            // Clear the redrawn prompt line and turn bracketed paste off again.
            let mut out = io::stdout();
            let _ = out.write_all(b"\r\x1b[K\x1b[?2004l");
            let _ = out.flush();
            std::process::exit(i32::from(code));
        })?;
    let mut last_refusal: Option<Instant> = None;
    loop {
        let event = match editor.readline(PROMPT) {
            Ok(line) => {
                if !hand_over(&typed, pasted_lines(&line).into_iter().map(Incoming::Input)) {
                    break;
                }
                continue;
            }
            Err(ReadlineError::Eof | ReadlineError::Interrupted) => break,
            Err(ReadlineError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => {
                // One bad key press can yield several errors: say it once.
                if last_refusal.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
                    continue;
                }
                last_refusal = Some(Instant::now());
                Incoming::Refused(
                    "终端发来的不是有效的 UTF-8,这一行没有发送。请把终端的编码设为 UTF-8。 \
                     · The terminal sent invalid UTF-8; line not sent."
                        .to_string(),
                )
            }
            Err(_) => break,
        };
        if !hand_over(&typed, [event]) {
            break;
        }
    }
    // The user left. From now on the controller writes to the terminal itself; then
    // it may wait for this last event, which `forward` delivers.
    left.go_direct();
    let _ = typed.send(Incoming::InputEnd);
    // The controller finishes the session and exits the process.
    loop {
        thread::park();
    }
}

/// The lines in what `readline` returned. A paste of several lines arrives as one,
/// newlines inside (and usually one at the end): each goes out as its own message,
/// awaited like typed ones, and the paste's last newline is not an extra empty line.
fn pasted_lines(line: &str) -> Vec<String> {
    let mut lines: Vec<String> = line
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect();
    if lines.len() > 1 && lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// Queues typed events for [`forward`]; false once the controller is gone. Never waits
/// for the controller: it may be waiting for `readline`.
fn hand_over(typed: &SyncSender<Incoming>, events: impl IntoIterator<Item = Incoming>) -> bool {
    for event in events {
        match typed.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                // No `readline` runs now, so this can go straight to the terminal.
                println!(
                    "{NOTICE_PREFIX}输入太快了,这一行没有发送。 · Typed too far ahead; line \
                     not sent."
                );
            }
            Err(TrySendError::Disconnected(_)) => return false,
        }
    }
    true
}

/// Hands typed lines to the controller, waiting whenever its queue is full, so that the
/// line editor never has to.
fn forward(typed: &Receiver<Incoming>, events: &Inbox) {
    for event in typed {
        if events.send(event).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pasted_lines;

    #[test]
    fn pasted_lines_table() {
        let cases: &[(&str, &[&str])] = &[
            ("西瓜", &["西瓜"]),
            ("", &[""]),
            ("菜单\n红牛\n", &["菜单", "红牛"]),
            ("菜单\r\n红牛", &["菜单", "红牛"]),
            ("a\n\nb\n", &["a", "", "b"]),
        ];
        for (line, want) in cases {
            assert_eq!(pasted_lines(line), *want, "{line:?}");
        }
    }
}
