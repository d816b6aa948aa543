//! The TCP server: accept customers, give each one a thread, shut down cleanly.
//!
//! The design is the one the tutorial asks about ("could the server serve several
//! customers at once?"): blocking `std::net` with one thread per connection, for the
//! connection's whole life. These additions make it hold up in a real classroom:
//!
//! - **Seats** (the `seats` module). At most `max_clients` customers are served at once,
//!   and at most `max_per_ip` from one address. A seat is a guard that frees itself when
//!   dropped, so no code path can leak one.
//! - **A thread cache** (the `threads` module). When a customer leaves, the thread parks
//!   for a while and is handed the next accepted connection, instead of exiting (as
//!   MySQL's `thread_cache_size` does). Spawning a thread costs more than serving a short
//!   session.
//! - **A lingering close** (the `linger` module). A finished connection is half-closed,
//!   then what the customer still sends is read and discarded for a bounded time, so a
//!   reset never destroys the goodbye and the last replies.
//! - **Shutdown** (here, with the accept loop). [`Handle::shutdown`] stops the accept
//!   loop (by connecting to it, since closing a listener does not wake a blocked
//!   `accept` on Linux), shuts down the read side of every live connection so its
//!   thread says goodbye (on Windows, where that wakes no read, the `watched` module
//!   does), and wakes parked threads. From then on no message is answered, so no
//!   purchase succeeds. Connections still busy after [`SHUTDOWN_GRACE`] are cut, and
//!   [`Server::run`] returns only once every connection has ended, so the sales
//!   summary printed after it is final.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};
use socket2::SockRef;

use crate::live::{Hub, Tap};
use crate::sale::outbox::Outbox;
use crate::shop::Shop;
use crate::shop::session::{Reply, Session};
use crate::wire::codec::WireEncoding;
use crate::wire::{self, FrameReader, Limits};
use connection::ReplyWriter;

pub mod connection;
mod seats;
mod threads;
mod watched;

pub use crate::wire::linger::{LINGER_BYTES, LINGER_TIME};

pub use seats::DEFAULT_MAX_PER_IP;
use seats::{Live, NoSeat};

use threads::Job;
use watched::Watched;

/// Default for `--max-clients`: enough for a school, few enough that a runaway script
/// cannot exhaust the machine's threads.
pub const DEFAULT_MAX_CLIENTS: usize = 1024;

/// Default for `--idle-timeout`: a customer silent this long is told so and closed, so a
/// forgotten debug-assistant window does not hold a seat forever.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

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

/// How long shutdown waits for connections to send their goodbye. Connections still
/// busy after it (a customer that does not read, say) are cut.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(800);

/// How long, after the grace, closing connections may still linger at shutdown (see
/// the `linger` module), so the last goodbyes arrive before the process exits.
pub const SHUTDOWN_LINGER: Duration = Duration::from_millis(300);

/// How long shutdown waits beyond the grace and the lingering for connection threads
/// to finish. They end at once when cut; this covers a slow, overloaded machine.
const SHUTDOWN_STRAGGLERS: Duration = Duration::from_secs(1);

/// Whether accepted sockets inherit the options of their listener. Linux copies them
/// (timeouts, `TCP_NODELAY`), so they are set once on the listener instead of three
/// system calls per customer. Elsewhere every accepted socket gets them itself.
const ACCEPTED_SOCKETS_INHERIT: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// How the server behaves; see `shop-server --help` for each field.
#[derive(Debug, Clone)]
pub struct Config {
    /// Wire encoding.
    pub wire: WireEncoding,
    /// Most customers served at once.
    pub max_clients: usize,
    /// Most customers served at once from one IP address (at least 1).
    pub max_per_ip: usize,
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

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    listener: TcpListener,
    ctx: Arc<Context>,
}

/// Everything the accept loop and the connection threads share.
struct Context {
    shop: Shop,
    config: Config,
    /// Set once by [`Handle::shutdown`].
    stopping: AtomicBool,
    /// Where to connect to wake the accept loop.
    wake_addr: SocketAddr,
    /// Live connections by seat id, so shutdown can reach them, and the seats taken
    /// per address.
    live: Mutex<Live>,
    /// Seat ids.
    next_id: AtomicU64,
    /// Worker thread numbers, shown in the logs so reuse is visible.
    next_worker: AtomicU64,
    /// Connections closing right now (half-closed, lingering): shutdown waits for them.
    lingering: AtomicUsize,
    /// When shutdown began, once it has.
    stopped_at: OnceLock<Instant>,
    /// Parked threads waiting for a customer: each entry is a way to hand one over.
    parked: Mutex<Vec<(u64, Sender<Job>)>>,
}

