//! A customer's socket as the framer reads it, so that shutdown can end a wait.
//!
//! Shutdown wakes every thread waiting for a customer's next message by shutting
//! down the socket's read side: on Linux the blocked read then returns end-of-stream
//! at once, the thread sees that the shop is closing and says goodbye. On Windows it
//! does not: `shutdown(SD_RECEIVE)` (and even `SD_BOTH`) leaves a read already
//! waiting where it is, so customers sitting at their prompt would never hear
//! `本店打烊了` and the server would wait out its whole shutdown deadline for them.
//! (Seen running the test suite under Wine; Winsock documents only closing the socket
//! as cancelling a blocked call, and closing a socket another thread uses is unsafe.)
//!
//! So where reads must be woken by hand ([`READS_POLL_FOR_STOP`]), a [`Watched`] read
//! waits in slices of at most [`STOP_POLL`] and, once the server is stopping, returns
//! end-of-stream as Linux does. The framer's own deadlines are unchanged: a read still
//! times out when the timeout the framer asked for has passed, however it was sliced.
//! Elsewhere a `Watched` passes every call straight to the socket: waking thousands of
//! idle customers' threads several times a second would cost a held shop for nothing.
//!
//! A `Watched` also notes when its customer was last heard (for seating newcomers in a
//! full shop, the `silence` module), and ends the conversation with [`LetGo`] once
//! the customer's seat has been given to a newcomer.

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::silence::Presence;
use crate::wire::stream::{self, Source};

/// The error a [`Watched`] read returns once its customer's seat has been given to a
/// newcomer: the conversation ends, and the server tells the customer why.
#[derive(Debug, thiserror::Error)]
#[error("the seat was given to a newcomer")]
pub struct LetGo;

/// Whether a blocked read must be woken by polling, because shutting the socket's read
/// side down does not wake it (Windows).
pub const READS_POLL_FOR_STOP: bool = cfg!(windows);

/// The longest a [`Watched`] read waits before looking whether the server is stopping,
/// where reads poll. Well inside the shutdown grace (0.8 s), so waiting customers are
/// told goodbye before busy ones are cut; and few enough wake-ups (5 a second for each
/// waiting customer) for a classroom.
pub const STOP_POLL: Duration = Duration::from_millis(200);

/// A customer's socket read on behalf of the framer; see the module header.
pub struct Watched<'a> {
    stream: &'a TcpStream,
    stopping: &'a AtomicBool,
    /// Whether reads poll for `stopping` (see [`READS_POLL_FOR_STOP`]; tests turn it on).
    polls: bool,
    /// How long a read may wait, as the framer last set it (`None`: forever).
    wanted: Option<Duration>,
    /// While polling, the read timeout the socket has now (a slice of `wanted`).
    set: Option<Duration>,
    /// The customer's presence in the seat map, if it keeps one.
    presence: Option<&'a Presence>,
}

impl<'a> Watched<'a> {
    /// Reads `stream`, whose read timeout is `timeout` now, until `stopping` is set.
    pub fn new(stream: &'a TcpStream, stopping: &'a AtomicBool, timeout: Option<Duration>) -> Self {
        Watched {
            stream,
            stopping,
            polls: READS_POLL_FOR_STOP,
            wanted: timeout,
            set: timeout,
            presence: None,
        }
    }

    /// Notes in `presence` when the customer was last heard, and ends the reads once
    /// the seat is let go.
    pub(super) fn heard(mut self, presence: &'a Presence) -> Self {
        self.presence = Some(presence);
        self
    }

    /// What a read returned, after noting that the customer was heard or let go.
    fn note(&self, read: io::Result<usize>) -> io::Result<usize> {
        let Some(presence) = self.presence else {
            return read;
        };
        match read {
            Ok(0) | Err(_) if presence.is_let_go() => Err(io::Error::other(LetGo)),
            Ok(n) => {
                if n > 0 {
                    presence.heard();
                }
                Ok(n)
            }
            Err(e) => Err(e),
        }
    }

    /// Polls for `stopping` whatever the platform, so the polling is tested everywhere.
    #[cfg(test)]
    fn polling(mut self) -> Self {
        self.polls = true;
        self
    }

    /// Sets the socket's timeout for one slice, keeping the one it has when that is
    /// close enough (as the framer does), so that the short waits of a message arriving
    /// in pieces cost no system call each.
    fn set_slice(&mut self, slice: Duration) -> io::Result<()> {
        if !stream::timeout_close_enough(self.set, Some(slice)) {
            self.stream.set_read_timeout(Some(slice))?;
            self.set = Some(slice);
        }
        Ok(())
    }
}

