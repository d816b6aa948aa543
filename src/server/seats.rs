//! Seats: how many customers are served at once.
//!
//! A seat is a guard ([`Seat`]) that frees itself when dropped, so no code path can leak
//! one. The live map behind it (seat id to socket) is also how shutdown reaches every
//! connected customer.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

use super::Context;

/// A seat for one live customer. Dropping it frees the seat.
pub(super) struct Seat {
    ctx: Arc<Context>,
    id: u64,
}

impl Context {
    pub(super) fn lock_live(&self) -> MutexGuard<'_, HashMap<u64, Arc<TcpStream>>> {
        // A panic elsewhere cannot leave the map half-updated, so a poisoned lock is
        // still safe to use.
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn take_seat(self: &Arc<Self>, stream: &Arc<TcpStream>) -> Option<Seat> {
        let mut live = self.lock_live();
        if live.len() >= self.config.max_clients {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        live.insert(id, stream.clone());
        Some(Seat {
            ctx: self.clone(),
            id,
        })
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        // Taken out first, so the socket (if this was the last handle) closes after the
        // lock is released: no I/O under the lock.
        let stream = self.ctx.lock_live().remove(&self.id);
        drop(stream);
    }
}
