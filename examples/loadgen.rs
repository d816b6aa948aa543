//! Load generator for the snack shop, plus the "floor" servers it compares
//! the shop against. Std only, one file, loopback (127.0.0.1) only.
//!
//! A floor server speaks the shop's wire protocol while doing the least
//! possible work: one thread per connection, fixed greeting, fixed reply, no
//! catalog, no stock, no encoding. Whatever the shop costs above the floor is
//! the price of its own logic; the *cached floor* additionally keeps finished
//! threads parked and reuses them for the next connection.
//!
//! # Load modes
//!
//! * `pingpong`: C long-lived customers, one thread each, buy in a loop
//!   (send `西瓜\n`, read one reply line). Reports purchases per second and
//!   p50/p99/max latency of one purchase.
//! * `session`: L concurrent loops; each iteration connects, reads the
//!   greeting, buys, says `拜拜`, reads the reply and waits for the server to
//!   close. Reports sessions per second and latency of a whole session.
//! * `hold`: opens N idle customers at a steady pace (each reads its
//!   greeting), keeps them for `--secs`, then checks that every one still
//!   answers a purchase. Reports the server's RSS per held connection (VmRSS
//!   from `/proc/PID/status`, while held minus before, divided by the number
//!   of connections opened) and how many answered. Its latencies are the
//!   time from connect to greeting, and `ops_per_sec` is the opening rate
//!   (capped by [`HOLD_OPEN_RATE`]).
//!
//! pingpong and session warm up for [`WARMUP`] before measuring; only
//! operations started after the warm-up count. `errors` counts failed
//! connects, reads and writes over the whole run, warm-up included.
//!
//! # Running
//!
//! From the repository root (the default paths are relative to it), after
//! `cargo build --release` has built `target/release/shop-server`:
//!
//! ```text
//! cargo run --release --example loadgen -- compare
//! cargo run --release --example loadgen -- compare --runs 5 --modes session --python
//! cargo run --release --example loadgen -- compare --servers floor,floor_cached --hold 2000
//! ```
//!
//! `compare` starts every server as a child process on port 0: the shop
//! (`--server`, with `--goods benches/unlimited.toml --max-clients 20000
//! --max-per-ip 20000 --idle-timeout 600`), the floor and the cached floor (this executable's
//! `floor` command) and, with `--python`, `benches/shop_threading.py`
//! (`--servers` picks any subset). It runs them alternated (shop, floor,
//! cached floor, [python], then floor, cached floor, ..., shop: each round
//! starts one server later) for `--runs` rounds, so slow drifts of the machine
//! and the after-effects of one run on the next hit every server alike. Every run gets a *fresh* server
//! process: no run sees state (customers' totals, parked threads, RSS) left
//! by another. The defaults take about 4 minutes (5 with `--python`).
//!
//! Children are killed when loadgen returns, also on errors and panics, and
//! Ctrl-C in a terminal reaches them as well (same process group). Std
//! cannot catch signals, so `kill PID` of loadgen alone leaves them running:
//! signal the process group instead (`kill -- -PGID`).
//!
//! Against an already running server:
//!
//! ```text
//! loadgen pingpong --addr 127.0.0.1:9999 --clients 64 --secs 3
//! loadgen session  --addr 127.0.0.1:9999 --loops 8 --secs 3
//! loadgen hold     --addr 127.0.0.1:9999 --conns 10000 --pid PID
//! loadgen floor    --port 0 [--thread-cache N]
//! ```
//!
//! Holding N connections needs N file descriptors in loadgen (and in the
//! server): 10,000 need `ulimit -n` >= 10100. Std cannot raise the limit, so
//! hold checks it first and stops with a clear error when it is too low.
//!
//! # The ledger (issue 12)
//!
//! `--servers shop,ledger,ledger_full` adds the shop with a fresh SQLite ledger
//! per run (`--ledger FILE` in the temporary directory, `--sync normal` or
//! `--sync full`); the summary adds `ledger_vs_shop` and `ledger_full_vs_shop`.
//! With `ledger_full`, each round first runs the fsync probe ([`fsync`]) in the
//! same directory; the summary's `ledger_full_vs_fsync_bound` compares it to
//! customers / fsync latency, capped by that round's in-memory shop rate.
//! `ledger_web` is the classroom setup: a ledger (`--sync normal`) and the live
//! view (`--web`) with a viewer polling it, as for `shop_web`.
//!
//! ```text
//! cargo run --release --example loadgen -- compare --modes pingpong --servers shop,ledger,ledger_full --runs 5
//! cargo run --release --example loadgen -- fsync --count 200
//! ```
//!
//! # Before and after (`--baseline`)
//!
//! `--baseline PATH` names a second shop-server binary, e.g. a release build of an
//! older commit in another worktree. Every shop kind in `--servers` (shop,
//! shop_web, ledger, ledger_full, ledger_web) then also runs as `<kind>_base` with
//! that binary, right after its twin in the same alternated rounds, and the summary
//! adds `<kind>_vs_base`: new ÷ base, ratio of the medians and paired.
//!
//! ```text
//! loadgen compare --baseline ../old/target/release/shop-server --servers ledger,ledger_web --modes pingpong
//! ```
//!
//! # Output
//!
//! One JSON line per run on stdout, for example
//!
//! ```text
//! {"server":"floor","mode":"pingpong","clients":64,"secs":3.0,"ops":123456,"ops_per_sec":41152.0,"p50_us":1500.2,"p99_us":3100.0,"max_us":9000.1,"errors":0}
//! ```
//!
//! `clients` is the number of customers (pingpong), loops (session) or held
//! connections (hold); hold adds `rss_before_kib`, `rss_held_kib`,
//! `rss_per_conn_kib` and `answered`. After the runs of one (mode, clients)
//! configuration, compare prints a summary line with `"summary":true`, the
//! median of every metric per server, and ratios: the shop's to each
//! reference server (`shop_vs_floor`, `shop_vs_floor_cached`,
//! `shop_vs_python`), each variant's to the plain shop (`ledger_vs_shop`,
//! `shop_web_vs_shop`), the same for the `_base` servers, and new ÷ base
//! (`shop_vs_base`): ratios of the medians, and for throughput also the
//! median of the per-round ratios (`ops_per_sec_paired`).

use std::process::ExitCode;
use std::time::Duration;

/// Every error ends up as a message for the user.
type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// How long pingpong and session run before measuring starts.
const WARMUP: Duration = Duration::from_millis(500);

/// Read and write timeout on every client socket, so a stuck server turns
/// into counted errors instead of a hung load generator.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one TCP connect may take (a dropped SYN is resent after 1 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connect attempts for long-lived customers (pingpong, hold) before giving
/// up; a full listen backlog shows up as a transient connect error.
const CONNECT_ATTEMPTS: u32 = 20;

/// Pause between two connect attempts.
const CONNECT_RETRY_DELAY: Duration = Duration::from_millis(10);

/// Pause of a session loop after a failed session, so a dead server does
/// not turn the loop into a busy spin.
const SESSION_ERROR_PAUSE: Duration = Duration::from_millis(1);

/// Stack size of the load generator's client threads.
const CLIENT_STACK_SIZE: usize = 128 * 1024;

/// Hold mode opens at most this many connections per second, so the
/// server's listen backlog is never overrun.
const HOLD_OPEN_RATE: f64 = 5000.0;

/// File descriptors loadgen needs besides the held connections.
const FD_HEADROOM: u64 = 100;

/// Linux errno for "too many open files" in this process (EMFILE).
const EMFILE: i32 = 24;

const USAGE: &str = "\
loadgen: load generator and floor servers for the snack shop (loopback only)

USAGE:
    loadgen compare [--runs 3] [--secs 3] [--modes pingpong,session,hold]
                    [--server target/release/shop-server] [--goods benches/unlimited.toml]
                    [--hold 10000] [--python] [--clients 1,64,256]
                    [--servers shop,floor,floor_cached,python,shop_web,ledger,ledger_full,ledger_web]
                    [--baseline OLD/shop-server]
    loadgen pingpong --addr 127.0.0.1:PORT [--clients 64] [--secs 3] [--label NAME]
    loadgen session  --addr 127.0.0.1:PORT [--loops 8] [--secs 3] [--label NAME]
    loadgen hold     --addr 127.0.0.1:PORT [--conns 10000] [--secs 3] [--pid PID] [--label NAME]
    loadgen floor    [--port 0] [--thread-cache N]
    loadgen fsync    [--dir DIR] [--count 200]
    loadgen --help

