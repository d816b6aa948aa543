//! Lingering close: read and discard what the customer still sends before closing.
//!
//! Closing a socket that has unread input makes Linux answer with a reset, and a reset
//! throws away whatever was still queued: the last replies and the goodbye, on our
//! side if they were not yet sent, and on a Windows customer's side even once they
//! arrived. So the server half-closes first (the goodbye leaves with the FIN), then
//! reads and discards until the customer closes its side too, as HTTP servers do
//! (Apache's "lingering close"). It is bounded in time and bytes, and in how many
//! connections may linger at once, so it can never hold a thread for long.

use std::io::{self, Read};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

/// The longest a closing connection lingers. A customer that has read the goodbye
/// closes within a round trip; this is for one that goes on sending.
pub const LINGER_TIME: Duration = Duration::from_secs(2);

/// Lingering also ends once the customer has sent nothing for this long (as Apache's
/// per-read linger timeout). By then the goodbye has long been delivered on any LAN,
/// and closing a socket with nothing unread sends no reset. A customer that simply
/// keeps its end open then costs the thread half a second, not [`LINGER_TIME`].
pub const LINGER_QUIET: Duration = Duration::from_millis(500);

/// The most bytes read and discarded while lingering: a customer still sending at full
/// speed is closed after this much, reset or not.
pub const LINGER_BYTES: usize = 256 * 1024;

/// The longest single wait while lingering, so that a shutdown that starts meanwhile is
/// noticed (see `stop_by`).
const LINGER_POLL: Duration = Duration::from_millis(100);

/// How long to wait before reading again when the read side was shut down by the
/// server (at shutdown): reads then end at once instead of waiting for data.
const SHUT_POLL: Duration = Duration::from_millis(10);

/// Reads and discards from `stream` until the customer closes, something fails, it has
/// been quiet for [`LINGER_QUIET`], [`LINGER_TIME`] or [`LINGER_BYTES`] is used up, or
/// `stop_by()` (the end of the shutdown, once it has begun) has passed. The caller has
/// already half-closed.
///
/// `read_shut` says that the server may have shut the read side down (shutdown does so
/// to wake readers): an end of stream then does not mean the customer closed, so while
/// the customer is still sending it is polled instead.
pub fn linger(stream: &TcpStream, read_shut: bool, stop_by: impl Fn() -> Option<Instant>) {
    let started = Instant::now();
    let mut last_data = started;
    let mut buf = [0u8; 2048];
    let mut discarded = 0usize;
    loop {
        let now = Instant::now();
        let mut deadline = (started + LINGER_TIME).min(last_data + LINGER_QUIET);
        if let Some(stop) = stop_by() {
            deadline = deadline.min(stop);
        }
        if now >= deadline || discarded >= LINGER_BYTES {
            return;
        }
        let wait = (deadline - now).min(LINGER_POLL);
        if stream.set_read_timeout(Some(wait)).is_err() {
            return;
        }
        match (&*stream).read(&mut buf) {
            Ok(0) if read_shut && discarded > 0 => thread::sleep(SHUT_POLL.min(wait)),
            // The customer closed its side: nothing more can arrive, no reset follows.
            Ok(0) => return,
            Ok(n) => {
                discarded += n;
                last_data = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if crate::wire::is_timeout(&e) => {}
            // A reset: the customer is gone, and there is nothing left to protect.
            Err(_) => return,
        }
    }
}

/// The most a refusal reads away before its close (see [`read_away_arrived`]): a
/// request or a few lines, not a flood.
pub const READ_AWAY_BYTES: usize = 16 * 1024;

/// Reads and discards what has already arrived on a refused connection, without
/// waiting for more, before it is closed: input left unread would make the close a
/// reset, and a reset can destroy the refusal on the way (a Windows customer loses it
/// even once it has arrived). Unlike [`linger`] it never waits, so the accept loop that
/// refuses is never held up. Does nothing unless the socket can be made non-blocking.
pub fn read_away_arrived(stream: &TcpStream) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let (mut input, mut buf, mut left) = (stream, [0u8; 1024], READ_AWAY_BYTES);
    while left > 0 {
        match input.read(&mut buf) {
            Ok(n) if n > 0 => left = left.saturating_sub(n),
            _ => return,
        }
    }
}

/// A connected pair of loopback sockets, (the server's end, the customer's), for the
/// server's unit tests.
#[cfg(test)]
pub(crate) fn pair() -> (TcpStream, TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (server, client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::Shutdown;

    #[test]
    fn lingering_ends_when_the_customer_closes() {
        let (server, client) = pair();
        (&client).write_all(b"more after goodbye").unwrap();
        server.shutdown(Shutdown::Write).unwrap();
        let closer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            drop(client);
        });
        let started = Instant::now();
        linger(&server, false, || None);
        let took = started.elapsed();
        closer.join().unwrap();
        assert!(took >= Duration::from_millis(90), "{took:?}");
        assert!(took < LINGER_TIME, "{took:?}");
    }

    #[test]
    fn lingering_is_bounded_in_time_and_bytes() {
        // A customer that neither closes nor sends: the quiet bound.
        let (server, _client) = pair();
        let started = Instant::now();
        linger(&server, false, || None);
        let took = started.elapsed();
        assert!(
            took >= LINGER_QUIET - Duration::from_millis(50) && took < LINGER_TIME,
            "{took:?}"
        );

        // A customer that sends now and then, neither closing nor going quiet: the time
        // bound.
        let (server, client) = pair();
        let dribble = thread::spawn(move || {
            while (&client).write_all(b"z").is_ok() {
                thread::sleep(Duration::from_millis(100));
            }
        });
        let started = Instant::now();
        linger(&server, false, || None);
        let took = started.elapsed();
        assert!(took < LINGER_TIME * 2, "{took:?}");
        drop(server);
        dribble.join().unwrap();

        // Shutdown's deadline.
        let (server, _client) = pair();
        let started = Instant::now();
        let stop = started + Duration::from_millis(200);
        linger(&server, false, || Some(stop));
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(150) && took < Duration::from_secs(1),
            "{took:?}"
        );

        // A customer that sends without end: the byte bound.
        let (server, client) = pair();
        let flood = thread::spawn(move || {
            let chunk = [b'z'; 8192];
            let mut sent = 0usize;
            while (&client).write_all(&chunk).is_ok() {
                sent += chunk.len();
            }
            sent
        });
        let started = Instant::now();
        linger(&server, false, || None);
        assert!(started.elapsed() < LINGER_TIME, "{:?}", started.elapsed());
        drop(server);
        let sent = flood.join().unwrap();
        assert!(sent >= LINGER_BYTES, "{sent}");
    }
}