/// A way to stop a running server from another thread (a signal handler thread, a test).
#[derive(Clone)]
pub struct Handle {
    ctx: Arc<Context>,
}

impl Server {
    /// Prepares to serve on an already bound listener, so callers (and tests) choose the
    /// address, including port 0.
    ///
    /// The listener is made blocking, and on Linux it gets the options every customer's
    /// socket needs, since accepted sockets inherit them there. An idle timeout of zero means
    /// none, as `--idle-timeout 0` does (and so for the message timeout); a zero write
    /// timeout counts as one millisecond, and a zero `max_per_ip` as one.
    pub fn new(listener: TcpListener, shop: Shop, mut config: Config) -> io::Result<Server> {
        config.idle_timeout = config.idle_timeout.filter(|t| !t.is_zero());
        config.message_timeout = config.message_timeout.filter(|t| !t.is_zero());
        config.write_timeout = config.write_timeout.max(Duration::from_millis(1));
        config.max_per_ip = config.max_per_ip.max(1);
        let wake_addr = wake_address(listener.local_addr()?);
        // Blocking std::net is the design; a non-blocking listener would make `run` spin.
        listener.set_nonblocking(false)?;
        if ACCEPTED_SOCKETS_INHERIT {
            // On the listener the read timeout also bounds each `accept`; `run` expects
            // that and simply accepts again.
            set_options(&listener, &config)?;
        }
        Ok(Server {
            listener,
            ctx: Arc::new(Context {
                shop,
                config,
                stopping: AtomicBool::new(false),
                wake_addr,
                live: Mutex::new(Live::default()),
                next_id: AtomicU64::new(0),
                next_worker: AtomicU64::new(1),
                parked: Mutex::new(Vec::new()),
                lingering: AtomicUsize::new(0),
                stopped_at: OnceLock::new(),
            }),
        })
    }

    /// A handle that can stop this server.
    pub fn handle(&self) -> Handle {
        Handle {
            ctx: self.ctx.clone(),
        }
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts customers until [`Handle::shutdown`] is called, then says goodbye to the
    /// customers still connected and returns.
    pub fn run(self) -> io::Result<()> {
        let ctx = &self.ctx;
        info!(
            "serving {} items from {}, encoding {}, at most {} customers",
            ctx.shop.items().len(),
            ctx.shop.catalog_source(),
            ctx.config.wire,
            ctx.config.max_clients
        );
        loop {
            let accepted = self.listener.accept();
            if ctx.stopping.load(Ordering::Acquire) {
                break;
            }
            match accepted {
                Ok((stream, peer)) => ctx.admit(stream, peer),
                // No customer within the idle timeout (see `Server::new`).
                Err(e) if e.kind() == io::ErrorKind::Interrupted || wire::is_timeout(&e) => {}
                Err(e) => {
                    // EMFILE and friends: log, wait for descriptors to free up, go on.
                    warn!("accept failed: {e}; retrying in {ACCEPT_BACKOFF:?}");
                    thread::sleep(ACCEPT_BACKOFF);
                }
            }
        }
        ctx.close_all();
        Ok(())
    }
}

impl Handle {
    /// Stops the server: no new customers, no more purchases, and every connected
    /// customer is told the shop is closing. [`Server::run`] returns once every
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

    /// Customers connected right now.
    pub fn connected(&self) -> usize {
        self.ctx.lock_live().streams.len()
    }

    /// Threads parked in the cache right now.
    pub fn parked_threads(&self) -> usize {
        self.ctx.lock_parked().len()
    }
}

impl Context {
    /// Gives an accepted customer a seat and a thread, or a polite refusal.
    fn admit(self: &Arc<Self>, stream: TcpStream, peer: SocketAddr) {
        let stream = Arc::new(stream);
        let seat = match self.take_seat(&stream, peer.ip()) {
            Ok(seat) => seat,
            Err(NoSeat::Full) => {
                info!(
                    "{peer} turned away: all {} seats taken",
                    self.config.max_clients
                );
                self.refuse(&stream, peer, &Reply::ShopFull);
                return;
            }
            Err(NoSeat::AddressFull) => {
                let limit = self.config.max_per_ip;
                info!(
                    "{peer} turned away: {limit} connections from {} already",
                    peer.ip()
                );
                self.refuse(&stream, peer, &Reply::TooManyFromAddress(limit));
                return;
            }
        };
        let job = Job {
            stream,
            peer,
            _seat: seat,
        };
        let Err(job) = self.hand_to_parked(job) else {
            return;
        };
        let stream = job.stream.clone();
        let ctx = self.clone();
        let spawned = thread::Builder::new()
            .name("customer".into())
            .stack_size(self.config.stack_size)
            .spawn(move || ctx.work(job));
        if let Err(e) = spawned {
            error!("{peer} turned away: cannot start a thread: {e}");
            self.refuse(&stream, peer, &Reply::Busy);
        }
    }

