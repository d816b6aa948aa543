//! The writer's queue: log lines and last words go through a bounded queue to one
//! thread that writes them, so that no customer's thread ever waits for stderr.
//!
//! When the queue is full a line is dropped and counted, and once the writer gets going
//! again it writes a line saying how many were lost. Text that must not be lost
//! lightly, like the sales summary at exit, goes through [`Output::print`] and
//! [`Output::flush`], which wait for room and for the writer, but only for a bounded time.
//!
//! Such a text may be bigger than the whole queue (the summary of a catalog of 30,000
//! items is 2.5 MiB): it is let in once the queue is empty, as one message so no log
//! line lands inside it, and the writer writes it in [`PIECE`]s, each counted as
//! progress, so a waiting [`Output::print_patiently`] sees a slow writer moving.

use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use log::Level;

use super::clock::Clock;

/// Most log lines waiting for the writer. A class of 50 connecting at once logs about a
/// hundred lines; this rides out a burst of many times that while stderr is slow.
pub const QUEUE_LINES: usize = 4096;

/// Most bytes of text waiting for the writer. At `debug` a message's bytes are logged in
/// hex, so one line can be 200 KiB; this keeps a stalled stderr from costing more memory
/// than this, whatever the lines.
pub const QUEUE_BYTES: usize = 1 << 20;

/// Bytes of a long text the writer writes at a time: each piece written counts as
/// progress for [`Output::print_patiently`]. Small enough that a slow terminal writes
/// one well within its stall time (half a second), large enough to cost few calls.
const PIECE: usize = 64 * 1024;

/// Most messages the writer takes from the queue before it flushes and reports drops,
/// so the count of dropped lines appears close to where they were lost.
const BATCH: usize = 256;

/// How long the writer waits after emptying the queue before it waits for the next
/// line. Lines logged meanwhile wake nobody and go out together: without it every line
/// would wake the writer thread, a context switch per line that cost the short-session
/// benchmark a fifth of its throughput on two cores. Log lines appear at most this late.
const LINGER: Duration = Duration::from_millis(10);

/// How often a waiting [`Output::print`] or [`Output::flush`] looks for room again.
const RETRY: Duration = Duration::from_millis(5);

/// What the writer thread is given.
enum Message {
    /// One log line, formatted by the writer as `[time LEVEL] text`.
    Line {
        at: SystemTime,
        level: Level,
        text: String,
    },
    /// Text written as it is (the sales summary).
    Text(String),
    /// Answered once everything before it has been written and flushed.
    Flush(SyncSender<()>),
}

impl Message {
    /// The bytes this message counts against [`QUEUE_BYTES`].
    fn bytes(&self) -> usize {
        match self {
            Message::Line { text, .. } | Message::Text(text) => text.len(),
            Message::Flush(_) => 0,
        }
    }
}

/// Counters shared by everyone who queues and the writer.
#[derive(Default)]
struct Counters {
    /// Bytes of text in the queue.
    queued_bytes: AtomicUsize,
    /// Lines dropped since the writer last said so.
    dropped: AtomicU64,
    /// Messages (and pieces of long texts) the writer has written so far: how a caller
    /// waiting for it tells a busy writer (a loaded machine) from a stalled one (stderr
    /// not read).
    written: AtomicU64,
}

/// The sending side of the writer's queue. Cheap to clone.
#[derive(Clone)]
pub struct Output {
    tx: SyncSender<Message>,
    shared: Arc<Counters>,
}

/// Starts the writer thread on `out` and returns the way to feed it.
pub(super) fn start<W: Write + Send + 'static>(out: W) -> io::Result<Output> {
    let (tx, rx) = mpsc::sync_channel(QUEUE_LINES);
    let shared = Arc::new(Counters::default());
    let writer_shared = shared.clone();
    thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || write_queue(rx, out, &writer_shared))?;
    Ok(Output { tx, shared })
}

impl Output {
    /// Offers a message to the queue without waiting; false if it was refused. A text
    /// bigger than the byte budget goes in only into an empty queue (then nothing else
    /// fits until it is written).
    fn offer(&self, message: Message) -> Result<(), Message> {
        let bytes = message.bytes();
        let before = self.shared.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
        let alone = before == 0 && matches!(message, Message::Text(_));
        if before + bytes > QUEUE_BYTES && bytes > 0 && !alone {
            self.shared.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
            return Err(message);
        }
        self.tx.try_send(message).map_err(|e| {
            self.shared.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
            match e {
                TrySendError::Full(m) | TrySendError::Disconnected(m) => m,
            }
        })
    }

