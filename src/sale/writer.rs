//! The ledger writer: one thread owns the [`Ledger`] and commits for everyone (group
//! commit).
//!
//! A connection thread that has taken a piece calls [`Writer::record`]: the sale goes
//! into a bounded queue, and the thread waits for the commit of the batch it joined.
//! The writer takes everything waiting, commits it in one transaction, and releases
//! that whole batch at once; meanwhile the next sales pile up for the next commit. So
//! one customer pays for one commit and 256 customers share theirs: with `--sync full`
//! throughput grows with the number of customers instead of being one fsync per sale.
//!
//! Three rules, each measured (docs/BENCHMARKS.md):
//! - **A batch is released with one broadcast** (a [`OnceLock`] its waiters wait on),
//!   not one wake-up per customer, which made the writer the bottleneck.
//! - **A slow commit makes the writer gather before the next one.** After a commit that
//!   took at least [`GATHER_FROM`] (a slow fsync), the writer waits for as many sales as
//!   that commit carried, but never longer than the commit took (nor [`MAX_GATHER`]), so
//!   the customers who come back share one fsync instead of taking turns.
//! - **A lone customer commits on their own thread.** When nobody is committing or
//!   waiting and the last commit carried one sale, the hop to the writer and back (two
//!   wake-ups) would dwarf the commit itself.
//!
//! A failed commit fails every sale in it (the transaction rolls back). The writer logs
//! the first failure of a burst, and one line when commits work again.

use std::io;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::Ledger;
use super::store::{Alarm, Store};
use crate::lock::{lock, wait};
use crate::shop::{Recorder, SaleRecord, Verdict};

/// Most sales waiting for the writer at once; a connection thread that finds the queue
/// full waits for room. Each connection has at most one sale in flight, so this only
/// bites beyond this many customers buying at the same instant, and it keeps one
/// commit from growing without bound.
pub const MAX_PENDING: usize = 4096;

/// A commit at least this slow makes the writer gather before the next one (see the
/// module header). Far above a commit without fsync (40-70 µs on the test machine) or
/// with a fast one (about 0.1 ms), near a disk's real flush (3-4 ms on the test VM).
pub const GATHER_FROM: Duration = Duration::from_millis(1);

/// The longest the writer gathers, however slow the last commit was: the customers who
/// came back wait at most this much longer for those who did not.
pub const MAX_GATHER: Duration = Duration::from_millis(20);

/// The outcome of one commit, shared by every sale in it: set once by the writer (the
/// verdict of each sale, in queue order; empty if the commit never ran), waited for by
/// the customers' threads.
type Batch = Arc<OnceLock<Vec<Verdict>>>;

/// A handle to the writer thread. Clone it freely.
#[derive(Clone)]
pub struct Writer {
    shared: Arc<WriterShared>,
}

struct WriterShared {
    queue: Mutex<Queue>,
    /// The ledger, used by whoever commits (see [`Queue::committing`]).
    ledger: Mutex<Store>,
    /// What is wrong with the ledger file now, for the live view; set by commits.
    alarm: Alarm,
    /// Signalled when a sale is queued while the writer sleeps, or on close.
    work: Condvar,
    /// Signalled when the writer takes the queue, making room.
    room: Condvar,
    tuning: Tuning,
    thread: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct Queue {
    sales: Vec<SaleRecord>,
    /// The batch the queued sales belong to; replaced when the writer takes them.
    batch: Batch,
    /// The writer is waiting for work (so a new sale must wake it; while it gathers,
    /// only the sale that brings the queue to `want`).
    writer_idle: bool,
    /// The writer is gathering: it wants this many sales queued before it commits
    /// (see [`GATHER_FROM`]); 0 when it is not.
    want: usize,
    /// A commit is under way, by the writer or by a customer's thread. One at a time:
    /// the queue fills meanwhile, and the writer takes it once this is over.
    committing: bool,
    /// Sales in the last commit. Only after a commit of one sale (few customers) does a
    /// customer's thread commit its own: under load, a lone commit squeezed in between
    /// the writer's batches would cost a whole commit for one sale.
    last_batch: usize,
    /// No more sales are taken; the writer commits what is queued and stops.
    closed: bool,
}

impl Writer {
    /// Starts the writer thread, which owns `ledger` from now on.
    pub fn start(ledger: Box<dyn Ledger>) -> io::Result<Writer> {
        Writer::start_tuned(ledger, Tuning::default())
    }

