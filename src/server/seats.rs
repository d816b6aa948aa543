//! Seats: how many customers are served at once, in all and from one address.
//!
//! A seat is a guard ([`Seat`]) that frees itself when dropped, so no code path can leak
//! one. The seat map behind it (seat id to socket) is also how shutdown reaches every
//! connected customer. The same guard holds one of its address's seats, so a script on
//! one machine cannot take every seat of the shop (`--max-per-ip`). A connection from
//! the server's own machine (its peer address is the socket's local address: a load
//! test, the teacher trying the shop) takes no address seat: the limit is meant for
//! students' machines. `--max-clients` holds for everyone.
//!
//! When every seat is taken, the customer silent longest gives theirs up to the
//! newcomer, if silent for at least [`SILENT_SEAT_AFTER`] (the `silence` module).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

use super::Context;
pub use super::silence::SILENT_SEAT_AFTER;
use super::silence::{Presence, Silence};

/// Default for `--max-per-ip`. A student needs one or two connections (the client and
/// a debug assistant); 8 leaves room for a script of their own. With it, idle sockets
/// from one machine hold at most 8 seats, so filling the default 1024 takes 128
/// machines, where 64 let 17 do it. The server's own machine is not limited by it.
pub const DEFAULT_MAX_PER_IP: usize = 8;

/// Everything the seats guard: the connected customers, and how many come from each
/// address. Both change together, under one lock.
#[derive(Default)]
pub(super) struct SeatMap {
    /// Connected customers by seat id. Its size, less `letting_go`, is the seat count.
    pub(super) streams: HashMap<u64, Seated>,
    /// Seats taken per address; an address with none has no entry.
    per_ip: HashMap<IpAddr, usize>,
    /// Customers let go for a newcomer whose threads have not ended yet.
    letting_go: usize,
    /// Who has been silent longest.
    silence: Silence,
}

/// One connected customer in the seat map.
pub(super) struct Seated {
    pub(super) stream: Arc<TcpStream>,
    presence: Arc<Presence>,
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
    /// When the customer was last heard; the connection's reads update it.
    pub(super) presence: Arc<Presence>,
}

impl Context {
    pub(super) fn lock_seats(&self) -> MutexGuard<'_, SeatMap> {
        // A panic elsewhere cannot leave the map half-updated, so a poisoned lock is
        // still safe to use.
        crate::lock::lock(&self.seats)
    }

    /// Seats a customer connected from `peer`. In a full shop the customer silent
    /// longest may give up their seat: their socket comes back too, for the caller to
    /// wake them.
    pub(super) fn take_seat(
        self: &Arc<Self>,
        stream: &Arc<TcpStream>,
        peer: SocketAddr,
    ) -> Result<(Seat, Option<Arc<TcpStream>>), NoSeat> {
        // An IPv4 customer of a dual-stack listener shows up as ::ffff:a.b.c.d; it is
        // the same machine as a.b.c.d.
        let ip = peer.ip().to_canonical();
        // From the server's own machine: the peer is the socket's own address.
        let local = stream
            .local_addr()
            .is_ok_and(|l| l.ip().to_canonical() == ip);
        let ip = (!local).then_some(ip);
        let mut seats = self.lock_seats();
        let seats = &mut *seats;
        if let Some(ip) = ip
            && seats
                .per_ip
                .get(&ip)
                .is_some_and(|n| *n >= self.config.max_per_ip)
        {
            return Err(NoSeat::AddressFull);
        }
        let mut let_go = None;
        if seats.streams.len() - seats.letting_go >= self.config.max_clients {
            let streams = &seats.streams;
            let id = seats
                .silence
                .let_go(
                    |id| streams.get(&id).map(|s| &*s.presence),
                    streams.iter().map(|(id, s)| (*id, &*s.presence)),
                    self.config.silent_seat_after,
                )
                .ok_or(NoSeat::Full)?;
            seats.letting_go += 1;
            let_go = streams.get(&id).map(|s| s.stream.clone());
        }
        if let Some(ip) = ip {
            *seats.per_ip.entry(ip).or_insert(0) += 1;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let presence = Arc::new(seats.silence.arrived());
        let seated = Seated {
            stream: stream.clone(),
            presence: presence.clone(),
        };
        seats.streams.insert(id, seated);
        let seat = Seat {
            ctx: self.clone(),
            id,
            ip,
            presence,
        };
        Ok((seat, let_go))
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
        if self.presence.is_let_go() {
            seats.letting_go -= 1;
        }
        // Taken out first, so the socket (if this was the last handle) closes after the
        // lock is released: no I/O under the lock.
        let stream = seats.streams.remove(&self.id);
        drop(seats);
        drop(stream);
    }
}
