//! A counter's connection that comes back by itself: [`Link`] holds a [`PgLedger`] and,
//! once the database is lost (stopped, restarted, network cut), fails every batch at
//! once and reconnects with exponential backoff, at most one attempt per
//! delay. It logs once per outage and once on recovery, never a line per customer.
//!
//! A batch whose commit the lost connection cut off ([`super::doubt`]) is looked up at
//! once on a new connection, so that its customers hear the truth; if that cannot be
//! done yet, its customers are told "not recorded", and the lookup is done at the next
//! reconnect, logging any of them that was recorded after all.

use std::time::{Duration, Instant};

use log::{info, warn};

use super::doubt::Doubt;
use super::{Outcome, PendingSale, PgError, PgLedger};

/// Most batches in doubt kept for a later lookup: one is added per connection lost
/// mid-commit, so only a database lost again and again without a working reconnect
/// fills it; the oldest is then dropped, with a log line.
pub const MAX_DOUBTS: usize = 64;

/// The delay before the first reconnect attempt after an outage begins: a database
/// restart takes about a second, so the first tries come soon.
pub const FIRST_RETRY: Duration = Duration::from_millis(100);

/// The longest delay between attempts: a counter notices a database that is back
/// within this, and an unreachable one costs one connect timeout per delay at most.
pub const MAX_RETRY: Duration = Duration::from_secs(5);

/// An outage in progress.
struct Down {
    since: Instant,
    next_try: Instant,
    delay: Duration,
    /// Purchases failed since the outage began.
    failed: u64,
}

/// A counter's ledger connection, reconnecting with backoff.
pub struct Link {
    url: String,
    counter: String,
    ledger: Option<PgLedger>,
    down: Option<Down>,
    /// Batches in doubt whose customers were told "not recorded", oldest first.
    doubts: Vec<Doubt>,
}

impl Link {
    /// Connects (failing at once, for the start to report) and keeps the URL and
    /// counter for reconnecting.
    pub fn open(url: &str, counter: &str) -> Result<Link, PgError> {
        let ledger = PgLedger::connect(url, counter)?;
        Ok(Link {
            url: url.to_string(),
            counter: counter.to_string(),
            ledger: Some(ledger),
            down: None,
            doubts: Vec::new(),
        })
    }

    /// True while connected (as far as is known: a lost connection shows at its next
    /// use).
    pub fn is_up(&self) -> bool {
        self.ledger.is_some()
    }

    /// Commits `batch` as [`PgLedger::commit`] does. While the database is lost every
    /// sale is [`Outcome::Failed`] at once, without waiting, except when a reconnect is
    /// due: then that attempt (bounded by the connect timeout) comes first.
    pub fn commit(&mut self, batch: &[PendingSale]) -> Vec<Outcome> {
        let doubts = self.doubts.len();
        if let Ok(outcomes) = self.with(|ledger| ledger.try_commit(batch)) {
            return outcomes;
        }
        let mut outcomes = vec![Outcome::Failed; batch.len()];
        if self.doubts.len() > doubts
            && let Some(mine) = self.doubts.pop()
        {
            // Cut off mid-commit: one reconnect at once, whatever the backoff says.
            if let Some(down) = &mut self.down {
                down.next_try = Instant::now();
            }
            match self.with(|ledger| ledger.resolve(&mine)) {
                Ok(found) => {
                    for (outcome, found) in outcomes.iter_mut().zip(found) {
                        if found {
                            *outcome = Outcome::Recorded;
                        }
                    }
                }
                Err(_) => self.push_doubt(mine),
            }
        }
        if let Some(down) = &mut self.down {
            down.failed += outcomes.iter().filter(|o| **o == Outcome::Failed).count() as u64;
        }
        outcomes
    }

    /// Runs `f` on the connection, reconnecting first if one is due. An error that
    /// left the connection closed starts (or continues) an outage.
    pub fn with<T>(
        &mut self,
        f: impl FnOnce(&mut PgLedger) -> Result<T, PgError>,
    ) -> Result<T, PgError> {
        let ledger = match &mut self.ledger {
            Some(ledger) => ledger,
            None => self.reconnect()?,
        };
        let result = f(ledger);
        if let Err(e) = &result
            && ledger.is_closed()
        {
            if let Some(doubt) = ledger.take_doubt() {
                self.push_doubt(doubt);
            }
            self.ledger = None;
            self.lost(e);
        }
        result
    }

    /// A new connection if the backoff allows one now.
    fn reconnect(&mut self) -> Result<&mut PgLedger, PgError> {
        let now = Instant::now();
        if let Some(down) = &self.down
            && now < down.next_try
        {
            return Err(PgError::Query {
                place: self.url_place(),
                cause: "not connected (reconnecting)".into(),
            });
        }
        match PgLedger::connect(&self.url, &self.counter) {
            Ok(ledger) => {
                if let Some(down) = self.down.take() {
                    info!(
                        "ledger {}: connected again after {:.1} s; {} purchases could not be recorded meanwhile",
                        ledger.place(),
                        down.since.elapsed().as_secs_f64(),
                        down.failed
                    );
                }
                let ledger = self.ledger.insert(ledger);
                settle(ledger, &mut self.doubts);
                Ok(ledger)
            }
            Err(e) => {
                self.lost(&e);
                Err(e)
            }
        }
    }

    /// Starts an outage (logged) or schedules the next attempt (not logged).
    fn lost(&mut self, e: &PgError) {
        let now = Instant::now();
        match &mut self.down {
            Some(down) => {
                down.delay = (down.delay * 2).min(MAX_RETRY);
                down.next_try = now + down.delay;
            }
            None => {
                warn!(
                    "{e}: sales cannot be recorded; reconnecting with backoff (logged once until it works again)"
                );
                self.down = Some(Down {
                    since: now,
                    next_try: now + FIRST_RETRY,
                    delay: FIRST_RETRY,
                    failed: 0,
                });
            }
        }
    }

    fn push_doubt(&mut self, doubt: Doubt) {
        if self.doubts.len() >= MAX_DOUBTS {
            let oldest = self.doubts.remove(0);
            warn!(
                "ledger {}: too many batches in doubt; {} purchases told 'not recorded' will not be checked",
                self.url_place(),
                oldest.len()
            );
        }
        self.doubts.push(doubt);
    }

    fn url_place(&self) -> String {
        std::str::FromStr::from_str(&self.url)
            .map(|c| super::place(&c))
            .unwrap_or_else(|_| "(unreadable URL)".into())
    }
}

/// Looks up the batches in doubt on a new connection, logging the purchases that were
/// recorded though their customers were told otherwise; keeps those it cannot look up.
fn settle(ledger: &mut PgLedger, doubts: &mut Vec<Doubt>) {
    let mut kept = Vec::new();
    for doubt in doubts.drain(..) {
        match ledger.resolve(&doubt) {
            Ok(found) => {
                let recorded = found.iter().filter(|f| **f).count();
                if recorded > 0 {
                    warn!(
                        "ledger {}: {recorded} of {} purchases cut off with the connection were recorded after all, though their customers were told they could not be",
                        ledger.place(),
                        doubt.len()
                    );
                }
            }
            Err(_) => kept.push(doubt),
        }
    }
    *doubts = kept;
}