    /// Sends a one-line refusal without ever blocking the accept loop, then closes.
    fn refuse(&self, stream: &TcpStream, peer: SocketAddr, reply: &Reply) {
        if let Some(hub) = &self.config.live {
            hub.refused(peer, reply);
        }
        let mut writer = ReplyWriter::new(stream);
        let sent = stream
            .set_nonblocking(true)
            .and_then(|()| writer.send(reply, self.config.wire.greeting_charset()));
        if let Err(e) = sent {
            debug!("could not send refusal: {e}");
        }
        // As in `Job::close`: the refusal leaves with the FIN, ahead of any reset.
        let _ = stream.shutdown(std::net::Shutdown::Write);
        // A full lingering close would hold up the accept loop; this never waits.
        crate::wire::linger::read_away_arrived(stream);
    }

    /// Serves one customer from greeting to goodbye. Errors end this connection only.
    /// Returns the job, still open, so that [`Context::park`] decides when it closes.
    fn serve(&self, job: Job, worker: u64) -> Job {
        // Formatted once: formatting an address is costly, and a session logs it twice.
        let (stream, peer): (&TcpStream, String) = (&job.stream, job.peer.to_string());
        info!("{peer} connected (worker {worker})");
        let started = Instant::now();
        let limits = Limits {
            max_line: self.config.max_line,
            idle: self.config.idle_timeout,
            message: self.config.message_timeout,
            ..Limits::default()
        };
        let mut session = Session::new(self.shop.clone(), self.config.wire, self.config.max_line)
            .for_customer(&peer);
        let tap = Tap::new(self.config.live.as_ref(), job.peer);
        let configured = if ACCEPTED_SOCKETS_INHERIT {
            Ok(())
        } else {
            set_options(stream, &self.config)
        };
        let result = configured
            .map(|()| Watched::new(stream, &self.stopping, limits.idle))
            .map(|source| FrameReader::with_timeout_set(source, limits))
            .and_then(|mut frames| {
                let outbox = Outbox::for_customer(&job.stream, self.shop.has_ledger(), &tap);
                let mut out = ReplyWriter::new(stream).with_outbox(outbox);
                connection::converse(
                    &mut frames,
                    &mut out,
                    &mut session,
                    self.config.wire,
                    &self.stopping,
                    &peer,
                    &tap,
                )
            });
        // Every way a conversation ends says what the customer spent.
        let spent = session.spent();
        let secs = started.elapsed().as_secs_f32();
        match result {
            Ok(end) => info!("{peer} left ({end}) after {secs:.1}s, spent {spent}"),
            Err(e) if self.stopping.load(Ordering::Acquire) => {
                // Shutdown cuts connections that are still busy after the grace.
                debug!("{peer} connection ended at shutdown: {e}");
                info!("{peer} left (cut at shutdown) after {secs:.1}s, spent {spent}");
            }
            Err(e) if wire::is_disconnect(&e) => {
                // How many clients (Windows above all) hang up: details at debug level.
                debug!("{peer} disconnected abruptly: {e}");
                info!("{peer} left (hung up) after {secs:.1}s, spent {spent}");
            }
            Err(e) if wire::is_timeout(&e) => {
                warn!(
                    "{peer} dropped: a reply could not be sent within {:?}; after {secs:.1}s, spent {spent}",
                    self.config.write_timeout
                );
            }
            Err(e) => warn!("{peer} dropped: {e}; after {secs:.1}s, spent {spent}"),
        }
        job
    }

