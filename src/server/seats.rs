//! Seats: how many customers are served at once, in all and from one address.
//!
//! A seat is a guard ([`Seat`]) that frees itself when dropped, so no code path can leak
//! one. The seat map behind it (seat id to socket) is also how shutdown reaches every
//! connected customer. The same guard holds one of its address's seats, so a script on
//! one machine cannot take every seat of the shop (`--max-per-ip`). A connection from
//! the server's own machine (its peer address is the socket's local address: a load
//! test, the teacher trying the shop) takes no address seat: the limit is meant for
//! students' machines. `--max-clients` holds for everyone.

use std::collections::HashMap;
use std::net::{IpAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

use super::Context;

/// Default for `--max-per-ip`. A classroom gives each student a machine of their own,
/// so any class is far below it; even a class of 50 behind one NAT address (one
/// connection each) still fits. One machine, however, gets at most a sixteenth of the
/// default 1024 seats, so it takes sixteen machines running scripts to fill the shop.
pub const DEFAULT_MAX_PER_IP: usize = 64;

/// Everything the seats guard: the connected customers, and how many come from each
/// address. Both change together, under one lock.
#[derive(Default)]
pub(super) struct SeatMap {
    /// Connected customers by seat id. Its size is the seat count.
    pub(super) streams: HashMap<u64, Arc<TcpStream>>,
    /// Seats taken per address; an address with none has no entry.
    per_ip: HashMap<IpAddr, usize>,
}

/// Why a customer got no seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NoSeat {
    /// Every seat of the shop is taken.
    Full,
    /// Every seat its address may have is taken.
    AddressFull,
}

/// A seat for one connected customer. Dropping it frees the seat.
pub(super) struct Seat {
    ctx: Arc<Context>,
    id: u64,
    /// The address seat it holds; `None` from the server's own machine.
    ip: Option<IpAddr>,
}

impl Context {
    pub(super) fn lock_seats(&self) -> MutexGuard<'_, SeatMap> {
        // A panic elsewhere cannot leave the map half-updated, so a poisoned lock is
        // still safe to use.
        self.seats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seats a customer from `ip` (`local`: from the server's own machine).
    pub(super) fn take_seat(
        self: &Arc<Self>,
        stream: &Arc<TcpStream>,
        ip: IpAddr,
        local: bool,
    ) -> Result<Seat, NoSeat> {
        // An IPv4 customer of a dual-stack listener shows up as ::ffff:a.b.c.d; it is
        // the same machine as a.b.c.d.
        let ip = (!local).then(|| ip.to_canonical());
        let mut seats = self.lock_seats();
        // The address first: a machine at its limit is told so, full shop or not.
        if let Some(ip) = ip
            && seats
                .per_ip
                .get(&ip)
                .is_some_and(|n| *n >= self.config.max_per_ip)
        {
            return Err(NoSeat::AddressFull);
        }
        if seats.streams.len() >= self.config.max_clients {
            return Err(NoSeat::Full);
        }
        if let Some(ip) = ip {
            *seats.per_ip.entry(ip).or_insert(0) += 1;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        seats.streams.insert(id, stream.clone());
        Ok(Seat {
            ctx: self.clone(),
            id,
            ip,
        })
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut seats = self.ctx.lock_seats();
        if let Some(ip) = self.ip
            && let Some(n) = seats.per_ip.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                seats.per_ip.remove(&ip);
            }
        }
        // Taken out first, so the socket (if this was the last handle) closes after the
        // lock is released: no I/O under the lock.
        let stream = seats.streams.remove(&self.id);
        drop(seats);
        drop(stream);
    }
}
