//! Operating-system signals as two actions: [`Action::Stop`] (close the shop) and
//! [`Action::Hangup`] (the terminal went away, or an operator asks for a reload).
//!
//! The whole crate builds on Windows as well as on Unix, so everything platform-specific
//! lives here, behind `cfg`:
//!
//! | platform | [`Action::Stop`] | [`Action::Hangup`] |
//! |---|---|---|
//! | Unix (signal-hook) | SIGINT (Ctrl-C), SIGTERM | SIGHUP |
//! | Windows (ctrlc) | Ctrl-C, Ctrl-Break, closing the console window | — |
//!
//! SIGHUP arrives when the teacher closes the terminal or the SSH session the server was
//! started from. Its default action kills the process at once, with no goodbye and no
//! sales summary, so it is caught and turned into an action: the caller logs it and goes
//! on serving. Windows has no hang-up signal; closing its console window is a stop,
//! though Windows ends the process soon after the window closes, whatever it does, so
//! the goodbyes may not all get out.
//!
//! The signals are delivered on one thread of their own, so the callback may take a lock
//! or log; it runs outside any signal handler.

use std::io;

/// What a signal asks of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Close the shop: SIGINT, SIGTERM, or Ctrl-C / console close on Windows.
    Stop,
    /// SIGHUP: keep serving (the terminal is gone, or a reload is wanted).
    #[cfg_attr(windows, allow(dead_code))] // Windows has no SIGHUP
    Hangup,
}

/// One signal as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    /// What to do about it.
    pub action: Action,
    /// Its name for the log, such as `SIGTERM` or `Ctrl-C`.
    pub name: &'static str,
}

/// Starts delivering signals to `on_signal`, in order, on a thread named `signals`.
/// From now on SIGINT, SIGTERM and SIGHUP (Ctrl-C and console close on Windows) no
/// longer end the process by themselves.
pub fn listen(on_signal: impl FnMut(Signal) + Send + 'static) -> io::Result<()> {
    os::listen(on_signal)
}

#[cfg(unix)]
mod os {
    use std::io;
    use std::thread;

    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    use super::{Action, Signal};

    pub fn listen(mut on_signal: impl FnMut(Signal) + Send + 'static) -> io::Result<()> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for number in signals.forever() {
                    on_signal(translate(number));
                }
            })?;
        Ok(())
    }

    /// The action and name of a signal number registered in [`listen`].
    pub(super) fn translate(number: i32) -> Signal {
        match number {
            SIGHUP => Signal {
                action: Action::Hangup,
                name: "SIGHUP",
            },
            SIGINT => Signal {
                action: Action::Stop,
                name: "SIGINT",
            },
            _ => Signal {
                action: Action::Stop,
                name: "SIGTERM",
            },
        }
    }
}

#[cfg(windows)]
mod os {
    use std::io;

    use super::{Action, Signal};

    pub fn listen(mut on_signal: impl FnMut(Signal) + Send + 'static) -> io::Result<()> {
        // ctrlc calls the handler on a thread of its own, never inside the console
        // control routine, and cannot tell Ctrl-C from closing the window.
        ctrlc::set_handler(move || {
            on_signal(Signal {
                action: Action::Stop,
                name: "Ctrl-C or console close",
            })
        })
        .map_err(io::Error::other)
    }
}

#[cfg(not(any(unix, windows)))]
mod os {
    use std::io;

    use super::Signal;

    /// No signals to catch on this platform: the server runs until it is killed.
    pub fn listen(_on_signal: impl FnMut(Signal) + Send + 'static) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

    #[test]
    fn hangup_is_not_a_stop() {
        assert_eq!(os::translate(SIGHUP).action, Action::Hangup);
        assert_eq!(os::translate(SIGINT).action, Action::Stop);
        assert_eq!(os::translate(SIGTERM).action, Action::Stop);
        assert_eq!(os::translate(SIGTERM).name, "SIGTERM");
    }
}