compare starts each server as a fresh child process per run (port 0), runs them
alternated (each round starting one server later) for --runs rounds and prints one JSON line per run plus one summary
line (medians and shop/reference ratios) per mode and client count.
Configurations: pingpong with 1, 64 and 256 customers, session with 8 loops,
hold with --hold connections. --python adds benches/shop_threading.py.
--clients picks the pingpong customer counts. shop_web is the shop with --web on and
a viewer polling /api/state as the page does; its summary has shop_web_vs_shop.
--baseline runs every shop kind also as <kind>_base with that binary, in the same
rounds; the summary adds <kind>_vs_base (new / base, medians and paired).

hold keeps the connections for --secs and reads the server's RSS from
/proc/PID/status (without --pid the RSS fields are null). It needs
`ulimit -n` >= conns + 100.

floor serves the shop protocol with fixed replies, one thread per connection;
--thread-cache N keeps up to N finished threads parked for reuse.

ledger and ledger_full are the shop with a fresh SQLite ledger per run
(--ledger in the temporary directory, --sync normal or full); ledger_web is the
classroom setup, the ledger (--sync normal) with --web and a viewer. With ledger_full,
each round also runs the fsync probe in that directory, and the summary gives
ledger_full against the fsync bound: customers / fsync latency, capped by the
shop's in-memory rate of the same round. fsync prints the probe alone: the
median time of writing 4 KiB to a file in DIR and fdatasync-ing it (appending,
and overwriting; the bound uses the faster).
";

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let command = argv.next().unwrap_or_default();
    let rest: Vec<String> = argv.collect();
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = args::Args::new(rest);
    let result = match command.as_str() {
        "--help" | "-h" | "help" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        "compare" => compare::run(args),
        "pingpong" | "session" | "hold" => direct::run(&command, args),
        "floor" => floor::run(args),
        "fsync" => fsync::run(args),
        "" => Err("no command given".into()),
        other => Err(format!("unknown command `{other}`").into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("loadgen: {err}");
            eprintln!("run `loadgen --help` for usage");
            ExitCode::FAILURE
        }
    }
}

/// The fixed protocol texts as GBK bytes, and line framing.
///
/// The bytes were computed once with Python, e.g.
/// `python3 -c "print('西瓜\n'.encode('gbk'))"`; each constant's doc comment
/// gives its text.
mod wire {
    use std::io::{self, ErrorKind, Read};

    /// `西瓜\n`: buy one watermelon.
    pub const BUY_LINE: &[u8] = b"\xce\xf7\xb9\xcf\n";

    /// `拜拜`: goodbye (without line end).
    pub const BYE: &[u8] = b"\xb0\xdd\xb0\xdd";

    /// `拜拜\n`: goodbye, as the client sends it.
    pub const BYE_LINE: &[u8] = b"\xb0\xdd\xb0\xdd\n";

    /// `目前商店还有:瓜子(4.5),西瓜(2),矿泉水(2.5)。请问您需要什么?\r\n`:
    /// the greeting for the shipped catalog.
    pub const GREETING_LINE: &[u8] = b"\
        \xc4\xbf\xc7\xb0\xc9\xcc\xb5\xea\xbb\xb9\xd3\xd0:\
        \xb9\xcf\xd7\xd3(4.5),\xce\xf7\xb9\xcf(2),\xbf\xf3\xc8\xaa\xcb\xae(2.5)\
        \xa1\xa3\xc7\xeb\xce\xca\xc4\xfa\xd0\xe8\xd2\xaa\xca\xb2\xc3\xb4?\r\n";

    /// `购买成功,余额 -2\r\n`: the floor's reply to every purchase.
    pub const BOUGHT_LINE: &[u8] = b"\xb9\xba\xc2\xf2\xb3\xc9\xb9\xa6,\xd3\xe0\xb6\xee -2\r\n";

    /// `欢迎下次光临\r\n`: the reply to `拜拜`, after which the server closes.
    pub const FAREWELL_LINE: &[u8] = b"\xbb\xb6\xd3\xad\xcf\xc2\xb4\xce\xb9\xe2\xc1\xd9\r\n";

    /// Longest line (terminator included) a [`LineReader`] accepts.
    pub const MAX_LINE: usize = 1024;

    /// Splits a byte stream into `\n`-terminated lines, reusing one buffer
    /// for all lines (and, after [`LineReader::reset`], for all connections).
    pub struct LineReader {
        buf: Vec<u8>,
        /// Start of the bytes not yet returned.
        start: usize,
        /// End of the bytes read so far.
        end: usize,
    }

    impl LineReader {
        pub fn new() -> Self {
            LineReader {
                buf: vec![0; MAX_LINE],
                start: 0,
                end: 0,
            }
        }

        /// Forgets buffered bytes, before reading from another connection.
        pub fn reset(&mut self) {
            self.start = 0;
            self.end = 0;
        }

        /// Returns the next line without its `\n` (a `\r` before it stays),
        /// or `None` when the peer closed the connection. A partial line
        /// before the close is dropped.
        pub fn next_line(&mut self, source: &mut impl Read) -> io::Result<Option<&[u8]>> {
            loop {
                let pending = &self.buf[self.start..self.end];
                if let Some(len) = pending.iter().position(|&b| b == b'\n') {
                    let line_start = self.start;
                    self.start += len + 1;
                    return Ok(Some(&self.buf[line_start..line_start + len]));
                }
                // No full line yet: move the partial line to the front and
                // read more behind it.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if self.end == self.buf.len() {
                    return Err(io::Error::new(ErrorKind::InvalidData, "line too long"));
                }
                match source.read(&mut self.buf[self.end..]) {
                    Ok(0) => return Ok(None),
                    Ok(n) => self.end += n,
                    Err(err) if err.kind() == ErrorKind::Interrupted => {}
                    Err(err) => return Err(err),
                }
            }
        }
    }
}

/// A tiny command line parser: `--name value` options and `--flag` switches.
mod args {
    use std::str::FromStr;

    pub struct Args {
        rest: Vec<String>,
    }

    impl Args {
        pub fn new(rest: Vec<String>) -> Self {
            Args { rest }
        }

        /// Removes the switch `name`; true if it was given.
        pub fn flag(&mut self, name: &str) -> bool {
            let before = self.rest.len();
            self.rest.retain(|arg| arg != name);
            self.rest.len() != before
        }

        /// Removes `name VALUE` and parses VALUE; `None` if not given.
        pub fn optional<T: FromStr>(&mut self, name: &str) -> Result<Option<T>, String> {
            let Some(pos) = self.rest.iter().position(|arg| arg == name) else {
                return Ok(None);
            };
            if pos + 1 >= self.rest.len() {
                return Err(format!("{name} needs a value"));
            }
            let value = self.rest.remove(pos + 1);
            self.rest.remove(pos);
            match value.parse() {
                Ok(parsed) => Ok(Some(parsed)),
                Err(_) => Err(format!("invalid value for {name}: `{value}`")),
            }
        }

        /// Like [`Args::optional`], with a default.
        pub fn value<T: FromStr>(&mut self, name: &str, default: T) -> Result<T, String> {
            Ok(self.optional(name)?.unwrap_or(default))
        }

        /// Like [`Args::optional`], but the option must be given.
        pub fn required<T: FromStr>(&mut self, name: &str) -> Result<T, String> {
            self.optional(name)?
                .ok_or_else(|| format!("missing {name}"))
        }

        /// Fails on anything not consumed (unknown options, stray values).
        pub fn finish(self) -> Result<(), String> {
            match self.rest.first() {
                None => Ok(()),
                Some(arg) => Err(format!("unexpected argument `{arg}`")),
            }
        }
    }
}

/// Hand-written JSON output and result statistics.
mod report {
    use std::fmt;
    use std::str::FromStr;

    /// Builds one JSON object, key by key.
    pub struct Json {
        out: String,
        empty: bool,
    }

    impl Json {
        pub fn object() -> Self {
            Json {
                out: String::from("{"),
                empty: true,
            }
        }

        fn key(&mut self, key: &str) {
            if !self.empty {
                self.out.push(',');
            }
            self.empty = false;
            push_string(&mut self.out, key);
            self.out.push(':');
        }

        pub fn str(mut self, key: &str, value: &str) -> Self {
            self.key(key);
            push_string(&mut self.out, value);
            self
        }

        pub fn bool(mut self, key: &str, value: bool) -> Self {
            self.key(key);
            self.out.push_str(if value { "true" } else { "false" });
            self
        }

