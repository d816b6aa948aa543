//! The purchase reply, sent by whoever commits the sale.
//!
//! With a ledger, `购买成功` may go out only once the sale is committed. If the
//! connection thread waited for the commit and then wrote the reply itself, it would
//! sleep and be woken once more per purchase than without a ledger; on the 2-core test
//! machine that extra wake-up cost about 40 % of the shop's rate (docs/BENCHMARKS.md).
//! So the connection thread hands the ledger its sale together with the reply, already
//! encoded, and goes straight back to reading. The thread that commits the sale (the
//! ledger writer, or the customer's own when nobody else is buying) sends the reply
//! right after the commit, without waiting. The customer hears `购买成功` only for a
//! committed sale, and the connection thread sleeps once per purchase, as without a
//! ledger.
//!
//! Three rules keep replies in order and every wait bounded:
//! - **One sale in flight per connection, and the connection thread does not write
//!   while there is one.** Before it answers the next message, or ends the
//!   conversation, it settles: it waits for the outcome ([`Outbox::settle`]). A customer
//!   who pipelines gets the replies in order.
//! - **The committer never waits for a customer.** It sends what fits in the socket
//!   now. If the reply does not fit (the customer is not reading), the rest is left to
//!   the connection thread, which sends it when it settles.
//! - **Unless the connection thread is waiting for a message**: then it cannot send,
//!   and the customer may be waiting for this very reply before it sends anything more.
//!   A short-lived thread sends the rest, waiting as the socket's write timeout allows.
//!   With one sale in flight per connection, there is at most one such thread per
//!   connection.
//!
//! If the commit fails, the committer sends the not-recorded reply instead, and the
//! connection thread takes the price back off the customer's total.

use std::io;
use std::mem;
use std::net::TcpStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;

use log::{debug, warn};

use crate::live::Tap;
use crate::shop::session::Reply;
use crate::wire::codec::Charset;
use crate::wire::courier::Courier;

/// True where the committer can send replies: where a socket has a send that does not
/// wait ([`Courier::try_send`], `MSG_DONTWAIT`). Elsewhere the connection thread waits for
/// each commit and sends the reply itself.
pub const SUPPORTED: bool = cfg!(unix);

/// Stack of the thread that sends a reply the committer could not finish: it only
/// writes to a socket and takes a lock.
const RESCUE_STACK: usize = 64 * 1024;

/// One connection's reply in flight. Shared between the connection thread and whoever
/// commits its sale; see the module header for who sends what.
pub struct Outbox {
    courier: Arc<dyn Courier>,
    slot: Mutex<Slot>,
    /// Signalled when the sale in flight is settled and the connection thread waits.
    settled: Condvar,
}

struct Slot {
    /// The reply: `购买成功` when armed, the not-recorded reply if the commit failed.
    line: Vec<u8>,
    /// Bytes of `line` sent so far.
    sent: usize,
    /// The charset of the customer's message, for the not-recorded reply.
    charset: Charset,
    stage: Stage,
    /// The connection thread waits on `settled`.
    waiting: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// No sale in flight.
    Idle,
    /// The sale is with the ledger. `reading`: the connection thread is waiting for a
    /// message, so it cannot send the reply.
    Committing { reading: bool },
    /// The commit is over; a rescue thread is sending the rest of the reply.
    Rescuing { committed: bool },
    /// Over. `line[sent..]` is left for the connection thread to send, unless `error`
    /// says the connection broke.
    Settled {
        committed: bool,
        error: Option<io::ErrorKind>,
    },
}

/// What the connection thread learns when it settles.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The sale was committed.
    pub committed: bool,
    /// The part of the reply still to send, usually none.
    pub rest: Vec<u8>,
    /// Sending the reply failed this way: the connection is broken.
    pub error: Option<io::ErrorKind>,
}

impl Outbox {
    /// An outbox for replies sent through `courier` (the customer's socket).
    pub fn new(courier: Arc<dyn Courier>) -> Arc<Outbox> {
        Arc::new(Outbox {
            courier,
            slot: Mutex::new(Slot {
                line: Vec::new(),
                sent: 0,
                charset: Charset::Gbk,
                stage: Stage::Idle,
                waiting: false,
            }),
            settled: Condvar::new(),
        })
    }