    /// Queues one log line, or drops and counts it if the queue is full. Never waits.
    pub fn line(&self, level: Level, text: String) {
        let line = Message::Line {
            at: SystemTime::now(),
            level,
            text,
        };
        if self.offer(line).is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queues `text` to be written as it is, waiting up to `within` for room.
    /// False if there was no room in time (the text is then not written).
    pub fn print(&self, text: String, within: Duration) -> bool {
        self.offer_until(Message::Text(text), Instant::now() + within)
    }

    /// Waits up to `within` until everything queued so far has been written and flushed.
    /// False if the writer did not get there in time (stderr is stalled, say).
    pub fn flush(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        if !self.offer_until(Message::Flush(done_tx), deadline) {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        done_rx.recv_timeout(left).is_ok()
    }

    /// Writes `text` after everything queued so far and waits until it is flushed, for
    /// as long as the writer keeps making progress: it gives up once the writer has
    /// written nothing for `stalled` (stderr is not being read), or after `at_most` in
    /// all. Unlike [`Output::print`] and [`Output::flush`], a writer that is merely slow
    /// (a busy machine, a slow terminal) does not make the text get lost.
    pub fn print_patiently(&self, text: String, stalled: Duration, at_most: Duration) -> bool {
        let end = Instant::now() + at_most;
        let mut seen = self.shared.written.load(Ordering::Relaxed);
        let mut progress_by = Instant::now() + stalled;
        // The deadline for the next wait, or `None` once it is time to give up.
        let mut alive = || {
            let written = self.shared.written.load(Ordering::Relaxed);
            if written != seen {
                seen = written;
                progress_by = Instant::now() + stalled;
            }
            let deadline = progress_by.min(end);
            (Instant::now() < deadline).then_some(deadline)
        };
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        for message in [Message::Text(text), Message::Flush(done_tx)] {
            let mut message = message;
            loop {
                match self.offer(message) {
                    Ok(()) => break,
                    Err(back) if alive().is_some() => {
                        message = back;
                        thread::sleep(RETRY);
                    }
                    Err(_) => return false,
                }
            }
        }
        while let Some(deadline) = alive() {
            let wait = deadline.saturating_duration_since(Instant::now());
            match done_rx.recv_timeout(wait.min(RETRY * 10)) {
                Ok(()) => return true,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return false,
            }
        }
        false
    }

    fn offer_until(&self, mut message: Message, deadline: Instant) -> bool {
        loop {
            match self.offer(message) {
                Ok(()) => return true,
                Err(back) if Instant::now() < deadline => {
                    message = back;
                    thread::sleep(RETRY);
                }
                Err(_) => return false,
            }
        }
    }
}

/// The writer thread: writes the queue to `out` until every sender is gone.
fn write_queue<W: Write>(rx: Receiver<Message>, out: W, shared: &Counters) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let mut clock = Clock::default();
    let mut waiting = Vec::new();
    // Write errors (stderr closed, the terminal gone after a hang-up) are ignored: there
    // is nowhere left to report them, and serving goes on.
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(message) = next {
            shared
                .queued_bytes
                .fetch_sub(message.bytes(), Ordering::Relaxed);
            match message {
                Message::Line { at, level, text } => {
                    let _ = writeln!(out, "[{} {level}] {text}", clock.format(at));
                }
                Message::Text(text) => {
                    for piece in text.as_bytes().chunks(PIECE) {
                        let _ = out.write_all(piece);
                        shared.written.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Message::Flush(done) => waiting.push(done),
            }
            taken += 1;
            shared.written.fetch_add(1, Ordering::Relaxed);
            next = if taken < BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        let dropped = shared.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(
                out,
                "[{} {}] {dropped} log lines dropped: stderr was not keeping up",
                clock.format(SystemTime::now()),
                Level::Warn
            );
        }
        let _ = out.flush();
        for done in waiting.drain(..) {
            let _ = done.try_send(());
        }
        if taken < BATCH {
            thread::sleep(LINGER);
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::sync::{Condvar, Mutex};

    /// A writer that blocks every write until opened, like a pipe nobody reads, and
    /// keeps what it was given.
    #[derive(Clone, Default)]
    pub(crate) struct Gate {
        state: Arc<(Mutex<GateState>, Condvar)>,
    }

    /// Whether the gate is open, and what went through it.
    type GateState = (bool, Vec<u8>);

    impl Gate {
        pub(crate) fn open(&self) {
            self.state.0.lock().unwrap().0 = true;
            self.state.1.notify_all();
        }
        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.state.0.lock().unwrap().1.clone()).unwrap()
        }
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let (lock, wake) = &*self.state;
            let mut state = wake.wait_while(lock.lock().unwrap(), |s| !s.0).unwrap();
            state.1.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_writer_drops_and_counts_and_never_blocks() {
        let gate = Gate::default();
        let output = start(gate.clone()).unwrap();
        let sent = QUEUE_LINES + BATCH + 1000;
        let started = Instant::now();
        for i in 0..sent {
            output.line(Level::Info, format!("line {i}"));
        }
        // Nothing waited for the stalled writer (generous: this is about not blocking).
        assert!(started.elapsed() < Duration::from_secs(5));
        // Waiting for it is bounded.
        let started = Instant::now();
        assert!(!output.flush(Duration::from_millis(200)));
        assert!(started.elapsed() < Duration::from_secs(2));

        gate.open();
        assert!(output.flush(Duration::from_secs(10)));
        let text = gate.text();
        let written = text.lines().filter(|l| l.contains("] line ")).count();
        let notices: Vec<u64> = text
            .lines()
            .filter_map(|l| {
                l.split_once("WARN] ")?
                    .1
                    .strip_suffix(" log lines dropped: stderr was not keeping up")
            })
            .map(|n| n.parse().unwrap())
            .collect();
        let dropped: u64 = notices.iter().sum();
        assert!(dropped >= 1000, "{notices:?}");
        assert_eq!(written as u64 + dropped, sent as u64);
        // The lines that were kept are in order.
        let numbers: Vec<usize> = text
            .lines()
            .filter_map(|l| l.split_once("] line ")?.1.parse().ok())
            .collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]));
        // Once drained, logging works again and nothing more is reported dropped.
        output.line(Level::Info, "after".into());
        assert!(output.flush(Duration::from_secs(5)));
        assert!(gate.text().ends_with("] after\n"));
    }

