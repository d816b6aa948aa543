//! The live view's HTTP server: one thread accepts, and each viewer's request gets a
//! short-lived thread of its own with read and write deadlines (see `http`).
//!
//! The [`ViewerGate`] bounds how many are answered at once, per address and in all,
//! keeping room for the teacher, so a student's script that opens idle connections
//! (slowloris) can neither exhaust the machine nor starve the teacher's projector;
//! the rest get a 503 at once. The shop's connection threads never talk to this
//! module; they only report to the hub.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use log::{debug, warn};

use super::gate::ViewerGate;
use super::host::Hosts;
use super::http;
use super::hub::Hub;
use super::site::{Site, new_token};

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
        let Some(pass) = gate.enter(&stream, peer) else {
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
                let early = |request: &http::HttpRequest| {
                    let refused = site.refuse_early(request);
                    if refused.is_none() {
                        pass.shown();
                    }
                    refused
                };
                let route =
                    |request: &http::HttpRequest, host: Option<&str>| site.route(request, host);
                if let Err(e) = http::answer(&stream, early, route) {
                    debug!("live view: {peer}: {e}");
                }
            });
        if let Err(e) = spawned {
            warn!("live view: cannot start a thread for {peer}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_addresses() {
        assert_eq!(parse_addr("8080").unwrap().to_string(), "127.0.0.1:8080");
        assert_eq!(parse_addr("0.0.0.0:0").unwrap().to_string(), "0.0.0.0:0");
        assert!(parse_addr("nonsense").is_err());
    }
}
