//! The line editor's printer, owned by a printing thread: server messages go above the
//! prompt without blocking the controller once the user left (see [`super::editor`] for
//! the rules that keep the threads from waiting on each other).

use crate::lock::{lock, wait};
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;

use rustyline::ExternalPrinter;

use super::screen::Screen;

/// Server output through the editor's printer, which a printing thread owns.
#[derive(Clone)]
pub(super) struct Printed(Arc<PrintQueue>);

/// The line handed to the printing thread, and whether to bypass it.
#[derive(Default)]
struct PrintQueue {
    state: Mutex<PrintState>,
    changed: Condvar,
}

#[derive(Default)]
struct PrintState {
    /// At most one line waits for the printing thread: a slow terminal slows the
    /// controller down, and so the server reader.
    waiting: Option<String>,
    /// Set once the user left (no `readline` runs, so the printer may never empty its
    /// queue again) or the printer failed: lines go straight to the terminal.
    direct: bool,
}

impl Printed {
    /// Starts the printing thread for `printer`.
    pub(super) fn start<P: ExternalPrinter + Send + 'static>(
        mut printer: P,
    ) -> io::Result<Printed> {
        let screen = Printed(Arc::default());
        let queue = screen.0.clone();
        thread::Builder::new()
            .name("printer".into())
            .spawn(move || {
                loop {
                    let line = {
                        let mut state = queue.lock();
                        loop {
                            if let Some(line) = state.waiting.take() {
                                break line;
                            }
                            state = queue.wait(state);
                        }
                    };
                    queue.changed.notify_all();
                    if printer.print(line).is_err() {
                        queue.lock().direct = true;
                        queue.changed.notify_all();
                        return;
                    }
                }
            })?;
        Ok(screen)
    }

    /// From now on lines go straight to the terminal: the user left.
    pub(super) fn go_direct(&self) {
        self.0.lock().direct = true;
        self.0.changed.notify_all();
    }
}

impl PrintQueue {
    fn lock(&self) -> MutexGuard<'_, PrintState> {
        lock(&self.state)
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, PrintState>) -> MutexGuard<'a, PrintState> {
        wait(&self.changed, guard)
    }
}

impl Screen for Printed {
    fn line(&mut self, text: &str) -> io::Result<()> {
        let text = format!("{text}\n");
        let mut state = self.0.lock();
        loop {
            if state.direct {
                // No `readline` runs: the terminal is in its normal mode. At most the
                // two lines the printer still holds are lost.
                drop(state);
                let mut out = io::stdout().lock();
                out.write_all(text.as_bytes())?;
                return out.flush();
            }
            if state.waiting.is_none() {
                state.waiting = Some(text);
                self.0.changed.notify_all();
                return Ok(());
            }
            state = self.0.wait(state);
        }
    }
}
