//! The console window a Windows user gets by double-clicking `shop-server.exe` or
//! `shop-client.exe`.
//!
//! Explorer gives a double-clicked console program a window of its own and closes it
//! the moment the program exits, so an error, or the shop's sales summary, would flash
//! and vanish. A program started that way therefore waits for Enter before it ends
//! ([`PauseOnExit`]), and `shop-client`, which then has no address on its command line,
//! asks for one as the tutorial's client does ([`ask_address`]). A program started
//! from a terminal (cmd, PowerShell, a `.bat` launcher) shares the console with that
//! shell, and one reading a pipe has no console input: neither waits.
//!
//! Windows tells the cases apart with `GetConsoleProcessList`: a double-clicked program
//! is the only process attached to its console. That is one kernel32 function, declared
//! here, rather than the `windows-sys` crate for a single call.

use std::io::{self, BufRead, IsTerminal, Read, Write};

/// Test hook: `SHOP_DOUBLE_CLICK=1` makes a program behave as if double-clicked, on
/// every platform, so tests can drive the questions and the wait through pipes.
pub const DOUBLE_CLICK_ENV: &str = "SHOP_DOUBLE_CLICK";

/// What the window shows before it waits for Enter.
pub const PAUSE_PROMPT: &str = "按回车键关闭窗口 · Press Enter to close this window.";

/// The tutorial client's two questions, word for word.
pub const ASK_IP: &str = "请输入服务器ip:";
pub const ASK_PORT: &str = "请输入服务器port:";

/// Longest answer read from the console (an address, or the Enter of the pause): a
/// pipe that never sends a newline must not make the program hold unbounded memory.
const MAX_ANSWER: u64 = 1024;

/// Whether this program was started by a double-click (or the test hook says so).
pub fn double_clicked() -> bool {
    if std::env::var_os(DOUBLE_CLICK_ENV).is_some_and(|v| v == "1") {
        return true;
    }
    alone_on_console() && io::stdin().is_terminal()
}

/// Whether this process is the only one attached to its console.
#[cfg(windows)]
fn alone_on_console() -> bool {
    #[link(name = "kernel32")]
    unsafe extern "system" {
        fn GetConsoleProcessList(process_ids: *mut u32, count: u32) -> u32;
    }
    let mut ids = [0u32; 2];
    // SAFETY: `ids` has room for the count passed; the call writes at most that many
    // ids and returns how many processes share the console (0 without a console).
    let attached = unsafe { GetConsoleProcessList(ids.as_mut_ptr(), ids.len() as u32) };
    attached == 1
}

/// Only Windows closes a program's window when it exits.
#[cfg(not(windows))]
fn alone_on_console() -> bool {
    false
}

/// Waits for Enter when dropped, if the program was double-clicked: hold one in `main`
/// so the window stays open on every way `main` returns.
#[derive(Debug)]
pub struct PauseOnExit {
    active: bool,
}

impl PauseOnExit {
    /// Decides now, at start, whether to wait at the end.
    pub fn new() -> Self {
        Self {
            active: double_clicked(),
        }
    }

    /// Whether the program was double-clicked (and so will wait).
    pub fn active(&self) -> bool {
        self.active
    }
}

impl Default for PauseOnExit {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PauseOnExit {
    fn drop(&mut self) {
        if self.active {
            let mut stdout = io::stdout();
            let _ = writeln!(stdout, "\n{PAUSE_PROMPT}").and_then(|()| stdout.flush());
            let _ = read_answer();
        }
    }
}

/// Asks for the server's IP and port as the tutorial's client does; an empty answer
/// takes the default (`127.0.0.1`, `9999`). Returns them as the client's positional
/// arguments. Fails if the input ends before both are given.
pub fn ask_address(default_host: &str, default_port: u16) -> io::Result<Vec<String>> {
    let host = ask(ASK_IP)?;
    let port = ask(ASK_PORT)?;
    let or = |answer: String, default: String| match answer.is_empty() {
        true => default,
        false => answer,
    };
    Ok(vec![
        or(host, default_host.to_string()),
        or(port, default_port.to_string()),
    ])
}

/// Prints `question` and reads one trimmed answer.
fn ask(question: &str) -> io::Result<String> {
    let mut stdout = io::stdout();
    write!(stdout, "{question}")?;
    stdout.flush()?;
    read_answer()?
        .map(|answer| answer.trim().to_string())
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "没有输入 · no input"))
}

/// One line from stdin, at most [`MAX_ANSWER`] bytes; `None` at the end of input.
fn read_answer() -> io::Result<Option<String>> {
    let mut line = String::new();
    match io::stdin().lock().take(MAX_ANSWER).read_line(&mut line)? {
        0 => Ok(None),
        _ => Ok(Some(line)),
    }
}