    /// A writer as slow as a busy machine's stderr: every write takes 40 ms.
    struct Slow(Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Slow {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            thread::sleep(Duration::from_millis(40));
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn last_words_wait_for_a_slow_writer_but_not_a_stalled_one() {
        // 640 KiB of lines ahead of the summary take the slow writer about 400 ms, far
        // longer than the 150 ms it may go without progress: the summary still gets out.
        let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
        let output = start(Slow(kept.clone())).unwrap();
        for i in 0..40 {
            output.line(Level::Info, format!("{i} {}", "x".repeat(16 << 10)));
        }
        let started = Instant::now();
        let wait = Duration::from_millis(150);
        assert!(output.print_patiently("summary\n".into(), wait, Duration::from_secs(30)));
        assert!(started.elapsed() > wait, "{:?}", started.elapsed());
        let text = String::from_utf8(kept.lock().unwrap().clone()).unwrap();
        assert!(
            text.ends_with("\nsummary\n"),
            "{}",
            &text[text.len() - 50..]
        );
        assert_eq!(text.lines().count(), 41);

        // A writer that does not move at all is given up on once it has been stuck for
        // the stall time, with or without room in the queue.
        let gate = Gate::default();
        let output = start(gate.clone()).unwrap();
        output.line(Level::Info, "x".repeat(100 << 10));
        let started = Instant::now();
        assert!(!output.print_patiently("summary\n".into(), wait, Duration::from_secs(30)));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        gate.open();
    }

    #[test]
    fn last_words_bigger_than_the_queue_get_out_whole_and_alone() {
        // Three times the byte budget, behind a log line, through a slow writer: every
        // piece is progress, so the stall time (150 ms, far less than the whole write
        // takes) is never reached.
        let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
        let output = start(Slow(kept.clone())).unwrap();
        output.line(Level::Info, "before".into());
        let lines = (QUEUE_BYTES * 3) / 32;
        let summary: String = (0..lines)
            .map(|i| format!("  item {i:>20}: sold\n"))
            .collect();
        let wait = Duration::from_millis(150);
        assert!(output.print_patiently(summary.clone(), wait, Duration::from_secs(60)));
        let text = String::from_utf8(kept.lock().unwrap().clone()).unwrap();
        assert!(
            text.ends_with(&format!("] before\n{summary}")),
            "{:.200}",
            &text
        );

        // A stalled writer still costs only the stall time.
        let gate = Gate::default();
        let output = start(gate.clone()).unwrap();
        output.line(Level::Info, "x".into());
        let started = Instant::now();
        assert!(!output.print_patiently(summary, wait, Duration::from_secs(30)));
        assert!(started.elapsed() < Duration::from_secs(3));
        gate.open();
    }

    #[test]
    fn the_byte_budget_bounds_long_lines() {
        let gate = Gate::default();
        let output = start(gate.clone()).unwrap();
        let long = "x".repeat(QUEUE_BYTES / 4);
        for _ in 0..20 {
            output.line(Level::Debug, long.clone());
        }
        assert!(output.shared.queued_bytes.load(Ordering::Relaxed) <= QUEUE_BYTES);
        // Text that waits for room gives up in time when there is none.
        assert!(!output.print(long.repeat(5), Duration::from_millis(50)));
        gate.open();
        assert!(output.flush(Duration::from_secs(10)));
        let text = gate.text();
        let kept = text.lines().filter(|l| l.ends_with("xxxx")).count();
        assert!((1..20).contains(&kept), "{kept}");
        assert!(
            text.contains(&format!("{} log lines dropped", 20 - kept)),
            "{text:.200}"
        );
    }
}