    /// The outbox for a customer on `socket`, if replies go through one: with a ledger,
    /// where [`SUPPORTED`], and without a live view, which reports each reply from the
    /// connection thread as it is sent.
    pub fn for_customer(socket: &Arc<TcpStream>, ledger: bool, tap: &Tap) -> Option<Arc<Outbox>> {
        (ledger && SUPPORTED && !tap.is_on()).then(|| Outbox::new(socket.clone()))
    }

    /// Takes `line` (encoded, terminator included) as the reply to the purchase about
    /// to be handed to the ledger, in `charset`. Nothing may be in flight.
    pub fn arm(&self, line: &[u8], charset: Charset) {
        let mut slot = self.lock();
        debug_assert_eq!(slot.stage, Stage::Idle, "one sale in flight at a time");
        slot.line.clear();
        slot.line.extend_from_slice(line);
        slot.sent = 0;
        slot.charset = charset;
        slot.stage = Stage::Committing { reading: false };
    }

    /// What the ledger calls with the outcome of the armed sale's commit.
    pub fn then(self: &Arc<Self>) -> impl FnOnce(bool) + Send + 'static {
        let outbox = Arc::clone(self);
        move |committed| outbox.deliver(committed)
    }

    /// The connection thread is about to wait for a message. If the sale in flight is
    /// settled, that is the outcome, to act on now; otherwise the committer is told that
    /// the connection thread cannot send for it, and `None` comes back.
    pub fn before_wait(&self) -> Option<Outcome> {
        let mut slot = self.lock();
        match slot.stage {
            Stage::Settled { committed, error } => Some(take(&mut slot, committed, error)),
            Stage::Committing { .. } => {
                slot.stage = Stage::Committing { reading: true };
                None
            }
            Stage::Idle | Stage::Rescuing { .. } => None,
        }
    }

    /// Waits until the sale in flight is settled; `None` if there is none.
    pub fn settle(&self) -> Option<Outcome> {
        let mut slot = self.lock();
        if slot.stage == (Stage::Committing { reading: true }) {
            // No longer waiting for a message: what does not fit, this thread sends.
            slot.stage = Stage::Committing { reading: false };
        }
        loop {
            match slot.stage {
                Stage::Idle => return None,
                Stage::Settled { committed, error } => {
                    return Some(take(&mut slot, committed, error));
                }
                Stage::Committing { .. } | Stage::Rescuing { .. } => {
                    slot.waiting = true;
                    slot = self.settled.wait(slot).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    }

    /// On the committing thread: sends the reply (or, if the commit failed, the
    /// not-recorded reply) as far as the socket takes it now, and settles.
    fn deliver(self: &Arc<Self>, committed: bool) {
        let line = {
            let mut slot = self.lock();
            if !matches!(slot.stage, Stage::Committing { .. }) {
                return;
            }
            if !committed {
                let charset = slot.charset;
                slot.line.clear();
                let text = Reply::NotRecorded.to_string();
                crate::wire::encode_line(&text, charset, &mut slot.line);
            }
            // Sent with the lock released: the connection thread may meanwhile say it
            // is waiting for a message, but it does not touch the line.
            mem::take(&mut slot.line)
        };
        let result = self.courier.try_send(&line);
        let mut slot = self.lock();
        slot.line = line;
        match result {
            Ok(n) => slot.sent = n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                slot.sent = 0;
            }
            Err(e) => return self.finish(slot, committed, Some(e.kind())),
        }
        let reading = slot.stage == (Stage::Committing { reading: true });
        if slot.sent >= slot.line.len() || !reading {
            return self.finish(slot, committed, None);
        }
        slot.stage = Stage::Rescuing { committed };
        drop(slot);
        debug!("a purchase reply did not fit in the socket; a helper thread sends the rest");
        let outbox = Arc::clone(self);
        let spawned = thread::Builder::new()
            .name("reply".into())
            .stack_size(RESCUE_STACK)
            .spawn(move || outbox.rescue(committed));
        if let Err(e) = spawned {
            // Without a thread to send it the reply cannot go out, and the customer may
            // be waiting for it: end the connection rather than leave both waiting.
            warn!("cannot start a thread to send a purchase reply ({e}); ending that connection");
            self.courier.cut();
            let slot = self.lock();
            self.finish(slot, committed, Some(e.kind()));
        }
    }

    /// On a rescue thread: sends the rest of the reply, waiting as the socket allows.
    fn rescue(&self, committed: bool) {
        let (line, sent) = {
            let mut slot = self.lock();
            (mem::take(&mut slot.line), slot.sent)
        };
        let result = self.courier.send_all(&line[sent.min(line.len())..]);
        let mut slot = self.lock();
        slot.sent = line.len();
        slot.line = line;
        self.finish(slot, committed, result.err().map(|e| e.kind()));
    }

    fn finish(
        &self,
        mut slot: MutexGuard<'_, Slot>,
        committed: bool,
        error: Option<io::ErrorKind>,
    ) {
        slot.stage = Stage::Settled { committed, error };
        if slot.waiting {
            slot.waiting = false;
            self.settled.notify_one();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Takes the settled outcome out of `slot`, leaving it idle.
fn take(slot: &mut Slot, committed: bool, error: Option<io::ErrorKind>) -> Outcome {
    let rest = match error {
        None => slot.line.get(slot.sent..).unwrap_or_default().to_vec(),
        Some(_) => Vec::new(),
    };
    slot.stage = Stage::Idle;
    slot.waiting = false;
    slot.sent = 0;
    Outcome {
        committed,
        rest,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A socket that takes `room` bytes without waiting, or fails with `error`; once
    /// full, `send_all` takes the rest (as a customer who starts reading again).
    struct Fake {
        sent: Mutex<Vec<u8>>,
        room: AtomicUsize,
        error: Option<io::ErrorKind>,
        cut: AtomicUsize,
    }

    impl Fake {
        fn new(room: usize, error: Option<io::ErrorKind>) -> Arc<Fake> {
            Arc::new(Fake {
                sent: Mutex::new(Vec::new()),
                room: AtomicUsize::new(room),
                error,
                cut: AtomicUsize::new(0),
            })
        }

        fn sent(&self) -> Vec<u8> {
            self.sent.lock().unwrap().clone()
        }
    }

    impl Courier for Fake {
        fn try_send(&self, bytes: &[u8]) -> io::Result<usize> {
            if let Some(kind) = self.error {
                return Err(kind.into());
            }
            let n = bytes.len().min(self.room.load(Ordering::Acquire));
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.room.fetch_sub(n, Ordering::AcqRel);
            self.sent.lock().unwrap().extend_from_slice(&bytes[..n]);
            Ok(n)
        }

        fn send_all(&self, bytes: &[u8]) -> io::Result<()> {
            // The customer reads again a little later.
            thread::sleep(Duration::from_millis(20));
            self.sent.lock().unwrap().extend_from_slice(bytes);
            Ok(())
        }

        fn cut(&self) {
            self.cut.fetch_add(1, Ordering::AcqRel);
        }
    }

    const LINE: &[u8] = b"bought, spent -2\r\n";

    fn not_recorded_gbk() -> Vec<u8> {
        let mut line = Vec::new();
        crate::wire::encode_line(&Reply::NotRecorded.to_string(), Charset::Gbk, &mut line);
        line
    }

    /// One way a purchase reply can go.
    struct Case {
        name: &'static str,
        /// Bytes the socket takes without waiting.
        room: usize,
        /// The socket fails this way.
        error: Option<io::ErrorKind>,
        /// The connection thread waits for a message before the commit ends.
        reading: bool,
        committed: bool,
        /// What the customer got.
        got: Vec<u8>,
        /// What the connection thread learns when it settles.
        want: Outcome,
    }

    fn outcome(committed: bool, rest: &[u8], error: Option<io::ErrorKind>) -> Outcome {
        Outcome {
            committed,
            rest: rest.to_vec(),
            error,
        }
    }

    #[test]
    fn who_sends_what() {
        let reset = Some(io::ErrorKind::ConnectionReset);
        let cases = [
            Case {
                name: "fits, reading",
                room: 1024,
                error: None,
                reading: true,
                committed: true,
                got: LINE.to_vec(),
                want: outcome(true, b"", None),
            },
            Case {
                name: "fits, not reading",
                room: 1024,
                error: None,
                reading: false,
                committed: true,
                got: LINE.to_vec(),
                want: outcome(true, b"", None),
            },
            Case {
                name: "full, connection thread busy: it sends the rest",
                room: 3,
                error: None,
                reading: false,
                committed: true,
                got: LINE[..3].to_vec(),
                want: outcome(true, &LINE[3..], None),
            },
            Case {
                name: "nothing fits, connection thread busy",
                room: 0,
                error: None,
                reading: false,
                committed: true,
                got: vec![],
                want: outcome(true, LINE, None),
            },
            Case {
                name: "full, connection thread waiting for a message: a rescue thread sends it",
                room: 3,
                error: None,
                reading: true,
                committed: true,
                got: LINE.to_vec(),
                want: outcome(true, b"", None),
            },
            Case {
                name: "commit failed: the not-recorded reply instead",
                room: 1024,
                error: None,
                reading: true,
                committed: false,
                got: not_recorded_gbk(),
                want: outcome(false, b"", None),
            },
            Case {
                name: "customer gone",
                room: 1024,
                error: reset,
                reading: true,
                committed: true,
                got: vec![],
                want: outcome(true, b"", reset),
            },
        ];
        for case in cases {
            let name = case.name;
            let fake = Fake::new(case.room, case.error);
            let outbox = Outbox::new(fake.clone());
            outbox.arm(LINE, Charset::Gbk);
            if case.reading {
                assert_eq!(outbox.before_wait(), None, "{name}: not settled yet");
            }
            outbox.then()(case.committed);
            assert_eq!(outbox.settle(), Some(case.want), "{name}");
            assert_eq!(fake.sent(), case.got, "{name}");
            assert_eq!(outbox.settle(), None, "{name}: nothing left in flight");
        }
    }

    /// The outcome that arrives before the connection thread waits is taken then, and
    /// the connection thread, not a rescue thread, sends what did not fit.
    #[test]
    fn an_outcome_already_in_is_taken_before_waiting() {
        let fake = Fake::new(5, None);
        let outbox = Outbox::new(fake.clone());
        outbox.arm(LINE, Charset::Utf8);
        outbox.then()(true);
        let outcome = outbox.before_wait().expect("settled");
        assert_eq!(outcome.rest, LINE[5..].to_vec());
        assert_eq!(fake.sent(), LINE[..5].to_vec());
        assert_eq!(outbox.before_wait(), None);
        assert_eq!(fake.cut.load(Ordering::Acquire), 0);
    }

    /// A connection thread that got its message and settles before the commit ends
    /// sends what did not fit itself: no rescue thread.
    #[test]
    fn no_rescue_once_the_message_has_come() {
        let fake = Fake::new(3, None);
        let outbox = Outbox::new(fake.clone());
        outbox.arm(LINE, Charset::Gbk);
        assert_eq!(outbox.before_wait(), None);
        let then = outbox.then();
        let committer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            then(true);
        });
        let outcome = outbox.settle().expect("a sale in flight");
        assert_eq!(outcome.rest, LINE[3..].to_vec(), "left to this thread");
        assert_eq!(
            fake.sent(),
            LINE[..3].to_vec(),
            "no rescue thread sent the rest"
        );
        committer.join().unwrap();
    }

    /// The connection thread that settles while the committer is still at work waits
    /// for it, and both see the same outcome.
    #[test]
    fn settle_waits_for_a_commit_in_progress() {
        let fake = Fake::new(1024, None);
        let outbox = Outbox::new(fake.clone());
        outbox.arm(LINE, Charset::Gbk);
        let then = outbox.then();
        let committer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            then(true);
        });
        let outcome = outbox.settle().expect("a sale in flight");
        assert!(outcome.committed);
        assert_eq!(fake.sent(), LINE.to_vec());
        committer.join().unwrap();
    }
}
