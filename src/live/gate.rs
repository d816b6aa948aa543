//! Who gets a thread to be answered: the live view's limits on viewers.
//!
//! A student's script holding idle or trickling connections must not blank the
//! teacher's view, even from several addresses (issue 23). So:
//!
//! - connections from the server's own machine (the peer's address is the socket's
//!   local address: the teacher's PC) have places of their own, [`MAX_OWN`];
//! - others get at most [`MAX_VIEWERS_PER_IP`] places each, [`MAX_VIEWERS`] in all;
//! - when those are all taken, a newcomer takes the place of the oldest connection
//!   that has not yet shown a valid request line (with the token, if one is needed):
//!   that one is shut down. A request with the token is never pushed out, and a
//!   held connection lasts at most the head deadline (`head`) anyway.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};

use super::hub::lock;

/// Requests from other machines answered at once. Each holds a thread with a small
/// stack for a few seconds at most.
pub(super) const MAX_VIEWERS: usize = 48;

/// Requests answered at once from one other address. A browser polls with one
/// request at a time (plus a spare connection or two it may open early).
pub(super) const MAX_VIEWERS_PER_IP: usize = 4;

/// Requests answered at once from the server's own machine.
pub(super) const MAX_OWN: usize = 16;

/// Connections shut down to make room whose threads have not ended yet: a bound on
/// them, so that a flood of connections cannot grow the threads.
const MAX_LEAVING: usize = MAX_VIEWERS;

/// Counts the requests being answered.
#[derive(Default)]
pub(super) struct ViewerGate {
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    /// Places taken by other machines, per address and in all.
    per_ip: HashMap<IpAddr, usize>,
    others: usize,
    own: usize,
    /// Connections from other machines that have not shown a request yet, oldest
    /// first (by id), with a handle to shut them down.
    waiting: BTreeMap<u64, TcpStream>,
    next_id: u64,
}

/// One request's place in the [`ViewerGate`]; dropping it frees the place.
pub(super) struct ViewerPass {
    gate: Arc<ViewerGate>,
    /// `None` for the server's own machine.
    ip: Option<IpAddr>,
    id: u64,
}

impl ViewerGate {
    /// A place for `stream` from `peer`, or `None`: turn it away.
    pub(super) fn enter(
        self: &Arc<Self>,
        stream: &TcpStream,
        peer: SocketAddr,
    ) -> Option<ViewerPass> {
        let own = stream
            .local_addr()
            .is_ok_and(|local| local.ip() == peer.ip());
        let mut open = lock(&self.open);
        let id = open.next_id;
        open.next_id += 1;
        if own {
            if open.own >= MAX_OWN {
                return None;
            }
            open.own += 1;
            return Some(self.pass(None, id));
        }
        let ip = peer.ip();
        if open.per_ip.get(&ip).copied().unwrap_or(0) >= MAX_VIEWERS_PER_IP {
            return None;
        }
        if open.others >= MAX_VIEWERS {
            if open.others >= MAX_VIEWERS + MAX_LEAVING {
                return None;
            }
            let (_, oldest) = open.waiting.pop_first()?;
            // Its thread sees the end of its input and gives the place back.
            let _ = oldest.shutdown(Shutdown::Both);
        }
        let handle = stream.try_clone().ok()?;
        open.waiting.insert(id, handle);
        open.others += 1;
        *open.per_ip.entry(ip).or_insert(0) += 1;
        Some(self.pass(Some(ip), id))
    }

    fn pass(self: &Arc<Self>, ip: Option<IpAddr>, id: u64) -> ViewerPass {
        ViewerPass {
            gate: self.clone(),
            ip,
            id,
        }
    }
}

impl ViewerPass {
    /// The request line was valid (with the token, if one is needed): this request
    /// is no longer pushed out to make room.
    pub(super) fn shown(&self) {
        lock(&self.gate.open).waiting.remove(&self.id);
    }
}

impl Drop for ViewerPass {
    fn drop(&mut self) {
        let mut open = lock(&self.gate.open);
        let Some(ip) = self.ip else {
            open.own -= 1;
            return;
        };
        open.waiting.remove(&self.id);
        open.others -= 1;
        if let Some(n) = open.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                open.per_ip.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read};
    use std::net::TcpListener;

    /// A connection to `listener` from `from`; returns the server's end and the peer.
    fn accept_from(listener: &TcpListener, from: u8) -> (TcpStream, TcpStream, SocketAddr) {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&SocketAddr::from(([127, 0, 0, from], 0)).into())
            .unwrap();
        socket
            .connect(&listener.local_addr().unwrap().into())
            .unwrap();
        let (server, peer) = listener.accept().unwrap();
        (server, socket.into(), peer)
    }

    #[test]
    fn limits_per_address_in_all_and_room_for_requests_shown() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let gate = Arc::new(ViewerGate::default());
        let mut kept = Vec::new();
        // The server's own machine has places of its own.
        for _ in 0..MAX_OWN {
            let (s, c, peer) = accept_from(&listener, 1);
            kept.push((gate.enter(&s, peer).expect("own places"), s, c));
        }
        let (s, _c, peer) = accept_from(&listener, 1);
        assert!(gate.enter(&s, peer).is_none(), "own places all taken");
        // One other address, up to its limit.
        for _ in 0..MAX_VIEWERS_PER_IP {
            let (s, c, peer) = accept_from(&listener, 2);
            let pass = gate.enter(&s, peer).expect("within the limit");
            pass.shown();
            kept.push((pass, s, c));
        }
        let (s, _c, peer) = accept_from(&listener, 2);
        assert!(gate.enter(&s, peer).is_none(), "one address over its limit");
        // Silent connections from many addresses fill the rest...
        let mut silent = Vec::new();
        for i in 0..MAX_VIEWERS - MAX_VIEWERS_PER_IP {
            let (s, c, peer) = accept_from(&listener, 3 + (i / MAX_VIEWERS_PER_IP) as u8);
            silent.push((gate.enter(&s, peer).expect("room left"), s, c));
        }
        // ...and a newcomer pushes out the oldest of them, never a request shown.
        let (s, _c, peer) = accept_from(&listener, 100);
        let newcomer = gate.enter(&s, peer).expect("room made");
        let mut oldest = &silent[0].1;
        oldest
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        // An end of input (Linux), or an error saying the socket is shut (Windows).
        match oldest.read(&mut [0u8; 1]) {
            Ok(0) => {}
            Err(e) if !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            other => panic!("the oldest silent connection was not shut down: {other:?}"),
        }
        drop((newcomer, silent, kept));
        let open = lock(&gate.open);
        assert_eq!((open.own, open.others), (0, 0));
        assert!(
            open.per_ip.is_empty() && open.waiting.is_empty(),
            "every place freed"
        );
    }
}