    /// After the accept loop has stopped: tell every customer, wake parked threads, cut
    /// the connections still busy after the grace, and return only once every
    /// conversation has ended and every closing connection has lingered. Then no
    /// purchase can happen any more, and the sales summary counts every one a customer
    /// was told of.
    fn close_all(&self) {
        let stopped = *self.stopped_at.get_or_init(Instant::now);
        let streams = |ctx: &Self| -> Vec<Arc<TcpStream>> {
            // Copied out, so no socket call happens under the lock.
            ctx.lock_live().streams.values().cloned().collect()
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
        let seated = |ctx: &Self| ctx.lock_live().streams.len();
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
    fn linger_stop(&self) -> Option<Instant> {
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

/// Gives a customer's socket (or the listener its sockets inherit from) its options:
/// replies go out at once (no Nagle delay), a reply that cannot be sent within the write
/// timeout ends the connection, and reads wait at most the idle timeout.
fn set_options<'a>(socket: impl Into<SockRef<'a>>, config: &Config) -> io::Result<()> {
    let socket = socket.into();
    socket.set_tcp_nodelay(true)?;
    socket.set_write_timeout(Some(config.write_timeout))?;
    socket.set_read_timeout(config.idle_timeout)
}

/// The address to connect to in order to wake our own `accept`: a wildcard listen
/// address is reached through loopback.
fn wake_address(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}

/// Serves on `listener` until the process ends. Use [`Server`] directly to be able to
/// shut it down.
pub fn serve(listener: TcpListener, shop: Shop, config: Config) -> io::Result<()> {
    Server::new(listener, shop, config)?.run()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::catalog::{Catalog, EMBEDDED};
    use crate::wire::codec::{self, Charset};
    use std::io::{BufRead, BufReader, Write};

    fn start(config: Config) -> (SocketAddr, Handle, thread::JoinHandle<io::Result<()>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let shop = Shop::new(Catalog::parse(EMBEDDED, "t", config.wire).unwrap());
        let server = Server::new(listener, shop, config).unwrap();
        let addr = server.local_addr().unwrap();
        let handle = server.handle();
        (addr, handle, thread::spawn(move || server.run()))
    }

    fn read_line(reader: &mut impl BufRead) -> String {
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).unwrap();
        codec::decode(&line, WireEncoding::Gbk).unwrap().0
    }

    #[test]
    fn parked_threads_exit_after_their_lifetime() {
        let config = Config {
            parked_lifetime: Duration::from_millis(200),
            ..Config::default()
        };
        let (addr, handle, _server) = start(config);
        let customers: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
        for c in &customers {
            read_line(&mut BufReader::new(c));
        }
        drop(customers);
        let deadline = Instant::now() + Duration::from_secs(5);
        while handle.parked_threads() < 3 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(handle.parked_threads(), 3, "all three threads parked");
        while handle.parked_threads() > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            handle.parked_threads(),
            0,
            "parked threads exit after their lifetime"
        );
    }

    #[test]
    fn accepted_sockets_get_their_options() {
        let config = Config {
            idle_timeout: Some(Duration::from_secs(7)),
            write_timeout: Duration::from_secs(3),
            ..Config::default()
        };
        // What `Server::new` and `serve` do, and what they rely on: on Linux the
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

    #[test]
    fn a_zero_idle_timeout_means_none() {
        let config = Config {
            idle_timeout: Some(Duration::ZERO),
            ..Config::default()
        };
        let (addr, _handle, _server) = start(config);
        let stream = TcpStream::connect(addr).unwrap();
        let mut reader = BufReader::new(&stream);
        read_line(&mut reader);
        // A message without a newline makes the framer switch to the flush timeout and
        // back to the idle one: with a literal zero that would be an invalid timeout.
        for want in ["购买成功,余额 -2\r\n", "购买成功,余额 -4\r\n"] {
            (&stream)
                .write_all(&codec::encode("西瓜", Charset::Gbk).unwrap())
                .unwrap();
            assert_eq!(read_line(&mut reader), want);
        }
    }

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

    #[test]
    fn serves_reuses_threads_and_shuts_down() {
        let (addr, handle, server) = start(Config::default());
        for round in 0..3 {
            let stream = TcpStream::connect(addr).unwrap();
            let mut reader = BufReader::new(&stream);
            assert!(
                read_line(&mut reader).starts_with("目前商店还有"),
                "round {round}"
            );
            (&stream)
                .write_all(&codec::encode("西瓜\n拜拜\n", Charset::Gbk).unwrap())
                .unwrap();
            assert_eq!(
                read_line(&mut reader),
                "购买成功,余额 -2\r\n",
                "fresh balance in round {round}"
            );
            assert_eq!(read_line(&mut reader), "欢迎下次光临\r\n");
            assert_eq!(read_line(&mut reader), "", "closed after goodbye");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while (handle.connected(), handle.parked_threads()) != (0, 1) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(handle.connected(), 0);
        assert_eq!(
            handle.parked_threads(),
            1,
            "one thread served all three, then parked"
        );

        let stream = TcpStream::connect(addr).unwrap();
        let mut reader = BufReader::new(&stream);
        read_line(&mut reader);
        handle.shutdown();
        assert_eq!(read_line(&mut reader), "本店打烊了,欢迎下次光临\r\n");
        server.join().unwrap().unwrap();
        assert_eq!(handle.parked_threads(), 0);
    }
}