        pub fn int(mut self, key: &str, value: u64) -> Self {
            self.key(key);
            self.out.push_str(&value.to_string());
            self
        }

        /// A number with `decimals` digits after the point; `None`, NaN and
        /// infinities become `null`.
        pub fn num(mut self, key: &str, value: impl Into<Option<f64>>, decimals: usize) -> Self {
            self.key(key);
            match value.into() {
                Some(v) if v.is_finite() => self.out.push_str(&format!("{v:.decimals$}")),
                _ => self.out.push_str("null"),
            }
            self
        }

        pub fn obj(mut self, key: &str, value: Json) -> Self {
            self.key(key);
            self.out.push_str(&value.finish());
            self
        }

        pub fn finish(mut self) -> String {
            self.out.push('}');
            self.out
        }
    }

    /// Appends `s` as a quoted, escaped JSON string.
    fn push_string(out: &mut String, s: &str) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Mode {
        Pingpong,
        Session,
        Hold,
    }

    impl fmt::Display for Mode {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(match self {
                Mode::Pingpong => "pingpong",
                Mode::Session => "session",
                Mode::Hold => "hold",
            })
        }
    }

    impl FromStr for Mode {
        type Err = String;

        fn from_str(s: &str) -> Result<Self, String> {
            match s {
                "pingpong" => Ok(Mode::Pingpong),
                "session" => Ok(Mode::Session),
                "hold" => Ok(Mode::Hold),
                _ => Err(format!("unknown mode `{s}`")),
            }
        }
    }

    /// Latency percentiles of one run, in microseconds.
    #[derive(Clone, Copy, Debug)]
    pub struct Latency {
        pub p50_us: f64,
        pub p99_us: f64,
        pub max_us: f64,
    }

    impl Latency {
        /// Percentiles (nearest rank) of `nanos`; `None` without samples.
        pub fn from_nanos(mut nanos: Vec<u64>) -> Option<Latency> {
            if nanos.is_empty() {
                return None;
            }
            nanos.sort_unstable();
            let at = |p: f64| {
                let rank = (p * nanos.len() as f64).ceil() as usize;
                nanos[rank.clamp(1, nanos.len()) - 1] as f64 / 1000.0
            };
            Some(Latency {
                p50_us: at(0.50),
                p99_us: at(0.99),
                max_us: at(1.0),
            })
        }
    }

    /// The extra results of a hold run.
    #[derive(Clone, Copy, Debug)]
    pub struct HoldStats {
        pub rss_before_kib: Option<u64>,
        pub rss_held_kib: Option<u64>,
        pub rss_per_conn_kib: Option<f64>,
        /// Held connections that answered the final purchase.
        pub answered: u64,
    }

    /// The result of one run against one server.
    #[derive(Clone, Debug)]
    pub struct RunReport {
        pub server: String,
        pub mode: Mode,
        /// Customers (pingpong), loops (session) or connections (hold).
        pub clients: usize,
        /// Measured seconds (pingpong, session) or holding time (hold).
        pub secs: f64,
        pub ops: u64,
        pub ops_per_sec: f64,
        pub latency: Option<Latency>,
        pub errors: u64,
        pub hold: Option<HoldStats>,
    }

    impl RunReport {
        pub fn to_json(&self) -> String {
            let mut json = Json::object()
                .str("server", &self.server)
                .str("mode", &self.mode.to_string())
                .int("clients", self.clients as u64)
                .num("secs", self.secs, 1)
                .int("ops", self.ops)
                .num("ops_per_sec", self.ops_per_sec, 1)
                .num("p50_us", self.latency.map(|l| l.p50_us), 1)
                .num("p99_us", self.latency.map(|l| l.p99_us), 1)
                .num("max_us", self.latency.map(|l| l.max_us), 1)
                .int("errors", self.errors);
            if let Some(hold) = &self.hold {
                json = json
                    .num("rss_before_kib", hold.rss_before_kib.map(|k| k as f64), 0)
                    .num("rss_held_kib", hold.rss_held_kib.map(|k| k as f64), 0)
                    .num("rss_per_conn_kib", hold.rss_per_conn_kib, 2)
                    .int("answered", hold.answered);
            }
            json.finish()
        }
    }

    /// Median of `values` (mean of the middle two for an even count).
    pub fn median(mut values: Vec<f64>) -> Option<f64> {
        values.retain(|v| v.is_finite());
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        if values.len() % 2 == 1 {
            Some(values[mid])
        } else {
            Some((values[mid - 1] + values[mid]) / 2.0)
        }
    }
}

/// The client side: pingpong, session and hold against a server address.
mod load {
    use std::fs;
    use std::io::{self, ErrorKind, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::thread::{self, JoinHandle};
    use std::time::{Duration, Instant};

    use crate::Result;
    use crate::report::{HoldStats, Latency, Mode, RunReport};
    use crate::wire::{BUY_LINE, BYE_LINE, LineReader};
    use crate::{
        CLIENT_STACK_SIZE, CONNECT_ATTEMPTS, CONNECT_RETRY_DELAY, CONNECT_TIMEOUT, EMFILE,
        FD_HEADROOM, HOLD_OPEN_RATE, IO_TIMEOUT, SESSION_ERROR_PAUSE, WARMUP,
    };

    /// Which part of a run the client threads are in; set by the main thread.
    struct Phase(AtomicU8);

    const WARMING_UP: u8 = 0;
    const MEASURING: u8 = 1;
    const STOPPED: u8 = 2;

    impl Phase {
        fn new() -> Self {
            Phase(AtomicU8::new(WARMING_UP))
        }

        // Relaxed is enough: the phase is a lone flag, no other data is
        // published through it.
        fn get(&self) -> u8 {
            self.0.load(Ordering::Relaxed)
        }

        fn set(&self, phase: u8) {
            self.0.store(phase, Ordering::Relaxed);
        }

        /// Warms up, measures for `secs`, stops; returns the measured time.
        fn drive(&self, secs: f64) -> Duration {
            thread::sleep(WARMUP);
            self.set(MEASURING);
            let started = Instant::now();
            thread::sleep(Duration::from_secs_f64(secs));
            self.set(STOPPED);
            started.elapsed()
        }
    }

    /// What one client thread counted.
    #[derive(Default)]
    struct Tally {
        /// Latency of every operation started while measuring, in ns.
        nanos: Vec<u64>,
        errors: u64,
    }

    impl Tally {
        /// Records an operation that started in `phase` at `started`;
        /// returns false if it failed.
        fn record(&mut self, phase: u8, started: Instant, outcome: io::Result<()>) -> bool {
            match outcome {
                Ok(()) => {
                    if phase == MEASURING {
                        self.nanos.push(started.elapsed().as_nanos() as u64);
                    }
                    true
                }
                Err(_) => {
                    self.errors += 1;
                    false
                }
            }
        }
    }

    fn is_emfile(err: &io::Error) -> bool {
        err.raw_os_error() == Some(EMFILE)
    }

    /// Connects, retrying transient errors up to `attempts` times (but not
    /// "too many open files": retrying cannot fix that).
    fn connect(addr: SocketAddr, attempts: u32) -> io::Result<TcpStream> {
        let mut attempt = 1;
        loop {
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(stream) => return Ok(stream),
                Err(err) if attempt >= attempts || is_emfile(&err) => return Err(err),
                Err(_) => {
                    attempt += 1;
                    thread::sleep(CONNECT_RETRY_DELAY);
                }
            }
        }
    }

    /// Connects as a new customer and reads the greeting.
    fn open_customer(
        addr: SocketAddr,
        attempts: u32,
        reader: &mut LineReader,
    ) -> io::Result<TcpStream> {
        let mut stream = connect(addr, attempts)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        reader.reset();
        read_reply(&mut stream, reader)?;
        Ok(stream)
    }