    fn start_tuned(ledger: Box<dyn Ledger>, tuning: Tuning) -> io::Result<Writer> {
        let alarm = Alarm::default();
        let shared = Arc::new(WriterShared {
            queue: Mutex::new(Queue::default()),
            ledger: Mutex::new(Store::new(ledger, alarm.clone())),
            alarm,
            work: Condvar::new(),
            room: Condvar::new(),
            tuning,
            thread: Mutex::new(None),
        });
        let writer = Arc::clone(&shared);
        let handle = thread::Builder::new()
            .name("ledger".into())
            .spawn(move || write_loop(&writer))?;
        *lock(&shared.thread) = Some(handle);
        Ok(Writer { shared })
    }

    /// Queues `sale`, or commits it here when that is cheaper (see the module header).
    fn enqueue(&self, sale: SaleRecord) -> Enqueued {
        let mut queue = lock(&self.shared.queue);
        while queue.sales.len() >= self.shared.tuning.max_pending && !queue.closed {
            queue = wait(&self.shared.room, queue);
        }
        if queue.closed {
            return Enqueued::Done(Verdict::NotRecorded);
        }
        if !queue.committing && queue.sales.is_empty() && queue.last_batch <= 1 {
            queue.committing = true;
            drop(queue);
            return Enqueued::Done(self.commit_here(&sale));
        }
        let place = queue.sales.len();
        queue.sales.push(sale);
        if queue.writer_idle && !queue.committing && queue.sales.len() >= queue.want {
            queue.writer_idle = false;
            self.shared.work.notify_one();
        }
        Enqueued::Queued(Arc::clone(&queue.batch), place)
    }

    /// Commits one sale on the caller's thread; `committing` is already set.
    fn commit_here(&self, sale: &SaleRecord) -> Verdict {
        // Clears `committing` and hands over what queued meanwhile, also if the
        // ledger panics: otherwise the writer would wait for this commit forever.
        struct Done<'a>(&'a WriterShared);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                let mut queue = lock(&self.0.queue);
                queue.committing = false;
                if !queue.sales.is_empty() && queue.writer_idle {
                    queue.writer_idle = false;
                    self.0.work.notify_one();
                }
            }
        }
        let _done = Done(&self.shared);
        commit(&self.shared.ledger, std::slice::from_ref(sale))
            .first()
            .copied()
            .unwrap_or(Verdict::NotRecorded)
    }
}

impl Recorder for Writer {
    /// Hands `sale` to the writer and waits until it is committed or has failed.
    fn record(&self, sale: SaleRecord) -> Verdict {
        match self.enqueue(sale) {
            Enqueued::Done(verdict) => verdict,
            Enqueued::Queued(batch, place) => batch
                .wait()
                .get(place)
                .copied()
                .unwrap_or(Verdict::NotRecorded),
        }
    }

    /// Stops taking sales, lets the writer commit what is queued, and waits for it.
    /// Later calls to [`Recorder::record`] fail at once.
    fn close(&self) {
        {
            let mut queue = lock(&self.shared.queue);
            queue.closed = true;
            self.shared.work.notify_all();
            self.shared.room.notify_all();
        }
        let handle = lock(&self.shared.thread).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        // Closing the ledger (SQLite: the connection) folds the write-ahead log into
        // the file and removes it, so after a clean shutdown the ledger is one
        // self-contained file that a teacher can copy. Dropped outside the lock.
        let ledger = lock(&self.shared.ledger).close();
        drop(ledger);
    }

    fn alarm(&self) -> Option<String> {
        self.shared.alarm.get()
    }
}

/// The writer's limits: the constants above, smaller or larger in tests.
#[derive(Debug, Clone, Copy)]
struct Tuning {
    /// Most sales queued at once: [`MAX_PENDING`].
    max_pending: usize,
    /// [`MAX_GATHER`].
    max_gather: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            max_pending: MAX_PENDING,
            max_gather: MAX_GATHER,
        }
    }
}

/// Where [`Writer::enqueue`] left a sale.
enum Enqueued {
    /// Committed (or failed) on the caller's thread.
    Done(Verdict),
    /// Queued for the writer, in this batch, at this place.
    Queued(Batch, usize),
}

