//! Who has been silent longest, for seating a newcomer in a full shop.
//!
//! Idle sockets can fill every seat (17 addresses × 64 silent connections did, for the
//! whole idle timeout), and a real student is then told 客满. So when every seat is
//! taken, the customer silent longest is let go for the newcomer, if they have been
//! silent for at least [`SILENT_SEAT_AFTER`].
//!
//! Each seat has a [`Presence`]: when its customer was last heard (any bytes), set by
//! the connection's own thread with one relaxed store per read, and whether it has
//! been let go. Finding the longest silent must not cost a scan of every seat under
//! the seats lock for each newcomer (10,000 seats are possible): [`Silence`] scans at
//! most once per [`RESCAN_AFTER`] when nobody qualified, and a scan keeps the
//! [`CANDIDATES`] longest silent in order, so the newcomers after it cost O(1) each
//! (a candidate who spoke since, or left, is skipped). Measured on the 2-core VM with an
//! optimised build: a scan of 10,000 seats takes 26 µs (nobody silent enough) to 65 µs
//! (everyone), so a full house under a stream of newcomers spends at most about 0.1 ms
//! a second on it, or about 1 µs per newcomer seated.

use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use log::debug;

use super::Context;
use super::connection::ReplyWriter;
use super::watched::READS_POLL_FOR_STOP;
use crate::shop::Reply;

/// How long a customer must have been silent before their seat can go to a newcomer
/// in a full shop. Students pause to read, think and type; 30 s of silence is longer
/// than any of that, and far shorter than the idle timeout (300 s) that frees such a
/// seat anyway.
pub const SILENT_SEAT_AFTER: Duration = Duration::from_secs(30);

/// Most seats a scan remembers as candidates, longest silent first: enough for a
/// class arriving at once, few enough that keeping them in order is cheap.
const CANDIDATES: usize = 64;

/// After a scan found nobody silent long enough, the earliest next scan: a full shop
/// under a stream of newcomers scans at most this often.
const RESCAN_AFTER: Duration = Duration::from_millis(250);

/// One seat's customer as the seat map sees them.
#[derive(Debug)]
pub(super) struct Presence {
    /// The clock's start: [`Silence`]'s, so both count the same milliseconds.
    epoch: Instant,
    /// Milliseconds since `epoch` when this customer last sent anything.
    heard: AtomicU64,
    /// Set once their seat has been given to a newcomer.
    let_go: AtomicBool,
}

impl Presence {
    fn new(epoch: Instant, now_ms: u64) -> Presence {
        Presence {
            epoch,
            heard: AtomicU64::new(now_ms),
            let_go: AtomicBool::new(false),
        }
    }

    /// Notes that the customer sent something just now.
    pub(super) fn heard(&self) {
        self.heard
            .store(millis(self.epoch.elapsed()), Ordering::Relaxed);
    }

    /// How long the customer has been silent.
    pub(super) fn silent_for(&self) -> Duration {
        Duration::from_millis(millis(self.epoch.elapsed()).saturating_sub(self.last_heard()))
    }

    /// True once the seat has been given to a newcomer.
    pub(super) fn is_let_go(&self) -> bool {
        self.let_go.load(Ordering::Acquire)
    }

    fn last_heard(&self) -> u64 {
        self.heard.load(Ordering::Relaxed)
    }
}

/// The longest-silent search; lives in the seat map, under its lock.
#[derive(Debug)]
pub(super) struct Silence {
    started: Instant,
    /// Seat ids with when they were last heard at the scan, longest silent last.
    candidates: Vec<(u64, u64)>,
    /// No scan before this (ms since `started`).
    next_scan: u64,
}

impl Default for Silence {
    fn default() -> Self {
        Silence {
            started: Instant::now(),
            candidates: Vec::new(),
            next_scan: 0,
        }
    }
}

impl Silence {
    /// The presence of a customer seated just now.
    pub(super) fn arrived(&self) -> Presence {
        Presence::new(self.started, self.now_ms())
    }

    /// Milliseconds since the server started: the clock of [`Presence`].
    fn now_ms(&self) -> u64 {
        millis(self.started.elapsed())
    }

    /// Picks the seat silent longest, if silent for at least `after`, and marks it let
    /// go. `seats` maps seat ids to their presence.
    pub(super) fn let_go<'a>(
        &mut self,
        seats: impl Fn(u64) -> Option<&'a Presence>,
        all: impl Iterator<Item = (u64, &'a Presence)>,
        after: Duration,
    ) -> Option<u64> {
        let (now, after) = (self.now_ms(), millis(after));
        if self.candidates.is_empty() {
            if now < self.next_scan {
                return None;
            }
            self.scan(all, now, after);
        }
        while let Some((id, heard)) = self.candidates.pop() {
            let Some(presence) = seats(id) else { continue };
            // Spoken since the scan, or already let go: no longer a candidate.
            if presence.last_heard() != heard || presence.is_let_go() {
                continue;
            }
            presence.let_go.store(true, Ordering::Release);
            return Some(id);
        }
        None
    }