    /// Reads one reply line; its content is not checked (it varies).
    fn read_reply(stream: &mut TcpStream, reader: &mut LineReader) -> io::Result<()> {
        match reader.next_line(stream)? {
            Some(_) => Ok(()),
            None => Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "server closed the connection",
            )),
        }
    }

    /// Buys one watermelon and reads the reply.
    fn buy(stream: &mut TcpStream, reader: &mut LineReader) -> io::Result<()> {
        stream.write_all(BUY_LINE)?;
        read_reply(stream, reader)
    }

    /// What a client thread does after a failed operation.
    #[derive(Clone, Copy)]
    enum OnError {
        /// Its connection is broken: the client is done.
        Stop,
        /// Pause briefly (so a refusing server is not hammered) and go on.
        PauseAndRetry,
    }

    /// Starts a client thread that repeats `op` until the phase stops, timing each
    /// operation that succeeds and counting those that fail.
    fn spawn_client<F>(
        phase: &Arc<Phase>,
        on_error: OnError,
        mut op: F,
    ) -> io::Result<JoinHandle<Tally>>
    where
        F: FnMut(&mut LineReader) -> io::Result<()> + Send + 'static,
    {
        let phase = Arc::clone(phase);
        thread::Builder::new()
            .stack_size(CLIENT_STACK_SIZE)
            .spawn(move || {
                let mut tally = Tally::default();
                let mut reader = LineReader::new();
                loop {
                    let current = phase.get();
                    if current == STOPPED {
                        return tally;
                    }
                    let started = Instant::now();
                    let outcome = op(&mut reader);
                    if !tally.record(current, started, outcome) {
                        match on_error {
                            OnError::Stop => return tally,
                            OnError::PauseAndRetry => thread::sleep(SESSION_ERROR_PAUSE),
                        }
                    }
                }
            })
    }

    /// Stops the clients, waits for them and adds up their tallies.
    fn collect(phase: &Phase, clients: Vec<JoinHandle<Tally>>, mut total: Tally) -> Tally {
        phase.set(STOPPED);
        for client in clients {
            match client.join() {
                Ok(tally) => {
                    total.nanos.extend(tally.nanos);
                    total.errors += tally.errors;
                }
                Err(_) => total.errors += 1,
            }
        }
        total
    }

    fn throughput_report(
        server: &str,
        mode: Mode,
        clients: usize,
        measured: Duration,
        tally: Tally,
    ) -> RunReport {
        let secs = measured.as_secs_f64();
        let ops = tally.nanos.len() as u64;
        RunReport {
            server: server.to_string(),
            mode,
            clients,
            secs,
            ops,
            ops_per_sec: ops as f64 / secs,
            latency: Latency::from_nanos(tally.nanos),
            errors: tally.errors,
            hold: None,
        }
    }

    /// `clients` long-lived customers buy in a loop for `secs` after warm-up.
    pub fn pingpong(
        server: &str,
        addr: SocketAddr,
        clients: usize,
        secs: f64,
    ) -> Result<RunReport> {
        let phase = Arc::new(Phase::new());
        let mut setup = Tally::default();
        let mut reader = LineReader::new();
        let mut threads = Vec::with_capacity(clients);
        // Connect the customers one at a time (gently on the listen
        // backlog); each starts buying as soon as it is greeted. The warm-up
        // starts once all are connected and absorbs the start-up skew.
        for _ in 0..clients {
            let mut stream = match open_customer(addr, CONNECT_ATTEMPTS, &mut reader) {
                Ok(stream) => stream,
                Err(err) if is_emfile(&err) => {
                    let opened = threads.len();
                    collect(&phase, threads, setup);
                    return Err(format!(
                        "too many open files after {opened} customers: raise `ulimit -n`"
                    )
                    .into());
                }
                Err(_) => {
                    setup.errors += 1;
                    continue;
                }
            };
            let spawned = spawn_client(&phase, OnError::Stop, move |reader| {
                buy(&mut stream, reader)
            });
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(err) => {
                    collect(&phase, threads, setup);
                    return Err(format!("cannot start a client thread: {err}").into());
                }
            }
        }
        let measured = phase.drive(secs);
        let tally = collect(&phase, threads, setup);
        Ok(throughput_report(
            server,
            Mode::Pingpong,
            clients,
            measured,
            tally,
        ))
    }

    /// One whole visit: connect, greeting, buy, goodbye, wait for the close.
    fn one_session(addr: SocketAddr, reader: &mut LineReader) -> io::Result<()> {
        let mut stream = open_customer(addr, 1, reader)?;
        buy(&mut stream, reader)?;
        stream.write_all(BYE_LINE)?;
        read_reply(&mut stream, reader)?;
        match reader.next_line(&mut stream)? {
            None => Ok(()),
            Some(_) => Err(io::Error::new(
                ErrorKind::InvalidData,
                "server kept talking after the goodbye",
            )),
        }
    }

    /// `loops` threads run whole sessions back to back for `secs`.
    pub fn session(server: &str, addr: SocketAddr, loops: usize, secs: f64) -> Result<RunReport> {
        let phase = Arc::new(Phase::new());
        let mut threads = Vec::with_capacity(loops);
        for _ in 0..loops {
            let spawned = spawn_client(&phase, OnError::PauseAndRetry, move |reader| {
                one_session(addr, reader)
            });
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(err) => {
                    collect(&phase, threads, Tally::default());
                    return Err(format!("cannot start a client thread: {err}").into());
                }
            }
        }
        let measured = phase.drive(secs);
        let tally = collect(&phase, threads, Tally::default());
        Ok(throughput_report(
            server,
            Mode::Session,
            loops,
            measured,
            tally,
        ))
    }

    /// Resident set size of process `pid`, in KiB.
    pub fn vm_rss_kib(pid: u32) -> io::Result<u64> {
        let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| io::Error::new(ErrorKind::InvalidData, "no VmRSS in status"))
    }

    /// The soft limit on open files of this process, if it is a number.
    fn open_files_soft_limit() -> Option<u64> {
        let limits = fs::read_to_string("/proc/self/limits").ok()?;
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        line.trim_start_matches("Max open files")
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// Fails with a clear message if holding `conns` connections would run
    /// out of file descriptors.
    pub fn check_fd_limit(conns: usize) -> Result<()> {
        let needed = conns as u64 + FD_HEADROOM;
        match open_files_soft_limit() {
            Some(limit) if limit < needed => Err(format!(
                "holding {conns} connections needs {needed} file descriptors, \
                 but the limit is {limit}: raise it with `ulimit -n {needed}`"
            )
            .into()),
            _ => Ok(()),
        }
    }

    /// Opens `conns` idle customers, keeps them for `secs`, then checks that
    /// each still answers. With `pid`, measures the server's RSS.
    pub fn hold(
        server: &str,
        addr: SocketAddr,
        conns: usize,
        secs: f64,
        pid: Option<u32>,
    ) -> Result<RunReport> {
        check_fd_limit(conns)?;
        let rss_before_kib = pid.map(vm_rss_kib).transpose()?;

        // Open at a steady pace, reading each greeting before the next connect.
        let mut reader = LineReader::new();
        let mut held = Vec::with_capacity(conns);
        let mut greeting_nanos = Vec::with_capacity(conns);
        let mut errors = 0;
        let opening = Instant::now();
        for i in 0..conns {
            let due = opening + Duration::from_secs_f64(i as f64 / HOLD_OPEN_RATE);
            thread::sleep(due.saturating_duration_since(Instant::now()));
            let started = Instant::now();
            match open_customer(addr, CONNECT_ATTEMPTS, &mut reader) {
                Ok(stream) => {
                    greeting_nanos.push(started.elapsed().as_nanos() as u64);
                    held.push(stream);
                }
                Err(err) if is_emfile(&err) => {
                    return Err(format!(
                        "too many open files after {} connections: holding {conns} \
                         needs `ulimit -n` >= {}",
                        held.len(),
                        conns as u64 + FD_HEADROOM
                    )
                    .into());
                }
                Err(_) => errors += 1,
            }
        }
        let open_secs = opening.elapsed().as_secs_f64();

        thread::sleep(Duration::from_secs_f64(secs));
        let rss_held_kib = pid.map(vm_rss_kib).transpose()?;

        // One customer after the other (this checks that the connections
        // are alive, not how the server copes with a burst).
        let mut answered = 0;
        for mut stream in held {
            reader.reset();
            match buy(&mut stream, &mut reader) {
                Ok(()) => answered += 1,
                Err(_) => errors += 1,
            }
        }

        let opened = greeting_nanos.len();
        let rss_per_conn_kib = match (rss_before_kib, rss_held_kib) {
            (Some(before), Some(during)) if opened > 0 => {
                Some((during as f64 - before as f64) / opened as f64)
            }
            _ => None,
        };
        Ok(RunReport {
            server: server.to_string(),
            mode: Mode::Hold,
            clients: conns,
            secs,
            ops: opened as u64,
            ops_per_sec: opened as f64 / open_secs,
            latency: Latency::from_nanos(greeting_nanos),
            errors,
            hold: Some(HoldStats {
                rss_before_kib,
                rss_held_kib,
                rss_per_conn_kib,
                answered,
            }),
        })
    }
}

