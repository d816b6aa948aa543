//! The log: `[time LEVEL] message` lines (the time in UTC, to the second), filtered by
//! `RUST_LOG` as env_logger does (the same parser, [`env_filter`]), written to stderr by
//! one thread of their own.
//!
//! A thread that serves a customer must never wait for stderr. Stderr can stop for good:
//! a terminal paused with Ctrl-S, a Windows console with text selected, a supervisor
//! that never reads the pipe. So logging only formats the message and offers it to a
//! bounded queue (the `queue` module); one writer thread writes the queue to stderr.

use std::io;
use std::thread;

use log::{Level, Log, Metadata, Record};

mod clock;
mod queue;

pub use queue::Output;
use queue::start;

/// Why the logger could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The writer thread could not be started.
    #[error("cannot start the log writer thread: {0}")]
    Thread(#[from] io::Error),
    /// Another logger is already installed.
    #[error("a logger is already installed")]
    AlreadySet(#[from] log::SetLoggerError),
}

/// Installs a [`QueueLogger`] writing to stderr as the global logger. The filter comes
/// from `RUST_LOG` (env_logger's syntax, e.g. `debug` or `snack_shop=info`), or
/// `default_filter` when that is unset or empty.
///
/// Panic messages go through the queue too, at error level: the default panic hook
/// writes stderr directly, so a thread panicking while stderr is stalled would hang
/// there, holding its customer's seat.
pub fn init(default_filter: &str) -> Result<Output, InitError> {
    let spec = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let filter = env_filter::Builder::new()
        .parse(spec.as_deref().unwrap_or(default_filter))
        .build();
    let output = start(io::stderr())?;
    let logger = QueueLogger::new(filter, output.clone());
    let max = logger.filter.filter();
    log::set_boxed_logger(Box::new(logger))?;
    log::set_max_level(max);
    let panics = output.clone();
    std::panic::set_hook(Box::new(move |info| {
        let thread = thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        let mut text = format!("thread '{name}' {info}");
        // Captured only when RUST_BACKTRACE asks for it, as the default hook does.
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            text.push_str(&format!("\n{backtrace}"));
        }
        panics.line(Level::Error, text);
    }));
    Ok(output)
}

/// A [`log::Log`] that filters like env_logger and hands each line to the writer's
/// queue. Logging costs a format and a queue push; it never waits for stderr.
struct QueueLogger {
    filter: env_filter::Filter,
    output: Output,
}

impl QueueLogger {
    /// A logger passing what `filter` lets through to `output`.
    fn new(filter: env_filter::Filter, output: Output) -> QueueLogger {
        QueueLogger { filter, output }
    }
}

impl Log for QueueLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if self.filter.matches(record) {
            self.output.line(record.level(), record.args().to_string());
        }
    }

    /// Does nothing: waiting here could block on a stalled stderr. Callers that need the
    /// text out use [`Output::flush`], which waits a bounded time.
    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::queue::tests::Gate;
    use super::*;
    use std::time::Duration;

    fn logger(spec: &str, output: &Output) -> QueueLogger {
        QueueLogger::new(
            env_filter::Builder::new().parse(spec).build(),
            output.clone(),
        )
    }

    fn log(logger: &QueueLogger, level: Level, target: &str, text: &str) {
        logger.log(
            &Record::builder()
                .level(level)
                .target(target)
                .args(format_args!("{text}"))
                .build(),
        );
    }

    #[test]
    fn lines_keep_the_plain_format_and_the_filter() {
        let gate = Gate::default();
        gate.open();
        let output = start(gate.clone()).unwrap();
        let logger = logger("info,noisy=error", &output);
        log(&logger, Level::Info, "snack_shop::server", "one");
        log(&logger, Level::Debug, "snack_shop::server", "hidden");
        log(&logger, Level::Warn, "noisy", "hidden too");
        log(&logger, Level::Error, "noisy", "two");
        assert!(output.print("summary:\n  x\n".into(), Duration::from_secs(5)));
        assert!(output.flush(Duration::from_secs(5)));
        let text = gate.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        for (line, want) in lines[..2].iter().zip(["INFO] one", "ERROR] two"]) {
            let (stamp, rest) = line[1..].split_once(' ').unwrap();
            assert_eq!(rest, want);
            // 2026-11-25T16:27:38Z
            assert_eq!(stamp.len(), 20, "{line}");
            assert!(
                stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
                "{line}"
            );
        }
        assert_eq!(&lines[2..], ["summary:", "  x"]);
    }
}