    /// Remembers the longest silent seats, or when to look again if there are none.
    fn scan<'a>(&mut self, all: impl Iterator<Item = (u64, &'a Presence)>, now: u64, after: u64) {
        let mut earliest = u64::MAX;
        self.candidates.clear();
        for (id, presence) in all {
            if presence.is_let_go() {
                continue;
            }
            let heard = presence.last_heard();
            if now.saturating_sub(heard) >= after {
                self.candidates.push((id, heard));
            } else {
                earliest = earliest.min(heard.saturating_add(after));
            }
        }
        if self.candidates.len() > CANDIDATES {
            self.candidates
                .select_nth_unstable_by_key(CANDIDATES, |&(_, heard)| heard);
            self.candidates.truncate(CANDIDATES);
        }
        // Longest silent (earliest heard) last, for `pop`.
        self.candidates
            .sort_unstable_by_key(|&(_, heard)| std::cmp::Reverse(heard));
        if self.candidates.is_empty() {
            self.next_scan = earliest.max(now.saturating_add(millis(RESCAN_AFTER)));
        }
    }
}

impl Context {
    /// Tells a customer let go for a newcomer why, in the shop's first charset (their
    /// thread is past its conversation). Returns how long they had been silent, in
    /// seconds.
    pub(super) fn tell_let_go(&self, stream: &TcpStream, peer: &str, presence: &Presence) -> u64 {
        let silent = presence.silent_for().as_secs();
        let charset = self.config.wire.greeting_charset();
        if let Err(e) = ReplyWriter::new(stream).send(&Reply::SeatGiven(silent), charset) {
            debug!("{peer}: could not say why they were let go: {e}");
        }
        silent
    }
}

/// Wakes a customer let go for a newcomer: their thread, waiting for their next
/// message, then tells them why and closes. On Linux shutting the read side down wakes
/// the read; where it does not (Windows), reads poll and see the mark themselves.
pub(super) fn wake(stream: &TcpStream) {
    if !READS_POLL_FOR_STOP {
        let _ = stream.shutdown(Shutdown::Read);
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn let_go(silence: &mut Silence, seats: &HashMap<u64, Presence>, after_ms: u64) -> Option<u64> {
        silence.let_go(
            |id| seats.get(&id),
            seats.iter().map(|(id, p)| (*id, p)),
            Duration::from_millis(after_ms),
        )
    }

    #[test]
    fn the_longest_silent_goes_first_and_only_past_the_threshold() {
        let mut silence = Silence::default();
        let now = 200_000;
        silence.started -= Duration::from_millis(now);
        // Seat i was last heard i seconds ago.
        let seats: HashMap<u64, Presence> = (0..200)
            .map(|i| (i, Presence::new(silence.started, now - i * 1000)))
            .collect();
        // Silent for 150 s or more: seats 150..199, longest silent first.
        let picked: Vec<u64> =
            std::iter::from_fn(|| let_go(&mut silence, &seats, 150_000)).collect();
        assert_eq!(picked, (150..200).rev().collect::<Vec<u64>>());
        assert!(seats[&199].is_let_go() && !seats[&149].is_let_go());
        // Nobody else qualifies, and the next look does not scan before its time.
        assert_eq!(let_go(&mut silence, &seats, 150_000), None);
        assert!(silence.next_scan > silence.now_ms());
    }

    #[test]
    fn a_candidate_who_spoke_since_the_scan_is_skipped() {
        let mut silence = Silence::default();
        silence.started -= Duration::from_secs(100);
        let seats: HashMap<u64, Presence> = (0..100)
            .map(|i| (i, Presence::new(silence.started, i * 10)))
            .collect();
        assert_eq!(let_go(&mut silence, &seats, 1000), Some(0));
        // Seats 1 and 2 speak; 3 is the longest silent now.
        seats[&1].heard();
        seats[&2].heard();
        assert_eq!(let_go(&mut silence, &seats, 1000), Some(3));
        // More candidates than one scan keeps: a later scan finds the rest, in order.
        let picked: Vec<u64> = std::iter::from_fn(|| let_go(&mut silence, &seats, 1000)).collect();
        assert_eq!(picked, (4..100).collect::<Vec<u64>>());
    }
}
