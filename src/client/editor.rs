//! The terminal front end: rustyline for editing, history and completion.
//!
//! rustyline gives arrows, Home/End, Backspace over wide characters, history with
//! Up/Down and Ctrl-R, and Tab completion of the item names seen so far
//! ([`names`](super::names)). Server messages go through its `ExternalPrinter`, which
//! prints them above the prompt and redraws the line being typed. Its queue holds one
//! message and `print` blocks while it is full, so a slow terminal slows the reader
//! thread down too.
//!
//! Ctrl-D, or Ctrl-C at an empty prompt, leaves; Ctrl-C with text typed clears the line.

use std::io::{self, Write};
use std::net::TcpStream;
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
    EventContext, EventHandler, ExternalPrinter, Helper, KeyEvent, Movement, RepeatCount,
};

use super::names::Names;
use super::{Controller, Event, NOTICE_PREFIX, Options, PROMPT, Screen, start_reader};

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

/// Server output through the editor's printer.
struct Printed<P: ExternalPrinter>(P);

impl<P: ExternalPrinter> Screen for Printed<P> {
    fn line(&mut self, text: &str) -> io::Result<()> {
        self.0
            .print(format!("{text}\n"))
            .map_err(|e| io::Error::other(e.to_string()))
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
    let (events, rx) = start_reader(&stream, opts)?;
    let opts = opts.clone();
    thread::Builder::new()
        .name("controller".into())
        .spawn(move || {
            let mut screen = Printed(printer);
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
            Ok(line) => Event::Input(line),
            Err(ReadlineError::Eof | ReadlineError::Interrupted) => Event::InputEnd,
            Err(ReadlineError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => {
                // One bad key press can yield several errors: say it once.
                if last_refusal.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
                    continue;
                }
                last_refusal = Some(Instant::now());
                Event::Refused(
                    "终端发来的不是有效的 UTF-8,这一行没有发送。请把终端的编码设为 UTF-8。 \
                     · The terminal sent invalid UTF-8; line not sent."
                        .to_string(),
                )
            }
            Err(_) => Event::InputEnd,
        };
        let end = matches!(event, Event::InputEnd);
        if events.send(event).is_err() || end {
            break;
        }
    }
    // The controller finishes the session and exits the process.
    loop {
        thread::park();
    }
}
