//! The stock a recorder that decides it (a database shared by several counters) shows
//! in menus, greetings and the live view.

use std::sync::atomic::Ordering;

use super::Shop;
use crate::lock::lock;
use crate::shop::catalog::Price;

impl Shop {
    /// Sales and takings of every counter on a shared ledger together (as of the last
    /// lookup); `None` for a shop whose recorder does not decide stock.
    pub fn shared_totals(&self) -> Option<(u64, Price)> {
        let recorder = self.shared.recorder.as_ref()?;
        recorder.stock(false)?.totals
    }

    /// Takes the recorder's stock view (looked up now with `fresh`), if it decides
    /// stock and the view changed since it was last shown: menus, greetings and the
    /// live view show it. Kept as it was when the recorder cannot look it up.
    pub(super) fn refresh(&self, fresh: bool) {
        let Some(recorder) = self
            .shared
            .recorder
            .as_ref()
            .filter(|_| self.shared.decides)
        else {
            return;
        };
        let Some(view) = recorder.stock(fresh) else {
            return;
        };
        if self.shared.seen.swap(view.generation, Ordering::AcqRel) == view.generation {
            return;
        }
        let counters = lock(&self.shared.counters);
        let mut changed = false;
        for (name, left) in &view.remaining {
            if let Some(counter) = counters.get(name) {
                changed |= counter.set_view(*left);
            }
        }
        drop(counters);
        if changed {
            self.shared.greeting.stale();
        }
    }
}