/// The writer thread: take everything queued, commit it, release the batch, repeat.
fn write_loop(shared: &WriterShared) {
    // If this thread ever ends (closed, or a panic inside the ledger), whoever is still
    // queued is told the sale failed, and no one waits forever.
    let _guard = FailQueued(shared);
    let mut sales = Vec::new();
    // After a slow commit: how many sales it carried, and until when to wait for as many.
    let mut gather: Option<(usize, Instant)> = None;
    loop {
        let batch = {
            let mut queue = lock(&shared.queue);
            if let Some((want, until)) = gather.take() {
                queue = gather_for(shared, queue, want, until);
            }
            while queue.sales.is_empty() || queue.committing {
                if queue.closed && queue.sales.is_empty() {
                    return;
                }
                queue.writer_idle = true;
                queue = wait(&shared.work, queue);
            }
            queue.writer_idle = false;
            queue.committing = true;
            queue.last_batch = queue.sales.len();
            mem::swap(&mut queue.sales, &mut sales);
            shared.room.notify_all();
            mem::take(&mut queue.batch)
        };
        let started = Instant::now();
        let committed = commit(&shared.ledger, &sales);
        let took = started.elapsed();
        if took >= GATHER_FROM && sales.len() > 1 {
            let wait = took.min(shared.tuning.max_gather);
            gather = Some((sales.len(), Instant::now() + wait));
        }
        lock(&shared.queue).committing = false;
        let _ = batch.set(committed);
        sales.clear();
    }
}

/// Waits until `want` sales are queued, `until` passes, or the recorder closes; see
/// [`GATHER_FROM`].
fn gather_for<'a>(
    shared: &'a WriterShared,
    mut queue: MutexGuard<'a, Queue>,
    want: usize,
    until: Instant,
) -> MutexGuard<'a, Queue> {
    queue.want = want;
    while queue.sales.len() < want && !queue.closed {
        let Some(left) = until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        else {
            break;
        };
        queue.writer_idle = true;
        queue = match shared.work.wait_timeout(queue, left) {
            Ok((queue, _)) => queue,
            Err(e) => e.into_inner().0,
        };
    }
    queue.want = 0;
    queue.writer_idle = false;
    queue
}

/// Commits `sales`. A ledger that panics fails the commit, rather than leaving the
/// customers of the batch waiting for an outcome that never comes.
fn commit(ledger: &Mutex<Store>, sales: &[SaleRecord]) -> Vec<Verdict> {
    panic::catch_unwind(AssertUnwindSafe(|| lock(ledger).commit(sales))).unwrap_or_default()
}

struct FailQueued<'a>(&'a WriterShared);

