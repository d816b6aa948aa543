//! Shutdown: [`Handle::shutdown`] stops the accept loop (by connecting to it, since
//! closing a listener does not wake a blocked `accept` on Linux); the loop then tells
//! every connected customer the shop is closing, cuts those still busy after
//! [`SHUTDOWN_GRACE`], and returns only once every connection has ended, so the sales
//! summary printed after it is final.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use log::warn;

use super::{Context, Handle, watched};

/// How long shutdown waits for connections to send their goodbye. Connections still
/// busy after it (a customer that does not read, say) are cut.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(800);

/// How long, after the grace, closing connections may still linger at shutdown (see
/// the `linger` module), so the last goodbyes arrive before the process exits.
pub const SHUTDOWN_LINGER: Duration = Duration::from_millis(300);

/// How long shutdown waits beyond the grace and the lingering for connection threads
/// to finish. They end at once when cut; this covers a slow, overloaded machine.
const SHUTDOWN_STRAGGLERS: Duration = Duration::from_secs(1);

impl Handle {
    /// Stops the server: no new customers, no more purchases, and every connected
    /// customer is told the shop is closing. [`Server::run`](super::Server::run) returns once every
    /// connection has ended or, if still busy after [`SHUTDOWN_GRACE`], been cut.
    pub fn shutdown(&self) {
        if self.ctx.stopping.swap(true, Ordering::AcqRel) {
            return;
        }
        let _ = self.ctx.stopped_at.set(Instant::now());
        // The accept loop is blocked in accept(); a connection is what wakes it.
        if let Err(e) = TcpStream::connect_timeout(&self.ctx.wake_addr, Duration::from_secs(1)) {
            warn!(
                "could not wake the accept loop at {}: {e}",
                self.ctx.wake_addr
            );
        }
    }
}

impl Context {
    /// After the accept loop has stopped: tell every customer, wake parked threads, cut
    /// the connections still busy after the grace, and return only once every
    /// conversation has ended and every closing connection has lingered. Then no
    /// purchase can happen any more, and the sales summary counts every one a customer
    /// was told of.
    pub(super) fn close_all(&self) {
        let stopped = *self.stopped_at.get_or_init(Instant::now);
        let streams = |ctx: &Self| -> Vec<Arc<TcpStream>> {
            // Copied out, so no socket call happens under the lock.
            ctx.lock_seats()
                .streams
                .values()
                .map(|s| s.stream.clone())
                .collect()
        };
        for stream in streams(self) {
            // Threads waiting for a message read end-of-stream, see `stopping` and say
            // goodbye; busy ones see `stopping` at their next message. Not on Windows:
            // there it wakes no read (`watched` polls instead), and a socket shut for
            // reading is reset by any byte that arrives after, goodbye and all.
            if !watched::READS_POLL_FOR_STOP {
                let _ = stream.shutdown(std::net::Shutdown::Read);
            }
        }
        // Dropping the senders wakes every parked thread, which then exits.
        self.lock_parked().clear();
        let seated = |ctx: &Self| ctx.lock_seats().streams.len();
        wait_until(stopped + SHUTDOWN_GRACE, || seated(self) == 0);
        let busy = streams(self);
        if !busy.is_empty() {
            warn!(
                "{} connections still busy after {SHUTDOWN_GRACE:?} of shutdown: cut",
                busy.len()
            );
            for stream in busy {
                // Wakes a thread blocked writing to a customer who does not read.
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
        let open = |ctx: &Self| seated(ctx) + ctx.lingering.load(Ordering::Acquire);
        let deadline = stopped + SHUTDOWN_GRACE + SHUTDOWN_LINGER + SHUTDOWN_STRAGGLERS;
        if !wait_until(deadline, || open(self) == 0) {
            warn!(
                "{} connections had not ended {:?} after shutdown began",
                open(self),
                deadline - stopped
            );
        }
    }

    /// When connections closing during shutdown stop lingering; `None` before shutdown.
    pub(super) fn linger_stop(&self) -> Option<Instant> {
        self.stopped_at
            .get()
            .map(|stopped| *stopped + SHUTDOWN_GRACE + SHUTDOWN_LINGER)
    }
}

/// Polls `done` every 10 ms until it holds (true) or `deadline` passes (false).
fn wait_until(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The address to connect to in order to wake our own `accept`: a wildcard listen
/// address is reached through loopback.
pub(super) fn wake_address(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_address_table() {
        for (local, want) in [
            ("0.0.0.0:9", "127.0.0.1:9"),
            ("[::]:9", "[::1]:9"),
            ("192.0.2.1:9", "192.0.2.1:9"),
        ] {
            assert_eq!(wake_address(local.parse().unwrap()), want.parse().unwrap());
        }
    }
}
