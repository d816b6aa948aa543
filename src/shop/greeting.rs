//! The greeting, built once per change of the in-stock set and shared by every customer.
//!
//! It lists every item in stock, so with a big catalog it is big (100,000 items make
//! 1.5 MB). It is built once per change of the in-stock set, not once per customer, and
//! shared: every customer gets the same [`Greeting`] behind an `Arc`, with its line bytes
//! encoded once per charset ([`SharedLine`]). A sell-out only bumps a generation
//! counter; the next customer who needs the greeting rebuilds it, with no lock held
//! while it does. So selling out n items costs O(n), not O(n²).

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::shelf::Shelf;
use crate::lock::lock;
use crate::wire::shared_line::SharedLine;

/// The greeting every customer hears first, and its line bytes per charset.
#[derive(Debug)]
pub struct Greeting {
    line: SharedLine,
    generation: u64,
}

impl Greeting {
    /// The text, without a line terminator.
    pub fn text(&self) -> &str {
        self.line.text()
    }

    /// The text and its encoded line bytes.
    pub(crate) fn line(&self) -> &SharedLine {
        &self.line
    }
}

impl Deref for Greeting {
    type Target = str;
    fn deref(&self) -> &str {
        self.text()
    }
}

impl PartialEq for Greeting {
    fn eq(&self, other: &Greeting) -> bool {
        self.text() == other.text()
    }
}

impl Eq for Greeting {}

/// The last greeting built, and the generation of the in-stock set it lags behind.
pub(crate) struct GreetingCache {
    /// Bumped (after the change) whenever the set of items in stock may have changed:
    /// a sell-out, a piece put back, a reload.
    generation: AtomicU64,
    /// The last greeting built, tagged with the generation it was built for.
    last: Mutex<Arc<Greeting>>,
}

impl GreetingCache {
    pub(crate) fn new() -> GreetingCache {
        GreetingCache {
            // The cached greeting starts out stale (generation 0 < 1).
            generation: AtomicU64::new(1),
            last: Mutex::new(Arc::new(Greeting {
                line: SharedLine::default(),
                generation: 0,
            })),
        }
    }

    /// Marks the greeting as out of date.
    pub(crate) fn stale(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The greeting for `shelf` as it is now: the cached one if nothing changed since.
    pub(crate) fn get(&self, shelf: impl FnOnce() -> Arc<Shelf>) -> Arc<Greeting> {
        // Read before the counts: a change after this load bumps the generation again,
        // so a greeting built from counts newer than its tag is only ever rebuilt once
        // more, never kept when stale.
        let generation = self.generation.load(Ordering::Acquire);
        {
            let cached = lock(&self.last);
            if cached.generation == generation {
                return Arc::clone(&cached);
            }
        }
        let text = super::replies::greeting(shelf().stock());
        let built = Arc::new(Greeting {
            line: SharedLine::new(text),
            generation,
        });
        let mut cached = lock(&self.last);
        if cached.generation < generation {
            *cached = Arc::clone(&built);
        }
        built
    }
}