impl Read for Watched<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.polls {
            let read = self.stream.read(buf);
            return self.note(read);
        }
        let started = Instant::now();
        loop {
            if self.presence.is_some_and(Presence::is_let_go) {
                return self.note(Ok(0));
            }
            if self.stopping.load(Ordering::Acquire) {
                // As a read on Linux once shutdown has shut the read side (there it
                // may first hand over bytes already queued; the conversation checks
                // `stopping` either way).
                return Ok(0);
            }
            // Every call looks at the socket at least once, as a read with any timeout
            // does: bytes already here are returned even when the time asked for has
            // passed (the framer's last look before it gives up relies on that).
            let slice = match self.wanted {
                None => STOP_POLL,
                Some(wanted) => wanted
                    .saturating_sub(started.elapsed())
                    .clamp(stream::MIN_READ_TIMEOUT, STOP_POLL),
            };
            self.set_slice(slice)?;
            match self.stream.read(buf) {
                Err(e) if stream::is_timeout(&e) => {
                    if self
                        .wanted
                        .is_some_and(|wanted| started.elapsed() >= wanted)
                    {
                        return Err(e);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => {
                    return self.note(other);
                }
            }
        }
    }
}

impl Source for Watched<'_> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.wanted = timeout;
        if self.polls {
            // Each read slices it; the socket's timeout is set there, when it differs.
            return Ok(());
        }
        // The framer already calls this only when the timeout must change.
        self.stream.set_read_timeout(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::linger::pair;
    use std::io::Write;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn a_polling_read_ends_soon_after_stopping_and_not_before() {
        let (server, client) = pair();
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stopping);
        let reader = thread::spawn(move || {
            let mut watched = Watched::new(&server, &flag, None).polling();
            watched.read(&mut [0u8; 16]).unwrap()
        });
        thread::sleep(3 * STOP_POLL);
        assert!(!reader.is_finished(), "a read without a timeout waits");
        stopping.store(true, Ordering::Release);
        let deadline = Instant::now() + 10 * STOP_POLL;
        while !reader.is_finished() && Instant::now() < deadline {
            thread::sleep(STOP_POLL / 10);
        }
        let woken = reader.is_finished();
        // Closing the customer's end ends the read anyway, so a failure never hangs.
        drop(client);
        assert!(woken, "the read did not end once the server was stopping");
        assert_eq!(
            reader.join().unwrap(),
            0,
            "end of stream, as a shut read side gives"
        );
    }

    #[test]
    fn a_read_ends_once_the_customer_is_let_go() {
        use super::super::silence::Silence;
        // Both ways of waking: Linux's shut read side, and polling (Windows).
        for polls in [false, true] {
            let mut silence = Silence::default();
            let presence = Arc::new(silence.arrived());
            let (server, mut client) = pair();
            let stopping = AtomicBool::new(false);
            let mut watched = Watched::new(&server, &stopping, None).heard(&presence);
            watched.polls = polls;
            client.write_all(b"hi").unwrap();
            assert_eq!(watched.read(&mut [0u8; 16]).unwrap(), 2, "polls: {polls}");
            // Let go (nobody else is seated, and any silence is enough here).
            let one = std::iter::once((7, &*presence));
            let picked = silence.let_go(|_| Some(&*presence), one, Duration::ZERO);
            assert_eq!(picked, Some(7));
            if !polls {
                server.shutdown(std::net::Shutdown::Read).unwrap();
            }
            let e = watched.read(&mut [0u8; 16]).unwrap_err();
            assert!(
                e.get_ref().is_some_and(|e| e.is::<LetGo>()),
                "polls: {polls}: {e}"
            );
        }
    }

    #[test]
    fn a_polling_read_keeps_the_framers_timeout_and_returns_data() {
        let (server, mut client) = pair();
        let stopping = AtomicBool::new(false);
        let mut watched = Watched::new(&server, &stopping, None).polling();
        // Several slices long: it times out once the whole of it has passed.
        let timeout = 3 * STOP_POLL + STOP_POLL / 2;
        watched.set_read_timeout(Some(timeout)).unwrap();
        let started = Instant::now();
        let e = watched.read(&mut [0u8; 16]).unwrap_err();
        assert!(stream::is_timeout(&e), "{e}");
        assert!(started.elapsed() >= timeout, "{:?}", started.elapsed());
        // Data is returned as it comes.
        client.write_all(b"hi").unwrap();
        let mut buf = [0u8; 16];
        let n = watched.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hi");
        // Bytes already here are returned even when the time asked for is (all but)
        // gone, as the framer's last look before giving up needs.
        client.write_all(b"late").unwrap();
        thread::sleep(Duration::from_millis(100));
        watched
            .set_read_timeout(Some(Duration::from_nanos(1)))
            .unwrap();
        let n = watched.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"late");
    }

    #[test]
    fn without_polling_calls_go_straight_to_the_socket() {
        let (server, mut client) = pair();
        let stopping = AtomicBool::new(true);
        let mut watched = Watched::new(&server, &stopping, None);
        watched.polls = false;
        // Whole seconds: the kernel keeps timeouts in clock ticks.
        watched
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        assert_eq!(server.read_timeout().unwrap(), Some(Duration::from_secs(2)));
        // `stopping` is not looked at: the socket's shut read side does that job.
        client.write_all(b"x").unwrap();
        assert_eq!(watched.read(&mut [0u8; 4]).unwrap(), 1);
    }
}
