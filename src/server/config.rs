//! How the server behaves: [`Config`], the defaults of `shop-server`'s options, and the
//! socket options every customer gets.

use std::io;
use std::time::Duration;

use socket2::SockRef;

use super::seats::{DEFAULT_MAX_PER_IP, SILENT_SEAT_AFTER};
use crate::live::Hub;
use crate::wire;
use crate::wire::codec::WireEncoding;

/// Default for `--max-clients`: enough for a school, few enough that a runaway script
/// cannot exhaust the machine's threads.
pub const DEFAULT_MAX_CLIENTS: usize = 1024;

/// Default for `--idle-timeout`: a customer silent this long is told so and closed, so a
/// forgotten debug-assistant window does not hold a seat forever.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Longest `--idle-timeout` and `--write-timeout`: one day. Longer is a typo (0 already
/// means "never" for the idle timeout), and deadlines are computed as `now + timeout`,
/// which overflows `Instant` (a panic on every connection) for values near `u64::MAX`
/// seconds. `Server::new` clamps library callers to it; the binary refuses more.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// How long one reply may take to write. A customer that sends but never reads fills
/// its socket buffer; this bounds how long its thread can be stuck on it.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Default stack for connection threads. The session needs only a few KiB; a small
/// stack keeps 10,000 idle customers within a few dozen MiB. It is the same in debug
/// builds and the tests, which compile encoding_rs optimised for this reason (see
/// Cargo.toml): unoptimised, its GBK decoder alone put about 51 KiB on the stack.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;

/// Default for `--thread-cache`: how many idle threads wait for the next customer.
pub const DEFAULT_THREAD_CACHE: usize = 64;

/// How long a parked thread waits for a new customer before it exits.
pub const PARKED_THREAD_LIFETIME: Duration = Duration::from_secs(60);

/// Pause after a failed `accept` (out of file descriptors, say), so the loop does not
/// spin while the condition lasts.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Whether accepted sockets inherit the options of their listener. Linux copies them
/// (timeouts, `TCP_NODELAY`), so they are set once on the listener instead of three
/// system calls per customer. Elsewhere every accepted socket gets them itself.
pub(super) const ACCEPTED_SOCKETS_INHERIT: bool =
    cfg!(any(target_os = "linux", target_os = "android"));

/// How the server behaves; see `shop-server --help` for each field.
#[derive(Debug, Clone)]
pub struct Config {
    /// Wire encoding.
    pub wire: WireEncoding,
    /// Most customers served at once.
    pub max_clients: usize,
    /// Most customers served at once from one IP address (at least 1). The server's
    /// own machine is exempt.
    pub max_per_ip: usize,
    /// In a full shop, a customer silent this long gives up their seat to a newcomer.
    pub silent_seat_after: Duration,
    /// Close customers silent for this long; `None` (or zero) never does.
    pub idle_timeout: Option<Duration>,
    /// Longest time from the first byte of a message to its end; `None` (or zero) has
    /// no limit. A partial message older than this is answered and the connection
    /// closed, so a trickler cannot hold a seat.
    pub message_timeout: Option<Duration>,
    /// Longest time one reply may take to write.
    pub write_timeout: Duration,
    /// Most idle threads kept for the next customer; 0 disables the cache.
    pub thread_cache: usize,
    /// How long a parked thread waits for a customer before it exits.
    pub parked_lifetime: Duration,
    /// Stack size of connection threads, in bytes.
    pub stack_size: usize,
    /// Longest accepted message, in bytes.
    pub max_line: usize,
    /// Where connections report to the live view, if it is on.
    pub live: Option<Hub>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            wire: WireEncoding::default(),
            max_clients: DEFAULT_MAX_CLIENTS,
            max_per_ip: DEFAULT_MAX_PER_IP,
            silent_seat_after: SILENT_SEAT_AFTER,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            message_timeout: Some(wire::MESSAGE_TIMEOUT),
            write_timeout: WRITE_TIMEOUT,
            thread_cache: DEFAULT_THREAD_CACHE,
            parked_lifetime: PARKED_THREAD_LIFETIME,
            stack_size: DEFAULT_STACK_SIZE,
            max_line: wire::MAX_LINE,
            live: None,
        }
    }
}

/// Gives a customer's socket (or the listener its sockets inherit from) its options:
/// replies go out at once (no Nagle delay), a reply that cannot be sent within the write
/// timeout ends the connection, and reads wait at most the idle timeout.
pub(super) fn set_options<'a>(socket: impl Into<SockRef<'a>>, config: &Config) -> io::Result<()> {
    let socket = socket.into();
    socket.set_tcp_nodelay(true)?;
    socket.set_write_timeout(Some(config.write_timeout))?;
    socket.set_read_timeout(config.idle_timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn accepted_sockets_get_their_options() {
        let config = Config {
            idle_timeout: Some(Duration::from_secs(7)),
            write_timeout: Duration::from_secs(3),
            ..Config::default()
        };
        // What `Server::new` does, and what it relies on: on Linux the
        // options set on the listener reach every accepted socket.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        if ACCEPTED_SOCKETS_INHERIT {
            set_options(&listener, &config).unwrap();
        }
        let _peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        if !ACCEPTED_SOCKETS_INHERIT {
            set_options(&accepted, &config).unwrap();
        }
        assert!(accepted.nodelay().unwrap());
        assert_eq!(accepted.read_timeout().unwrap(), config.idle_timeout);
        assert_eq!(
            accepted.write_timeout().unwrap(),
            Some(config.write_timeout)
        );
    }
}