impl Drop for FailQueued<'_> {
    fn drop(&mut self) {
        let mut queue = lock(&self.0.queue);
        queue.closed = true;
        queue.sales.clear();
        let _ = queue.batch.set(Vec::new());
        self.0.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sale::LedgerError;
    use crate::shop::catalog::Price;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::SystemTime;

    /// Counts commits and can be told to fail.
    struct Probe {
        commits: Arc<AtomicUsize>,
        rows: Arc<AtomicUsize>,
        fail: Arc<AtomicBool>,
    }

    impl Ledger for Probe {
        fn sold(&mut self) -> Result<HashMap<String, u64>, LedgerError> {
            Ok(HashMap::new())
        }
        fn record(&mut self, sales: &[SaleRecord]) -> Result<(), LedgerError> {
            // Slow enough that sales pile up behind a commit, as behind an fsync.
            thread::sleep(Duration::from_millis(2));
            if self.fail.load(Ordering::Acquire) {
                return Err(LedgerError::Io {
                    path: "probe".into(),
                    message: "failed".into(),
                });
            }
            self.commits.fetch_add(1, Ordering::AcqRel);
            self.rows.fetch_add(sales.len(), Ordering::AcqRel);
            Ok(())
        }
        fn describe(&self) -> String {
            "probe".into()
        }
    }

    /// Commits only when the gate is open, recording the largest batch it saw.
    struct Gated {
        open: Arc<(Mutex<bool>, Condvar)>,
        largest: Arc<AtomicUsize>,
    }

    impl Ledger for Gated {
        fn sold(&mut self) -> Result<HashMap<String, u64>, LedgerError> {
            Ok(HashMap::new())
        }
        fn record(&mut self, sales: &[SaleRecord]) -> Result<(), LedgerError> {
            let (open, cond) = &*self.open;
            let mut is_open = open.lock().unwrap();
            while !*is_open {
                is_open = cond.wait(is_open).unwrap();
            }
            self.largest.fetch_max(sales.len(), Ordering::AcqRel);
            Ok(())
        }
        fn describe(&self) -> String {
            "gated".into()
        }
    }

    /// While a commit is stuck, 40 customers pile up behind it: the queue holds at
    /// most its limit, the others wait for room, and once the commit goes through every
    /// sale is recorded, none in a batch above the limit.
    #[test]
    fn the_queue_is_bounded() {
        let open = Arc::new((Mutex::new(false), Condvar::new()));
        let largest = Arc::new(AtomicUsize::new(0));
        let ledger = Gated {
            open: Arc::clone(&open),
            largest: Arc::clone(&largest),
        };
        let tuning = Tuning {
            max_pending: 8,
            ..Tuning::default()
        };
        let recorder = Writer::start_tuned(Box::new(ledger), tuning).unwrap();
        thread::scope(|s| {
            let customers: Vec<_> = (0..40)
                .map(|_| s.spawn(|| recorder.record(sale())))
                .collect();
            // Wait until the queue is full and the rest are waiting for room; the gate
            // opens whatever is seen, so that a failure never leaves threads stuck.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            let mut most = 0;
            while most < 8 && std::time::Instant::now() < deadline {
                most = most.max(lock(&recorder.shared.queue).sales.len());
                thread::sleep(std::time::Duration::from_millis(5));
            }
            thread::sleep(std::time::Duration::from_millis(50));
            most = most.max(lock(&recorder.shared.queue).sales.len());
            *open.0.lock().unwrap() = true;
            open.1.notify_all();
            for c in customers {
                assert_eq!(c.join().unwrap(), Verdict::Recorded);
            }
            assert_eq!(most, 8, "the queue filled to its limit and no further");
        });
        assert!(largest.load(Ordering::Acquire) <= 8);
        recorder.close();
    }

    /// A recorder over a [`Probe`], with the probe's counters and failure switch.
    fn probed() -> (Writer, Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicBool>) {
        let (commits, rows, fail) = (Arc::default(), Arc::default(), Arc::default());
        let recorder = Writer::start(Box::new(Probe {
            commits: Arc::clone(&commits),
            rows: Arc::clone(&rows),
            fail: Arc::clone(&fail),
        }))
        .unwrap();
        (recorder, commits, rows, fail)
    }

    /// Records a sale on a thread of its own, as a customer would, without waiting.
    fn send_off(writer: &Writer) {
        let writer = writer.clone();
        thread::spawn(move || writer.record(sale()));
    }

    fn sale() -> SaleRecord {
        SaleRecord {
            time: SystemTime::now(),
            customer: Arc::from("c"),
            item: "x".into(),
            price: Price(1),
        }
    }

    #[test]
    fn many_customers_share_commits_and_failures_are_answered() {
        let (recorder, commits, rows, fail) = probed();
        thread::scope(|s| {
            for _ in 0..32 {
                let recorder = recorder.clone();
                s.spawn(move || {
                    for _ in 0..20 {
                        assert_eq!(recorder.record(sale()), Verdict::Recorded);
                    }
                });
            }
        });
        assert_eq!(rows.load(Ordering::Acquire), 640);
        let n = commits.load(Ordering::Acquire);
        assert!(n < 640 / 2, "group commit: {n} commits for 640 sales");
        fail.store(true, Ordering::Release);
        assert_eq!(recorder.record(sale()), Verdict::NotRecorded);
        fail.store(false, Ordering::Release);
        assert_eq!(recorder.record(sale()), Verdict::Recorded);
        recorder.close();
        assert_eq!(recorder.record(sale()), Verdict::NotRecorded);
    }

    /// Commits a batch each time the test says so, and tells the test each batch's size
    /// and when it started.
    struct Stepped {
        go: mpsc::Receiver<()>,
        started: mpsc::Sender<(usize, Instant)>,
    }

    impl Ledger for Stepped {
        fn sold(&mut self) -> Result<HashMap<String, u64>, LedgerError> {
            Ok(HashMap::new())
        }
        fn record(&mut self, sales: &[SaleRecord]) -> Result<(), LedgerError> {
            let _ = self.started.send((sales.len(), Instant::now()));
            let _ = self.go.recv_timeout(Duration::from_secs(30));
            Ok(())
        }
        fn describe(&self) -> String {
            "stepped".into()
        }
    }

    /// A recorder over [`Stepped`], gathering for up to `max_gather`: the switch that
    /// ends each commit, and the batches as they start.
    fn stepped(
        max_gather: Duration,
    ) -> (Writer, mpsc::Sender<()>, mpsc::Receiver<(usize, Instant)>) {
        let (go, gate) = mpsc::channel();
        let (tell, started) = mpsc::channel();
        let tuning = Tuning {
            max_gather,
            ..Tuning::default()
        };
        let ledger = Stepped {
            go: gate,
            started: tell,
        };
        let recorder = Writer::start_tuned(Box::new(ledger), tuning).unwrap();
        (recorder, go, started)
    }

    /// Brings the writer to the end of a slow commit of three sales (after one sale
    /// committed alone, as for the first customer): it holds that commit for `slow`,
    /// ends it, and returns when.
    fn three_in_a_slow_commit(
        recorder: &Writer,
        go: &mpsc::Sender<()>,
        started: &mpsc::Receiver<(usize, Instant)>,
        slow: Duration,
    ) -> Instant {
        let wait = Duration::from_secs(20);
        thread::scope(|s| {
            // The first sale is committed on its customer's own thread; three more
            // queue behind it and go in the writer's first batch.
            let first = s.spawn(|| recorder.record(sale()));
            assert_eq!(started.recv_timeout(wait).map(|b| b.0), Ok(1));
            for _ in 0..3 {
                send_off(recorder);
            }
            // The three are queued behind the first commit before it ends.
            let deadline = Instant::now() + wait;
            while lock(&recorder.shared.queue).sales.len() < 3 && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(1));
            }
            go.send(()).unwrap();
            assert_eq!(first.join().unwrap(), Verdict::Recorded);
        });
        assert_eq!(started.recv_timeout(wait).map(|b| b.0), Ok(3));
        thread::sleep(slow);
        go.send(()).unwrap();
        Instant::now()
    }

    /// After a slow commit of three sales, the writer waits for three before the next
    /// commit, and starts it as soon as the third is in: customers who come back one
    /// after the other share one commit instead of taking turns.
    #[test]
    fn a_slow_commit_gathers_the_customers_who_come_back() {
        let (recorder, go, started) = stepped(Duration::from_secs(10));
        let slow = Duration::from_secs(1);
        let ended = three_in_a_slow_commit(&recorder, &go, &started, slow);
        for _ in 0..3 {
            thread::sleep(Duration::from_millis(20));
            send_off(&recorder);
        }
        let (size, at) = started.recv_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(size, 3, "one commit for the three who came back");
        // The third came back about 60 ms after the commit; the gathering could have
        // lasted as long as the commit (1 s).
        let gathered = at - ended;
        assert!(
            gathered < slow * 7 / 10,
            "started once all were in: {gathered:?}"
        );
        go.send(()).unwrap();
        recorder.close();
    }

    /// If only one of them comes back, the writer waits no longer than the last commit
    /// took, and never longer than its limit.
    #[test]
    fn gathering_ends_after_the_commits_time_or_its_limit() {
        let ms = Duration::from_millis;
        // (limit, how long the last commit took, least and most time gathered)
        for (max_gather, slow, least, most) in [
            // As long as the last commit took.
            (ms(10_000), ms(300), ms(240), ms(1_500)),
            // Cut by the limit: far less than the commit took.
            (ms(50), ms(1_200), ms(40), ms(240)),
        ] {
            let (recorder, go, started) = stepped(max_gather);
            let ended = three_in_a_slow_commit(&recorder, &go, &started, slow);
            send_off(&recorder);
            let (size, at) = started.recv_timeout(Duration::from_secs(20)).unwrap();
            assert_eq!(size, 1);
            let gathered = at - ended;
            assert!(
                gathered >= least && gathered < most,
                "limit {max_gather:?}: gathered {gathered:?}"
            );
            go.send(()).unwrap();
            recorder.close();
        }
    }
}
