//! The thread cache: one thread per connection, kept for the next customer.
//!
//! When a customer leaves, the thread parks for a while and is handed the next accepted
//! connection, instead of exiting (as MySQL's `thread_cache_size` does). Spawning a
//! thread costs more than serving a short session.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, MutexGuard};

use super::Context;
use super::seats::Seat;
use crate::wire::linger::linger;

/// An accepted customer on its way to a thread.
pub(super) struct Job {
    pub(super) stream: Arc<TcpStream>,
    pub(super) peer: SocketAddr,
    /// The seat frees itself when the job is done; it also says when the customer was
    /// last heard, and whether they were let go for a newcomer.
    pub(super) seat: Seat,
}

impl Context {
    pub(super) fn lock_parked(&self) -> MutexGuard<'_, Vec<(u64, Sender<Job>)>> {
        crate::lock::lock(&self.parked)
    }

    /// Hands a customer to a parked thread, or gives it back if none is parked.
    pub(super) fn hand_to_parked(&self, mut job: Job) -> Result<(), Job> {
        loop {
            let Some((_, sender)) = self.lock_parked().pop() else {
                return Err(job);
            };
            match sender.send(job) {
                Ok(()) => return Ok(()),
                // That thread is gone; try the next one.
                Err(mpsc::SendError(back)) => job = back,
            }
        }
    }

    /// A connection thread: serves customers until the cache has no room for it, it
    /// has waited too long for the next one, or the server stops.
    pub(super) fn work(self: Arc<Self>, first: Job) {
        let mut job = first;
        let worker = self.next_worker.fetch_add(1, Ordering::Relaxed);
        loop {
            let finished = self.serve(job, worker);
            match self.park(worker, finished) {
                Some(next) => job = next,
                None => return,
            }
        }
    }

    /// Closes the finished connection and waits for the next customer; `None` means
    /// this thread should exit.
    ///
    /// The thread joins the parked list *before* the old socket is closed, and the
    /// goodbye waits in the socket for that close (see [`Sink`](crate::wire::stream::Sink)). A customer
    /// who reconnects the moment it sees the goodbye (a script looping over short
    /// sessions) then finds this thread waiting, instead of paying for a new one.
    fn park(&self, worker: u64, finished: Job) -> Option<Job> {
        let receiver = self.join_parked(worker);
        finished.close(self);
        let receiver = receiver?;
        match receiver.recv_timeout(self.config.parked_lifetime) {
            Ok(job) => Some(job),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                let mut parked = self.lock_parked();
                if let Some(i) = parked.iter().position(|(id, _)| *id == worker) {
                    parked.swap_remove(i);
                    return None;
                }
                drop(parked);
                // The accept loop took our sender just now: a customer is on its way
                // (or shutdown dropped the sender, and this returns at once).
                receiver.recv().ok()
            }
        }
    }

    /// Puts this thread on the parked list; `None` if the server is stopping or the
    /// cache is full, and the thread should exit instead.
    fn join_parked(&self, worker: u64) -> Option<Receiver<Job>> {
        let mut parked = self.lock_parked();
        // Checked under the lock: shutdown sets `stopping` before it empties the list
        // under this lock, so a thread either sees `stopping` here or is on the list
        // when it is emptied, and wakes. Never parked after shutdown.
        if self.stopping.load(Ordering::Acquire) || parked.len() >= self.config.thread_cache {
            return None;
        }
        let (sender, receiver) = mpsc::channel();
        parked.push((worker, sender));
        Some(receiver)
    }
}

impl Job {
    /// Ends the connection: frees the seat, half-closes, lingers, then closes.
    ///
    /// The seat goes first, so a customer who reconnects on seeing the goodbye is never
    /// told the shop is full because of its own old visit. The half-close sends the
    /// goodbye held back for it (see [`Sink`](crate::wire::stream::Sink)) together with the
    /// FIN. Were the socket closed at once while the customer had sent more than was
    /// read, Linux would reset the connection and drop the goodbye; so the thread first
    /// reads and discards what the customer still sends, until it closes too, for a
    /// bounded time ([`linger`]). At most `max_clients` connections linger at once;
    /// beyond that they close at once, so lingering cannot pile up threads.
    fn close(self, ctx: &Context) {
        let Job { stream, seat, .. } = self;
        // Counted before the seat goes: shutdown waits for both, and never sees a gap.
        let lingering = ctx.lingering.fetch_add(1, Ordering::AcqRel);
        // A customer let go for a newcomer had their read side shut to wake them.
        let let_go = seat.presence.is_let_go();
        drop(seat);
        // Read after the seat is gone: if shutdown had begun by then, it may have shut
        // this socket's read side down (it does so to every seated customer).
        let read_shut = let_go || ctx.stopping.load(Ordering::Acquire);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        if lingering < ctx.config.max_clients {
            linger(&stream, read_shut, || ctx.linger_stop());
        }
        drop(stream);
        ctx.lingering.fetch_sub(1, Ordering::AcqRel);
    }
}