/// `loadgen pingpong|session|hold` against an already running server.
mod direct {
    use std::net::SocketAddr;

    use crate::Result;
    use crate::args::Args;
    use crate::load;

    pub fn run(command: &str, mut args: Args) -> Result<()> {
        let addr: SocketAddr = args.required("--addr")?;
        if !addr.ip().is_loopback() {
            return Err(format!("{addr} is not a loopback address").into());
        }
        let secs: f64 = args.value("--secs", 3.0)?;
        if secs.is_nan() || secs <= 0.0 {
            return Err("--secs must be positive".into());
        }
        let label: String = args.value("--label", "external".to_string())?;
        let report = match command {
            "pingpong" => {
                let clients = args.value("--clients", 64)?;
                args.finish()?;
                load::pingpong(&label, addr, clients, secs)?
            }
            "session" => {
                let loops = args.value("--loops", 8)?;
                args.finish()?;
                load::session(&label, addr, loops, secs)?
            }
            _ => {
                let conns = args.value("--conns", 10_000)?;
                let pid = args.optional("--pid")?;
                args.finish()?;
                load::hold(&label, addr, conns, secs, pid)?
            }
        };
        println!("{}", report.to_json());
        Ok(())
    }
}

/// The floor servers: the shop protocol with fixed replies, one thread per
/// connection, optionally with a cache of parked threads.
mod floor {
    use std::collections::VecDeque;
    use std::io::{self, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Condvar, Mutex};
    use std::thread;
    use std::time::{Duration, Instant};

    use crate::Result;
    use crate::args::Args;
    use crate::wire::{BOUGHT_LINE, BYE, FAREWELL_LINE, GREETING_LINE, LineReader};

    /// Stack size of a connection thread, the same the shop server uses.
    const WORKER_STACK_SIZE: usize = 64 * 1024;

    /// How long a finished thread stays parked waiting for a new connection.
    const PARK_TIMEOUT: Duration = Duration::from_secs(60);

    /// Pause after a failed accept (e.g. out of file descriptors), so the
    /// accept loop does not spin.
    const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(10);

    /// `loadgen floor --port P [--thread-cache N]`
    pub fn run(mut args: Args) -> Result<()> {
        let port: u16 = args.value("--port", 0)?;
        let cache_size: usize = args.value("--thread-cache", 0)?;
        args.finish()?;

        let listener = TcpListener::bind(("127.0.0.1", port))?;
        // The first stdout line tells whoever started us where we listen.
        println!("listening on {}", listener.local_addr()?);
        io::stdout().flush()?;

        let cache = (cache_size > 0).then(|| Arc::new(ThreadCache::new(cache_size)));
        for incoming in listener.incoming() {
            let stream = match incoming {
                Ok(stream) => stream,
                Err(err) => {
                    eprintln!("floor: accept failed: {err}");
                    thread::sleep(ACCEPT_ERROR_PAUSE);
                    continue;
                }
            };
            // Prefer a parked thread; spawn only when none is parked.
            let stream = match &cache {
                Some(cache) => match cache.hand_off(stream) {
                    Ok(()) => continue,
                    Err(stream) => stream,
                },
                None => stream,
            };
            let cache = cache.clone();
            let spawned = thread::Builder::new()
                .stack_size(WORKER_STACK_SIZE)
                .spawn(move || worker(stream, cache.as_deref()));
            if let Err(err) = spawned {
                // The stream went down with the closure: that customer is
                // disconnected, the others carry on.
                eprintln!("floor: cannot start a thread: {err}");
            }
        }
        Ok(())
    }

    /// A connection thread: serves its first customer, then, with a cache,
    /// parks and serves whoever it is handed next.
    fn worker(first: TcpStream, cache: Option<&ThreadCache>) {
        let mut reader = LineReader::new();
        let mut next = Some(first);
        while let Some(stream) = next {
            // An I/O error only ends this customer's visit; the floor keeps quiet.
            let _ = serve_customer(stream, &mut reader);
            next = cache.and_then(ThreadCache::park);
        }
    }

    /// Greets, answers every line with the fixed purchase reply, and says
    /// goodbye to `拜拜`. The connection closes when `stream` is dropped.
    fn serve_customer(mut stream: TcpStream, reader: &mut LineReader) -> io::Result<()> {
        stream.set_nodelay(true)?;
        reader.reset();
        stream.write_all(GREETING_LINE)?;
        while let Some(line) = reader.next_line(&mut stream)? {
            let message = line.strip_suffix(b"\r").unwrap_or(line);
            if message == BYE {
                return stream.write_all(FAREWELL_LINE);
            }
            stream.write_all(BOUGHT_LINE)?;
        }
        Ok(())
    }

    /// Parked connection threads waiting for their next customer.
    ///
    /// The accept loop puts a new stream into `handed` only when it can
    /// reserve a parked thread for it (`unreserved > 0`), and wakes one
    /// parked thread. Every parked thread is either unreserved or matched by
    /// a stream in `handed`, so
    ///
    /// `parked threads == unreserved + handed.len() <= capacity`.
    ///
    /// A parked thread that times out leaves only if no stream is waiting
    /// for it; since it checks under the lock, no stream is ever lost.
    pub struct ThreadCache {
        state: Mutex<CacheState>,
        wakeup: Condvar,
        capacity: usize,
    }

    struct CacheState {
        /// Parked threads no stream has been handed to yet.
        unreserved: usize,
        /// Streams handed over, not yet picked up by a parked thread
        /// (oldest first).
        handed: VecDeque<TcpStream>,
    }

    impl ThreadCache {
        pub fn new(capacity: usize) -> Self {
            ThreadCache {
                state: Mutex::new(CacheState {
                    unreserved: 0,
                    handed: VecDeque::new(),
                }),
                wakeup: Condvar::new(),
                capacity,
            }
        }

        /// Gives `stream` to a parked thread, or gives it back if no thread
        /// is parked.
        pub fn hand_off(&self, stream: TcpStream) -> std::result::Result<(), TcpStream> {
            // Nothing that can panic runs under this lock, so the state is
            // consistent even if the lock were poisoned: recover the guard.
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.unreserved == 0 {
                return Err(stream);
            }
            state.unreserved -= 1;
            state.handed.push_back(stream);
            self.wakeup.notify_one();
            Ok(())
        }

        /// Parks the calling thread for up to [`PARK_TIMEOUT`]; returns the
        /// next customer, or `None` if the cache is full or nobody came (the
        /// thread should then exit).
        pub fn park(&self) -> Option<TcpStream> {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.unreserved + state.handed.len() >= self.capacity {
                return None;
            }
            state.unreserved += 1;
            let deadline = Instant::now() + PARK_TIMEOUT;
            loop {
                if let Some(stream) = state.handed.pop_front() {
                    return Some(stream);
                }
                let now = Instant::now();
                if now >= deadline {
                    state.unreserved -= 1;
                    return None;
                }
                state = match self.wakeup.wait_timeout(state, deadline - now) {
                    Ok((state, _)) => state,
                    Err(poisoned) => poisoned.into_inner().0,
                };
            }
        }
    }
}

