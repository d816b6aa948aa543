//! The live view's HTTP server: one thread accepts, and each viewer's request gets a
//! short-lived thread of its own with read and write deadlines (see `http`).
//!
//! At most [`MAX_VIEWERS`] are answered at once, and at most [`MAX_VIEWERS_PER_IP`]
//! from one address, so a student's script that opens idle connections (slowloris) can
//! neither exhaust the machine nor starve the teacher's projector, which connects from
//! another address; the rest get a 503 at once. The shop's connection threads never
//! talk to this module; they only report to the hub.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use log::{debug, warn};

use super::host::Hosts;
use super::http;
use super::hub::Hub;
use super::site::{Site, new_token};

/// Requests answered at once, from everyone. Each holds a thread with a small stack
/// for at most a few I/O timeouts; beyond this, connections are closed at once.
const MAX_VIEWERS: usize = 64;

/// Requests answered at once from one address. A browser polls with one request at a
/// time (plus a spare connection or two it may open early); a script holding more idle
/// connections is turned away instead of taking the threads that others need.
const MAX_VIEWERS_PER_IP: usize = 8;

/// Stack of a thread answering one request: it parses a line and copies a string.
const VIEWER_STACK: usize = 256 * 1024;

/// Pause after a failed `accept` (out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A running live view.
#[derive(Debug, Clone)]
pub struct LiveView {
    addr: SocketAddr,
    token: Option<String>,
}

impl LiveView {
    /// The address the view listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL on `addr` (the listening address, or one of
    /// [`reachable`](super::reachable)).
    pub fn url_at(&self, addr: SocketAddr) -> String {
        match &self.token {
            Some(token) => format!("http://{addr}/?token={token}"),
            None => format!("http://{addr}/"),
        }
    }

    /// The page's URL on the listening address: what `live view on` prints.
    pub fn url(&self) -> String {
        self.url_at(self.addr)
    }
}

/// Parses `--web`: `HOST:PORT`, or a bare port meaning `127.0.0.1:PORT`.
pub fn parse_addr(text: &str) -> io::Result<SocketAddr> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no address for {text}"),
        )
    })
}

/// Binds `addr` and serves the live view of `hub` from threads of its own.
pub fn start(addr: SocketAddr, hub: Hub) -> io::Result<LiveView> {
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let token = if addr.ip().is_loopback() {
        None
    } else {
        Some(new_token()?)
    };
    let hosts = Hosts::new(
        addr,
        super::reachable(addr).into_iter().map(|r| r.addr.ip()),
    );
    let site = Arc::new(Site::new(hub, token.clone(), hosts)?);
    thread::Builder::new()
        .name("web-accept".into())
        .spawn(move || accept_loop(&listener, &site))?;
    Ok(LiveView { addr, token })
}

/// Accepts viewers forever, each answered on a thread of its own within the limits.
fn accept_loop(listener: &TcpListener, site: &Arc<Site>) {
    let gate = Arc::new(ViewerGate::default());
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!("live view: accept failed: {e}");
                thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        let Some(pass) = gate.enter(peer.ip()) else {
            debug!("live view: {peer} turned away: too many requests at once");
            http::busy(&stream);
            continue;
        };
        let site = site.clone();
        let spawned = thread::Builder::new()
            .name("web".into())
            .stack_size(VIEWER_STACK)
            .spawn(move || {
                // Held until the answer is sent: frees the place in the gate.
                let _pass = pass;
                if let Err(e) = http::answer(&stream, |request, host| site.route(request, host)) {
                    debug!("live view: {peer}: {e}");
                }
            });
        if let Err(e) = spawned {
            warn!("live view: cannot start a thread for {peer}: {e}");
        }
    }
}

/// Counts the requests being answered, in all and per address.
#[derive(Default)]
struct ViewerGate {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One request's place in the [`ViewerGate`]; dropping it frees the place.
struct ViewerPass {
    gate: Arc<ViewerGate>,
    ip: IpAddr,
}

impl ViewerGate {
    fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<ViewerPass> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = open.values().sum();
        let from_ip = open.entry(ip).or_insert(0);
        if total >= MAX_VIEWERS || *from_ip >= MAX_VIEWERS_PER_IP {
            if *from_ip == 0 {
                open.remove(&ip);
            }
            return None;
        }
        *from_ip += 1;
        Some(ViewerPass {
            gate: self.clone(),
            ip,
        })
    }
}

impl Drop for ViewerPass {
    fn drop(&mut self) {
        let mut open = self.gate.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_limits_requests_per_address_and_in_all() {
        let gate = Arc::new(ViewerGate::default());
        let ip = |n: u8| IpAddr::from([10, 0, 0, n]);
        let mine: Vec<ViewerPass> = (0..MAX_VIEWERS_PER_IP)
            .map(|_| gate.enter(ip(1)).expect("within the limit"))
            .collect();
        assert!(gate.enter(ip(1)).is_none(), "one address over its limit");
        let others: Vec<ViewerPass> = (0..MAX_VIEWERS - MAX_VIEWERS_PER_IP)
            .map(|i| gate.enter(ip(2 + (i / MAX_VIEWERS_PER_IP) as u8)).unwrap())
            .collect();
        assert!(gate.enter(ip(200)).is_none(), "everyone over the limit");
        drop(others);
        drop(mine);
        assert!(gate.open.lock().unwrap().is_empty(), "every place freed");
        assert!(gate.enter(ip(1)).is_some());
    }

    #[test]
    fn web_addresses() {
        assert_eq!(parse_addr("8080").unwrap().to_string(), "127.0.0.1:8080");
        assert_eq!(parse_addr("0.0.0.0:0").unwrap().to_string(), "0.0.0.0:0");
        assert!(parse_addr("nonsense").is_err());
    }
}
