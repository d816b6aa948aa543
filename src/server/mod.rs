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
//! - **A lingering close** (`wire::linger`, called from `threads`). A finished connection is half-closed,
//!   then what the customer still sends is read and discarded for a bounded time, so a
//!   reset never destroys the goodbye and the last replies.
//! - **Shutdown** (the `shutdown` module). [`Handle::shutdown`] stops the accept loop,
//!   every connected customer is told goodbye, and [`Server::run`] returns once every
//!   connection has ended, so the sales summary printed after it is final.
//! - **Configuration** (the `config` module): [`Config`] and the defaults of the options.
//! - **The wiring** `shop-server` runs (the `app` module).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};

use crate::wire::{self, FrameReader, Limits};
use crate::{live::Tap, shop::Reply, shop::Session, shop::Shop};
use connection::ReplyWriter;

pub mod app;
mod banner;
mod config;
pub(crate) mod connection;
mod counter;
mod seats;
mod shutdown;
mod silence;
mod threads;
mod watched;

pub use config::{
    Config, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CLIENTS, DEFAULT_STACK_SIZE, DEFAULT_THREAD_CACHE,
    MAX_TIMEOUT, WRITE_TIMEOUT,
};
pub use seats::{DEFAULT_MAX_PER_IP, SILENT_SEAT_AFTER};

use config::{ACCEPT_BACKOFF, ACCEPTED_SOCKETS_INHERIT, set_options};
use seats::{NoSeat, SeatMap};
use shutdown::wake_address;
use threads::Job;
use watched::Watched;

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
    /// Connected customers by seat id, so shutdown can reach them, and the seats taken
    /// per address.
    seats: Mutex<SeatMap>,
    /// Seat ids.
    next_id: AtomicU64,
    /// Worker thread numbers, shown in the logs so reuse is visible.
    next_worker: AtomicU64,
    /// Connections closing right now (half-closed, lingering): shutdown waits for them.
    lingering: AtomicUsize,
    /// When shutdown began, once it has.
    stopped_at: OnceLock<Instant>,
    /// Purchases whose reply could not be sent (customers cut at shutdown, say).
    untold: AtomicU64,
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
    /// timeout counts as one millisecond, and a zero `max_per_ip` as one. Timeouts
    /// longer than [`MAX_TIMEOUT`] count as it.
    pub fn new(listener: TcpListener, shop: Shop, mut config: Config) -> io::Result<Server> {
        let clamp = |t: Option<Duration>| t.filter(|t| !t.is_zero()).map(|t| t.min(MAX_TIMEOUT));
        config.idle_timeout = clamp(config.idle_timeout);
        config.message_timeout = clamp(config.message_timeout);
        config.write_timeout = config
            .write_timeout
            .clamp(Duration::from_millis(1), MAX_TIMEOUT);
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
                seats: Mutex::new(SeatMap::default()),
                next_id: AtomicU64::new(0),
                next_worker: AtomicU64::new(1),
                parked: Mutex::new(Vec::new()),
                lingering: AtomicUsize::new(0),
                stopped_at: OnceLock::new(),
                untold: AtomicU64::new(0),
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
    /// Customers connected right now.
    pub fn connected(&self) -> usize {
        self.ctx.lock_seats().streams.len()
    }

    /// Threads parked in the cache right now.
    pub fn parked_threads(&self) -> usize {
        self.ctx.lock_parked().len()
    }

    /// Purchases whose reply could not be sent, so far: sold, but not told.
    pub fn untold(&self) -> u64 {
        self.ctx.untold.load(Ordering::Acquire)
    }
}

impl Context {
    /// Gives an accepted customer a seat and a thread, or a polite refusal.
    fn admit(self: &Arc<Self>, stream: TcpStream, peer: SocketAddr) {
        let stream = Arc::new(stream);
        let seat = match self.take_seat(&stream, peer) {
            Ok((seat, let_go)) => {
                if let Some(silent) = let_go {
                    info!("all seats taken: {peer} seated in place of the customer silent longest");
                    silence::wake(&silent);
                }
                seat
            }
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
                    peer.ip().to_canonical()
                );
                self.refuse(&stream, peer, &Reply::TooManyFromAddress(limit));
                return;
            }
        };
        let job = Job { stream, peer, seat };
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
        let mut out = ReplyWriter::new(stream);
        let result = configured
            .map(|()| Watched::new(stream, &self.stopping, limits.idle).heard(&job.seat.presence))
            .map(|source| FrameReader::with_timeout_set(source, limits))
            .and_then(|mut frames| {
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
        self.untold.fetch_add(out.untold(), Ordering::AcqRel);
        // Every way a conversation ends says what the customer spent.
        let spent = session.spent();
        let secs = started.elapsed().as_secs_f32();
        match result {
            Err(_) if job.seat.presence.is_let_go() => {
                let silent = self.tell_let_go(stream, &peer, &job.seat.presence);
                info!(
                    "{peer} left (silent {silent}s, seat given to a newcomer) after {secs:.1}s, spent {spent}"
                );
            }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::catalog::{Catalog, EMBEDDED};
    use crate::wire::codec::{self, Charset, WireEncoding};
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
    fn a_full_shop_seats_a_newcomer_in_place_of_the_customer_silent_longest() {
        let config = Config {
            max_clients: 2,
            silent_seat_after: Duration::from_secs(1),
            ..Config::default()
        };
        let (addr, _handle, _server) = start(config);
        let greeted = || {
            let stream = TcpStream::connect(addr).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let first = read_line(&mut reader);
            (stream, reader, first)
        };
        let (_quiet, mut quiet_reader, first) = greeted();
        assert!(first.starts_with("目前商店还有"), "{first}");
        let (mut talker, mut talker_reader, _) = greeted();
        // Nobody has been silent for a second yet: the shop is full.
        assert_eq!(greeted().2, "抱歉,本店客满了,请稍后再来。\r\n");
        let mut spent = 0;
        for _ in 0..6 {
            thread::sleep(Duration::from_millis(200));
            talker
                .write_all(&codec::encode("西瓜\n", Charset::Gbk).unwrap())
                .unwrap();
            spent += 2;
            assert_eq!(
                read_line(&mut talker_reader),
                format!("购买成功,余额 -{spent}\r\n")
            );
        }
        // The quiet customer has been silent over a second: the newcomer takes their
        // seat, and they are told why before the close.
        let (_newcomer, _, first) = greeted();
        assert!(first.starts_with("目前商店还有"), "{first}");
        let why = read_line(&mut quiet_reader);
        assert!(
            why.starts_with("本店客满了,您已经 ")
                && why.ends_with(" 秒没有说话,座位让给了新来的顾客,连接将关闭,欢迎下次光临。\r\n"),
            "{why}"
        );
        assert_eq!(read_line(&mut quiet_reader), "", "closed");
        // The talker keeps their seat, and the shop is full again.
        talker
            .write_all(&codec::encode("西瓜\n", Charset::Gbk).unwrap())
            .unwrap();
        assert_eq!(
            read_line(&mut talker_reader),
            format!("购买成功,余额 -{}\r\n", spent + 2)
        );
        assert_eq!(greeted().2, "抱歉,本店客满了,请稍后再来。\r\n");
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