/// `loadgen compare`: start the servers, run them alternated, summarize.
mod compare {
    use std::io::{self, BufRead, BufReader};
    use std::net::SocketAddr;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::str::FromStr;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, mpsc};
    use std::thread;
    use std::time::Duration;

    use crate::Result;
    use crate::args::Args;
    use crate::load;
    use crate::report::{Json, Mode, RunReport, median};

    /// Customers per pingpong configuration.
    const PINGPONG_CLIENTS: [usize; 3] = [1, 64, 256];

    /// Concurrent loops in the session configuration.
    const SESSION_LOOPS: usize = 8;

    /// Default number of held connections (`--hold`).
    const DEFAULT_HOLD: usize = 10_000;

    /// Parked threads the cached floor keeps.
    const CACHED_FLOOR_THREADS: usize = 64;

    /// The shop server's `--max-clients`: above any hold count we use.
    const SHOP_MAX_CLIENTS: usize = 20_000;

    /// The shop server's `--idle-timeout`, in seconds: longer than any run.
    const SHOP_IDLE_TIMEOUT_SECS: u64 = 600;

    /// How long a server may take to print its address.
    const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

    /// fsyncs the probe times (twice: append, overwrite) each round of a ledger_full
    /// comparison: about 0.5 s.
    const FSYNC_PROBES: usize = 60;

    /// The Python peer, relative to the repository root.
    const PYTHON_SERVER: &str = "benches/shop_threading.py";

    /// How often the viewer of `shop_web` and `ledger_web` fetches the state: what the
    /// page does.
    const VIEWER_POLL: Duration = Duration::from_millis(500);

    /// A server implementation to benchmark.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum ServerKind {
        Shop,
        Floor,
        FloorCached,
        Python,
        /// The shop with its live view on (`--web`) and the page open.
        ShopWeb,
        /// The shop with a ledger, `--sync normal`.
        Ledger,
        /// The shop with a ledger, `--sync full`.
        LedgerFull,
        /// The classroom setup: a ledger (`--sync normal`) and the live view with the
        /// page open.
        LedgerWeb,
    }

    impl ServerKind {
        fn name(self) -> &'static str {
            match self {
                ServerKind::Shop => "shop",
                ServerKind::Floor => "floor",
                ServerKind::FloorCached => "floor_cached",
                ServerKind::Python => "python",
                ServerKind::ShopWeb => "shop_web",
                ServerKind::Ledger => "ledger",
                ServerKind::LedgerFull => "ledger_full",
                ServerKind::LedgerWeb => "ledger_web",
            }
        }

        /// Whether this is the shop-server binary, which `--baseline` can replace.
        fn is_shop(self) -> bool {
            self.web() || self == ServerKind::Shop || self.sync().is_some()
        }

        /// Whether the live view is on, with a viewer polling it.
        fn web(self) -> bool {
            matches!(self, ServerKind::ShopWeb | ServerKind::LedgerWeb)
        }

        /// The ledger's `--sync`, for the kinds with a ledger.
        fn sync(self) -> Option<&'static str> {
            match self {
                ServerKind::Ledger | ServerKind::LedgerWeb => Some("normal"),
                ServerKind::LedgerFull => Some("full"),
                _ => None,
            }
        }
    }

    /// One server of a comparison: a kind, run with the shop-server under test or,
    /// as `<kind>_base`, with the `--baseline` binary.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Server {
        kind: ServerKind,
        base: bool,
    }

    impl Server {
        fn name(self) -> String {
            let suffix = if self.base { "_base" } else { "" };
            format!("{}{suffix}", self.kind.name())
        }
    }

    impl FromStr for ServerKind {
        type Err = String;

        fn from_str(s: &str) -> std::result::Result<Self, String> {
            [
                ServerKind::Shop,
                ServerKind::Floor,
                ServerKind::FloorCached,
                ServerKind::Python,
                ServerKind::ShopWeb,
                ServerKind::Ledger,
                ServerKind::LedgerFull,
                ServerKind::LedgerWeb,
            ]
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| format!("unknown server `{s}`"))
        }
    }

    /// Parses a comma-separated list.
    fn list<T: FromStr<Err = String>>(text: &str) -> std::result::Result<Vec<T>, String> {
        text.split(',').map(|item| item.trim().parse()).collect()
    }

    struct Options {
        runs: usize,
        secs: f64,
        modes: Vec<Mode>,
        /// In running order: each shop kind followed by its `_base` twin, if any.
        servers: Vec<Server>,
        shop: PathBuf,
        /// The shop-server to compare against (`--baseline`).
        baseline: Option<PathBuf>,
        goods: PathBuf,
        hold: usize,
        /// Customer counts of the pingpong configurations.
        clients: Vec<usize>,
    }

    impl Options {
        fn parse(mut args: Args) -> Result<Options> {
            let runs = args.value("--runs", 3)?;
            let secs: f64 = args.value("--secs", 3.0)?;
            let modes = list(&args.value("--modes", "pingpong,session,hold".to_string())?)?;
            let mut kinds: Vec<ServerKind> =
                list(&args.value("--servers", "shop,floor,floor_cached".to_string())?)?;
            if args.flag("--python") && !kinds.contains(&ServerKind::Python) {
                kinds.push(ServerKind::Python);
            }
            let shop = args.value("--server", PathBuf::from("target/release/shop-server"))?;
            let baseline: Option<PathBuf> = args.optional("--baseline")?;
            let servers = kinds
                .into_iter()
                .flat_map(|kind| {
                    let twin = baseline.is_some() && kind.is_shop();
                    [false, true]
                        .into_iter()
                        .filter(move |&base| !base || twin)
                        .map(move |base| Server { kind, base })
                })
                .collect();
            let goods = args.value("--goods", PathBuf::from("benches/unlimited.toml"))?;
            let hold = args.value("--hold", DEFAULT_HOLD)?;
            let default_clients = PINGPONG_CLIENTS.map(|n| n.to_string()).join(",");
            let clients = args
                .value("--clients", default_clients)?
                .split(',')
                .map(|n| {
                    n.trim()
                        .parse::<usize>()
                        .map_err(|e| format!("--clients: {e}"))
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            args.finish()?;
            if runs == 0 || secs.is_nan() || secs <= 0.0 {
                return Err("--runs and --secs must be positive".into());
            }
            Ok(Options {
                runs,
                secs,
                modes,
                servers,
                shop,
                baseline,
                goods,
                hold,
                clients,
            })
        }
    }

    /// A server child process; killed when dropped.
    struct ServerProcess {
        child: Child,
        addr: SocketAddr,
        /// Set on drop to stop the viewer of `shop_web` and `ledger_web`.
        viewer_stop: Arc<AtomicBool>,
        /// Dropped after the child is killed (fields drop after `Drop::drop`).
        _ledger: Option<Ledger>,
    }

    /// A fresh ledger file for one run, in the temporary directory; removed (with
    /// SQLite's side files) when dropped.
    struct Ledger(PathBuf);

    impl Ledger {
        fn fresh() -> Ledger {
            static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = format!("loadgen-ledger-{}-{n}.db", std::process::id());
            let ledger = Ledger(std::env::temp_dir().join(name));
            ledger.remove();
            ledger
        }

        fn remove(&self) {
            for suffix in ["", "-wal", "-shm", ".lock"] {
                let mut path = self.0.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }

    impl Drop for Ledger {
        fn drop(&mut self) {
            self.remove();
        }
    }

    impl ServerProcess {
        /// Starts `server` on port 0 and waits for its `listening on` line.
        fn start(server: Server, options: &Options) -> Result<ServerProcess> {
            let (kind, name) = (server.kind, server.name());
            let mut ledger = None;
            let mut command = match kind {
                _ if kind.is_shop() => {
                    let binary = match &options.baseline {
                        Some(baseline) if server.base => baseline,
                        _ => &options.shop,
                    };
                    let mut command = Command::new(binary);
                    command
                        .args(["--port", "0", "--goods"])
                        .arg(&options.goods)
                        .args(["--max-clients", &SHOP_MAX_CLIENTS.to_string()])
                        // Every client of a benchmark comes from one address, loopback.
                        .args(["--max-per-ip", &SHOP_MAX_CLIENTS.to_string()])
                        .args(["--idle-timeout", &SHOP_IDLE_TIMEOUT_SECS.to_string()]);
                    if kind.web() {
                        command.args(["--web", "127.0.0.1:0"]);
                    }
                    if let Some(sync) = kind.sync() {
                        let file = Ledger::fresh();
                        command.arg("--ledger").arg(&file.0).args(["--sync", sync]);
                        ledger = Some(file);
                    }
                    command
                }
                ServerKind::Floor | ServerKind::FloorCached => {
                    let mut command = Command::new(std::env::current_exe()?);
                    command.args(["floor", "--port", "0"]);
                    if kind == ServerKind::FloorCached {
                        command.args(["--thread-cache", &CACHED_FLOOR_THREADS.to_string()]);
                    }
                    command
                }
                _ => {
                    let mut command = Command::new("python3");
                    command.args([PYTHON_SERVER, "--port", "0"]);
                    command
                }
            };
            let mut child = command
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|err| format!("cannot start {name}: {err}"))?;
            let stdout = child.stdout.take();
            // From here on, dropping `server` kills the child.
            let mut server = ServerProcess {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                _ledger: ledger,
                viewer_stop: Arc::new(AtomicBool::new(false)),
            };
            let stdout = stdout.ok_or("child has no stdout")?;

            // Read the first line on a helper thread (so a silent server
            // cannot hang us), then keep draining stdout so the server
            // never blocks on a full pipe.
            let lines = if kind.web() { 2 } else { 1 };
            let (first_line, receive) = mpsc::channel();
            thread::spawn(move || {
                let mut stdout = BufReader::new(stdout);
                for _ in 0..lines {
                    let mut line = String::new();
                    let read = stdout.read_line(&mut line).map(|_| line);
                    let _ = first_line.send(read);
                }
                let _ = io::copy(&mut stdout, &mut io::sink());
            });
            let line = match receive.recv_timeout(STARTUP_TIMEOUT) {
                Ok(Ok(line)) => line,
                Ok(Err(err)) => return Err(format!("{name}: reading stdout: {err}").into()),
                Err(_) => return Err(format!("{name} did not print its address in time").into()),
            };
            server.addr = parse_listening_line(&line).ok_or_else(|| {
                let status = server.child.try_wait().ok().flatten();
                format!(
                    "{name}: expected `listening on 127.0.0.1:PORT`, got {line:?} (exit status: {status:?}; \
                     its stderr is discarded, start it by hand to see why)"
                )
            })?;
            if kind.web() {
                let line = match receive.recv_timeout(STARTUP_TIMEOUT) {
                    Ok(Ok(line)) => line,
                    _ => return Err(format!("{name} did not print its live view line").into()),
                };
                let view = line
                    .trim()
                    .strip_prefix("live view on http://")
                    .and_then(|rest| rest.split('/').next())
                    .and_then(|addr| addr.parse().ok())
                    .ok_or_else(|| format!("{name}: unexpected live view line {line:?}"))?;
                let stop = server.viewer_stop.clone();
                thread::spawn(move || view_page(view, &stop));
            }
            Ok(server)
        }
    }

    /// The page, open for the whole run: loads it once, then fetches the state every
    /// [`VIEWER_POLL`], as the page's script does, until `stop` is set.
    fn view_page(addr: SocketAddr, stop: &AtomicBool) {
        let get = |path: &str| -> io::Result<usize> {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(addr)?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n")?;
            let mut body = Vec::new();
            stream.read_to_end(&mut body)?;
            Ok(body.len())
        };
        let _ = get("/");
        while !stop.load(Ordering::Relaxed) {
            match get("/api/state") {
                // The server is killed at the end of a run, maybe mid-request.
                Err(err) if !stop.load(Ordering::Relaxed) => {
                    eprintln!("loadgen: viewer of the live view: {err}");
                }
                _ => {}
            }
            thread::sleep(VIEWER_POLL);
        }
    }

    impl Drop for ServerProcess {
        fn drop(&mut self) {
            self.viewer_stop.store(true, Ordering::Relaxed);
            // Errors mean the child is already gone, which is what we want.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// `listening on 127.0.0.1:PORT` -> the address, if it is loopback.
    fn parse_listening_line(line: &str) -> Option<SocketAddr> {
        let addr: SocketAddr = line.trim().strip_prefix("listening on ")?.parse().ok()?;
        addr.ip().is_loopback().then_some(addr)
    }

    /// One (mode, number of clients) configuration.
    #[derive(Clone, Copy)]
    struct Config {
        mode: Mode,
        clients: usize,
    }

    fn configs(options: &Options) -> Vec<Config> {
        let mut configs = Vec::new();
        for &mode in &options.modes {
            let counts: &[usize] = match mode {
                Mode::Pingpong => &options.clients,
                Mode::Session => &[SESSION_LOOPS],
                Mode::Hold => &[options.hold],
            };
            configs.extend(counts.iter().map(|&clients| Config { mode, clients }));
        }
        configs
    }

    /// One run against a fresh server process.
    fn run_once(which: Server, config: Config, options: &Options) -> Result<RunReport> {
        let server = ServerProcess::start(which, options)?;
        let (name, addr, secs) = (&which.name(), server.addr, options.secs);
        match config.mode {
            Mode::Pingpong => load::pingpong(name, addr, config.clients, secs),
            Mode::Session => load::session(name, addr, config.clients, secs),
            Mode::Hold => load::hold(name, addr, config.clients, secs, Some(server.child.id())),
        }
        // `server` is dropped here: the child is killed.
    }

    pub fn run(args: Args) -> Result<()> {
        let options = Options::parse(args)?;
        let has = |kind: ServerKind| options.servers.iter().any(|s| s.kind == kind);
        if options.servers.iter().any(|s| s.kind.is_shop()) {
            if !options.shop.is_file() {
                return Err(format!(
                    "{} not found: build it with `cargo build --release`, pass --server PATH, \
                     or leave the shop out with --servers floor,floor_cached",
                    options.shop.display()
                )
                .into());
            }
            if let Some(baseline) = options.baseline.as_ref().filter(|b| !b.is_file()) {
                return Err(format!("--baseline {} not found", baseline.display()).into());
            }
            if !options.goods.is_file() {
                let goods = options.goods.display();
                return Err(format!("{goods} not found: run from the repository root").into());
            }
        }
        if has(ServerKind::Python) && !Path::new(PYTHON_SERVER).is_file() {
            return Err(format!("{PYTHON_SERVER} not found: run from the repository root").into());
        }
        if options.modes.contains(&Mode::Hold) {
            load::check_fd_limit(options.hold)?;
        }
        for config in configs(&options) {
            let mut results: Vec<(Server, Vec<RunReport>)> = options
                .servers
                .iter()
                .map(|&server| (server, Vec::new()))
                .collect();
            // Throughput of every server in every round (`None`: the run failed), for
            // the paired ratios of the summary.
            let mut by_round = vec![vec![None; results.len()]; options.runs];
            // The fsync latency (seconds) measured in each round, with ledger_full.
            let mut probes = vec![None; options.runs];
            for (round, throughput) in by_round.iter_mut().enumerate() {
                if has(ServerKind::LedgerFull) {
                    match crate::fsync::probe(&std::env::temp_dir(), FSYNC_PROBES) {
                        Ok(secs) => probes[round] = Some(secs),
                        Err(err) => eprintln!("loadgen: fsync probe failed: {err}"),
                    }
                }
                // Rotate who goes first each round: a run can be slowed by the one
                // before it (sockets and threads of the last server still being torn
                // down), and no server should always take that place.
                let servers = results.len();
                for k in 0..servers {
                    let index = (round + k) % servers;
                    let (server, reports) = &mut results[index];
                    match run_once(*server, config, &options) {
                        Ok(report) => {
                            println!("{}", report.to_json());
                            throughput[index] = Some(report.ops_per_sec);
                            reports.push(report);
                        }
                        Err(err) => {
                            let line = Json::object()
                                .str("server", &server.name())
                                .str("mode", &config.mode.to_string())
                                .int("clients", config.clients as u64)
                                .str("error", &err.to_string());
                            println!("{}", line.finish());
                        }
                    }
                }
            }
            println!(
                "{}",
                summary(config, options.runs, &results, &by_round, &probes)
            );
        }
        Ok(())
    }

    /// One number the summary reports, as the median over a server's runs.
    struct Metric {
        name: &'static str,
        get: fn(&RunReport) -> Option<f64>,
        decimals: usize,
        /// Whether the summary also shows the shop/reference ratio.
        ratio: bool,
    }

    const THROUGHPUT_METRICS: &[Metric] = &[
        Metric {
            name: "ops_per_sec",
            get: |r| Some(r.ops_per_sec),
            decimals: 1,
            ratio: true,
        },
        Metric {
            name: "p50_us",
            get: |r| r.latency.map(|l| l.p50_us),
            decimals: 1,
            ratio: false,
        },
        Metric {
            name: "p99_us",
            get: |r| r.latency.map(|l| l.p99_us),
            decimals: 1,
            ratio: true,
        },
        Metric {
            name: "max_us",
            get: |r| r.latency.map(|l| l.max_us),
            decimals: 1,
            ratio: false,
        },
    ];

    const HOLD_METRICS: &[Metric] = &[
        Metric {
            name: "rss_per_conn_kib",
            get: |r| r.hold.and_then(|h| h.rss_per_conn_kib),
            decimals: 2,
            ratio: true,
        },
        Metric {
            name: "answered",
            get: |r| r.hold.map(|h| h.answered as f64),
            decimals: 0,
            ratio: false,
        },
        Metric {
            name: "p99_us",
            get: |r| r.latency.map(|l| l.p99_us),
            decimals: 1,
            ratio: false,
        },
    ];

    /// The summary line of one configuration: medians per server, total errors, and
    /// ratios. `shop_vs_floor` (and `_vs_floor_cached`, `_vs_python`): the shop against
    /// each reference server; `ledger_vs_shop`, `shop_web_vs_shop` and the like: how
    /// much of the plain shop's throughput each variant keeps; the same for the
    /// `_base` servers (`shop_base_vs_floor`, `ledger_base_vs_shop_base`); and
    /// `<kind>_vs_base`: each shop kind, new ÷ base.
    ///
    /// Two kinds of throughput ratio: the ratio of the medians, and the median of
    /// the per-round ratios (`ops_per_sec_paired`), which compares runs made a few
    /// seconds apart. The second is steadier when the machine itself drifts between
    /// a fast and a slow state for tens of seconds, as this VM does.
    fn summary(
        config: Config,
        runs: usize,
        results: &[(Server, Vec<RunReport>)],
        by_round: &[Vec<Option<f64>>],
        probes: &[Option<f64>],
    ) -> String {
        let metrics = match config.mode {
            Mode::Pingpong | Mode::Session => THROUGHPUT_METRICS,
            Mode::Hold => HOLD_METRICS,
        };
        let medians: Vec<Vec<Option<f64>>> = results
            .iter()
            .map(|(_, reports)| {
                let values = |metric: &Metric| reports.iter().filter_map(metric.get).collect();
                metrics
                    .iter()
                    .map(|metric| median(values(metric)))
                    .collect()
            })
            .collect();

        let mut json = Json::object()
            .bool("summary", true)
            .str("mode", &config.mode.to_string())
            .int("clients", config.clients as u64)
            .int("runs", runs as u64);
        for ((server, reports), values) in results.iter().zip(&medians) {
            let mut object = Json::object().int("ok_runs", reports.len() as u64);
            for (metric, value) in metrics.iter().zip(values) {
                object = object.num(metric.name, *value, metric.decimals);
            }
            object = object.int("errors", reports.iter().map(|r| r.errors).sum());
            json = json.obj(&server.name(), object);
        }

        // top ÷ bottom (indexes into `results`): the ratio of the medians of every
        // metric that has one, and for throughput the median of the per-round ratios.
        let ratios = |top: usize, bottom: usize| -> Json {
            let mut ratios = Json::object();
            for (i, metric) in metrics.iter().enumerate().filter(|(_, m)| m.ratio) {
                let ratio = match (medians[top][i], medians[bottom][i]) {
                    (Some(t), Some(b)) if b != 0.0 => Some(t / b),
                    _ => None,
                };
                ratios = ratios.num(metric.name, ratio, 3);
            }
            if config.mode != Mode::Hold {
                let paired =
                    by_round
                        .iter()
                        .filter_map(|round| match (round[top], round[bottom]) {
                            (Some(t), Some(b)) if b != 0.0 => Some(t / b),
                            _ => None,
                        });
                ratios = ratios.num("ops_per_sec_paired", median(paired.collect()), 3);
            }
            ratios
        };
        let find = |kind, base| {
            results
                .iter()
                .position(|(s, _)| *s == Server { kind, base })
        };
        // The new servers against the new shop, then the `_base` ones against the base
        // shop; the reference servers (floors, python) are compared with both.
        for base in [false, true] {
            let Some(shop) = find(ServerKind::Shop, base) else {
                continue;
            };
            let shop_name = results[shop].0.name();
            for (index, (server, _)) in results.iter().enumerate() {
                let (kind, name) = (server.kind, server.name());
                if kind == ServerKind::Shop || (kind.is_shop() && server.base != base) {
                    continue;
                }
                if !kind.is_shop() {
                    json = json.obj(&format!("{shop_name}_vs_{name}"), ratios(shop, index));
                } else if config.mode != Mode::Hold || kind.sync().is_none() {
                    json = json.obj(&format!("{name}_vs_{shop_name}"), ratios(index, shop));
                }
                if kind == ServerKind::LedgerFull && config.mode != Mode::Hold {
                    let bound = fsync_bound(config, by_round, probes, index, shop);
                    json = json.obj(&format!("{name}_vs_fsync_bound"), bound);
                }
            }
        }
        for (index, (server, _)) in results
            .iter()
            .enumerate()
            .filter(|(_, (server, _))| !server.base)
        {
            if let Some(base) = find(server.kind, true) {
                json = json.obj(&format!("{}_vs_base", server.name()), ratios(index, base));
            }
        }
        json.finish()
    }

    /// `ledger_full` (at `index` in each round) against customers / fsync latency,
    /// capped by the in-memory rate of the same round (the shop at `shop`).
    fn fsync_bound(
        config: Config,
        by_round: &[Vec<Option<f64>>],
        probes: &[Option<f64>],
        index: usize,
        shop: usize,
    ) -> Json {
        let clients = config.clients as f64;
        let bound_of = |round: usize| {
            let shop_rate = by_round[round][shop];
            probes[round].map(|secs| {
                let bound = clients / secs;
                shop_rate.map_or(bound, |s| bound.min(s))
            })
        };
        let bounds: Vec<f64> = (0..by_round.len()).filter_map(bound_of).collect();
        let paired = (0..by_round.len())
            .filter_map(|round| Some(by_round[round][index]? / bound_of(round)?))
            .collect();
        let fsync_us = median(probes.iter().flatten().map(|s| s * 1e6).collect());
        Json::object()
            .num("fsync_p50_us", fsync_us, 1)
            .num("bound_ops_per_sec", median(bounds), 1)
            .num("ops_per_sec_paired", median(paired), 3)
    }
}

/// `loadgen fsync`: how long one durable write takes on the disk of a directory.
///
/// Times `count` writes of 4 KiB each followed by `fdatasync`, twice: appending to a
/// fresh file (the file grows, so the filesystem journals its size too) and
/// overwriting a preallocated one (data only, as SQLite does once its WAL has
/// wrapped). The probe's answer is the smaller of the two medians: the faster fsync
/// makes the higher, stricter bound. With `--sync full` SQLite pays one such fsync
/// per commit, and each customer waits for one commit per purchase, so customers
/// divided by this is what group commit can reach at best.
mod fsync {
    use std::fs::{File, OpenOptions};
    use std::io::{self, Seek, SeekFrom, Write};
    use std::path::Path;
    use std::time::Instant;

    use crate::Result;
    use crate::args::Args;
    use crate::report::{Json, median};

    /// Bytes per write, a page of SQLite's WAL.
    const BLOCK: usize = 4096;

    /// Blocks the overwrite test cycles through.
    const SPAN: u64 = 64;

    /// The median seconds of one write + fdatasync in `dir`: the smaller of the
    /// append and the overwrite medians.
    pub fn probe(dir: &Path, count: usize) -> io::Result<f64> {
        let (append, overwrite) = probe_both(dir, count)?;
        Ok(append.min(overwrite))
    }

    /// (append, overwrite) medians in seconds.
    fn probe_both(dir: &Path, count: usize) -> io::Result<(f64, f64)> {
        let path = dir.join(format!("loadgen-fsync-{}.probe", std::process::id()));
        let result = time_writes(&path, count.max(1));
        let _ = std::fs::remove_file(&path);
        result
    }

    fn time_writes(path: &Path, count: usize) -> io::Result<(f64, f64)> {
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)?;
        let append = time(&mut file, count, |_, _| Ok(()))?;
        // Now preallocated: rewrite the first SPAN blocks in a cycle.
        let overwrite = time(&mut file, count, |file, i| {
            file.seek(SeekFrom::Start((i as u64 % SPAN) * BLOCK as u64))
                .map(|_| ())
        })?;
        Ok((append, overwrite))
    }

    fn time(
        file: &mut File,
        count: usize,
        mut position: impl FnMut(&mut File, usize) -> io::Result<()>,
    ) -> io::Result<f64> {
        let block = [0x5au8; BLOCK];
        let mut times = Vec::with_capacity(count);
        for i in 0..count {
            position(file, i)?;
            let started = Instant::now();
            file.write_all(&block)?;
            file.sync_data()?;
            times.push(started.elapsed().as_secs_f64());
        }
        median(times).ok_or_else(|| io::Error::other("no samples"))
    }

    pub fn run(mut args: Args) -> Result<()> {
        let dir = args.value("--dir", std::env::temp_dir())?;
        let count = args.value("--count", 200)?;
        args.finish()?;
        let (append, overwrite) = probe_both(&dir, count)?;
        let line = Json::object()
            .str("mode", "fsync")
            .str("dir", &dir.display().to_string())
            .int("count", count as u64)
            .num("append_p50_us", Some(append * 1e6), 1)
            .num("overwrite_p50_us", Some(overwrite * 1e6), 1)
            .num("fsync_p50_us", Some(append.min(overwrite) * 1e6), 1);
        println!("{}", line.finish());
        Ok(())
    }
}
