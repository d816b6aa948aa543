//! `shop-server`: the snack shop (零食销售系统) over TCP, one thread per customer.
//!
//! A thin wrapper: parse the options, start the log writer, load the catalog, bind,
//! print the address, and hand over to `snack_shop::server`. SIGINT or SIGTERM (Ctrl-C
//! on Windows) closes the shop politely and prints the day's sales to stderr; SIGHUP is
//! logged and the shop keeps serving.

use std::io::{self, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use clap::builder::RangedU64ValueParser;
use log::info;

use snack_shop::banner;
use snack_shop::catalog::Catalog;
use snack_shop::codec::WireEncoding;
use snack_shop::ledger::{self, Durability};
use snack_shop::live::Hub;
use snack_shop::logger::{self, Output};
use snack_shop::protocol::{MAX_LINE, MESSAGE_TIMEOUT};
use snack_shop::reload::Reloader;
use snack_shop::server::{self, Config, Server};
use snack_shop::shop::{Shop, sales_report};
use snack_shop::signals::{self, Event, Signal};
use snack_shop::web;

/// Upper bound of `--max-line`. A connection holds up to one partial message, so this
/// times `--max-clients` bounds the memory customers can make the server hold (64 MiB
/// for a full house of 1024); no snack name or typed line comes near it.
const MAX_LINE_LIMIT: u64 = 64 * 1024;

/// Lower bound of `--stack-kib`. A connection thread needs less than 16 KiB (measured
/// with gdb; the deepest path decodes a GBK message in auto mode and logs it at debug),
/// and the platform's own minimum is 16 KiB. Twice that leaves room for a different
/// libc or platform; smaller values are refused instead of crashing on a customer.
const MIN_STACK_KIB: u64 = 32;

/// Upper bound of `--stack-kib` (1 GiB): a typo, not a real need.
const MAX_STACK_KIB: u64 = 1024 * 1024;

/// How long the last words (the sales summary, or the error that stops the server)
/// may wait for a stalled stderr, one that takes nothing at all, before the process
/// exits without them.
const LAST_WORDS_WAIT: Duration = Duration::from_millis(500);

/// The longest the last words may wait for a stderr that is slow but moving (a loaded
/// machine, a slow terminal), so they are not lost merely because the log writer was
/// behind.
const LAST_WORDS_MOST: Duration = Duration::from_secs(5);

/// The snack shop server (零食销售系统服务器).
///
/// Customers connect over TCP and type the name of a snack to buy it. One line per
/// message (\n or \r\n); a message without a newline counts once the sender pauses, so
/// the Windows network debug assistant (网络调试助手) works as it is. Every option can
/// also be set through the environment variable shown.
#[derive(Parser, Debug)]
#[command(
    name = "shop-server",
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Address to listen on. Use 0.0.0.0 to let customers on other machines (a debug
    /// assistant on another PC of the classroom) connect. IPv6 works with or without
    /// brackets (::1, [::1], ::); names such as localhost are looked up.
    #[arg(long, env = "SHOP_HOST", default_value = "127.0.0.1", value_parser = parse_host)]
    host: String,

    /// TCP port; 0 picks a free one (the first line on stdout says which).
    #[arg(long, short, env = "SHOP_PORT", default_value_t = 9999)]
    port: u16,

    /// Goods file. Without it: ./goods.toml if present, else the built-in catalog.
    #[arg(long, env = "SHOP_GOODS", value_name = "FILE")]
    goods: Option<PathBuf>,

    /// Wire encoding: gbk (like the debug assistant), utf-8 (like nc in a UTF-8
    /// terminal), or auto (greet in GBK, then answer in the encoding each customer
    /// writes; ASCII and empty lines keep the connection's current one).
    #[arg(
        long,
        env = "SHOP_ENCODING",
        default_value = "gbk",
        value_name = "gbk|utf-8|auto"
    )]
    encoding: WireEncoding,

    /// Most customers served at once; the next one is told the shop is full.
    #[arg(long, env = "SHOP_MAX_CLIENTS", default_value_t = server::DEFAULT_MAX_CLIENTS)]
    max_clients: usize,

    /// Most customers served at once from one IP address (1 to 1000000); the next one
    /// from that address is told so. The default, 64, never turns away a class on their own
    /// machines, and even fits a class of 50 behind one NAT address, while one machine
    /// running a script can take at most 64 of the 1024 seats. Load tests from one
    /// machine (loopback) must raise it.
    #[arg(long, env = "SHOP_MAX_PER_IP", default_value_t = server::DEFAULT_MAX_PER_IP, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    max_per_ip: usize,

    /// Seconds a customer may stay silent before being told so and disconnected
    /// (0 = never). The silence counts from its last complete message.
    #[arg(long, env = "SHOP_IDLE_TIMEOUT", default_value_t = server::DEFAULT_IDLE_TIMEOUT.as_secs(), value_name = "SECS")]
    idle_timeout: u64,

    /// Seconds one message may take from its first byte to its end (1 to 3600). A
    /// customer whose message is still unfinished after this long is told so and
    /// disconnected, so a script that trickles bytes cannot hold a seat. The idle
    /// timeout counts from the last complete message, not from the last byte.
    #[arg(long, env = "SHOP_MESSAGE_TIMEOUT", default_value_t = MESSAGE_TIMEOUT.as_secs(), value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    message_timeout: u64,

    /// Seconds one reply may take to send. A customer that never reads fills its
    /// socket buffer; after this long its connection is dropped and its thread freed.
    #[arg(long, env = "SHOP_WRITE_TIMEOUT", default_value_t = server::WRITE_TIMEOUT.as_secs(), value_name = "SECS")]
    write_timeout: u64,

    /// Idle threads kept waiting for the next customer, so a new connection does not
    /// pay for a new thread (0 = no cache). Parked threads exit after 60 s unused.
    #[arg(long, env = "SHOP_THREAD_CACHE", default_value_t = server::DEFAULT_THREAD_CACHE, value_name = "N")]
    thread_cache: usize,

    /// Longest accepted message in bytes (1 to 65536); longer ones get a reply and are
    /// dropped.
    #[arg(
        long,
        env = "SHOP_MAX_LINE",
        default_value_t = MAX_LINE,
        value_name = "BYTES",
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_LINE_LIMIT)
    )]
    max_line: usize,

    /// Sales ledger: an SQLite file (created if missing) where every sale is recorded
    /// before the customer is told 购买成功. Remaining stock is goods.toml's stock minus
    /// what the ledger has sold, so a restart resumes. Without it, sales live in memory.
    #[arg(long, env = "SHOP_LEDGER", value_name = "FILE")]
    ledger: Option<PathBuf>,

    /// Ledger durability: normal (survives kill -9 and crashes) or full (an fsync per
    /// commit: survives a power cut too).
    #[arg(
        long,
        env = "SHOP_SYNC",
        default_value = "normal",
        value_name = "normal|full"
    )]
    sync: Durability,

    /// Test hook: while this file exists, every ledger commit fails.
    #[arg(long, env = "SHOP_LEDGER_FAULTS", value_name = "FILE", hide = true)]
    ledger_faults: Option<PathBuf>,

    /// Live view for the teacher's screen (网页实时视图): HOST:PORT to serve it on, such
    /// as 127.0.0.1:8080 (port 0 picks one; the second line on stdout gives the URL).
    /// Off unless given. Anywhere but loopback the page needs the token in that URL.
    #[arg(long, env = "SHOP_WEB", value_name = "HOST:PORT")]
    web: Option<String>,

    /// Also print the addresses to give students, in big lines, with the debug
    /// assistant's settings (the Windows classroom launcher uses it).
    #[arg(long, env = "SHOP_BANNER")]
    banner: bool,

    /// Stack size of each connection thread, in KiB (at least 32).
    #[arg(
        long,
        env = "SHOP_STACK_KIB",
        default_value_t = server::DEFAULT_STACK_SIZE / 1024,
        value_name = "KIB",
        value_parser = RangedU64ValueParser::<usize>::new().range(MIN_STACK_KIB..=MAX_STACK_KIB)
    )]
    stack_kib: usize,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Print what a ledger holds: per item pieces sold, takings and stock left, and per
    /// customer address its purchases and total.
    Report {
        /// The ledger file.
        #[arg(long, env = "SHOP_LEDGER", value_name = "FILE")]
        ledger: PathBuf,
        /// Goods file for the stock. Without it: ./goods.toml if present, else built-in.
        #[arg(long, env = "SHOP_GOODS", value_name = "FILE")]
        goods: Option<PathBuf>,
        /// One row per purchase instead: time,customer,item,price.
        #[arg(long)]
        csv: bool,
        /// With --csv: start with a UTF-8 byte order mark, so Excel shows the Chinese.
        #[arg(long, requires = "csv")]
        bom: bool,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Double-clicked on Windows: the window waits for Enter before it closes.
    let _pause = snack_shop::console::PauseOnExit::new();
    let output = match logger::init("info") {
        Ok(output) => output,
        Err(e) => {
            eprintln!("shop-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match &args.command {
        Some(Command::Report {
            ledger,
            goods,
            csv,
            bom,
        }) => report(ledger, goods.as_deref(), *csv, *bom),
        None => run(args, &output),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            last_words(&output, format!("shop-server: {e:#}\n"));
            ExitCode::FAILURE
        }
    }
}

/// Why the server cannot listen, Chinese first, with what to do for the usual causes;
/// the system's own words (which differ between Linux and Windows) come last.
fn listen_error(host: &str, port: u16, e: io::Error) -> anyhow::Error {
    let at = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let (zh, en) = match e.kind() {
        io::ErrorKind::AddrInUse => (
            ":端口已被占用(也许另一个 shop-server 还开着),请用 --port 换一个",
            ": the port is in use (perhaps by another shop-server); choose another with --port",
        ),
        io::ErrorKind::AddrNotAvailable => (
            ":这台电脑没有这个地址,用 0.0.0.0 可监听所有地址",
            ": this machine has no such address; 0.0.0.0 listens on all of them",
        ),
        io::ErrorKind::PermissionDenied => (
            ":没有权限使用这个端口(1024 以下要管理员权限,Windows 还保留一些端口),请用 --port 换一个",
            ": not allowed (ports below 1024 need root or administrator, and Windows reserves \
             some ranges); choose another with --port",
        ),
        _ => ("", ""),
    };
    let context = format!("无法在 {at} 上监听{zh} · cannot listen on {at}{en}");
    anyhow::Error::new(e).context(context)
}

fn run(args: Args, output: &Output) -> anyhow::Result<()> {
    raise_fd_limit();
    let catalog = Catalog::load(args.goods.as_deref(), args.encoding)?;
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .map_err(|e| listen_error(&args.host, args.port, e))?;
    let shop = match &args.ledger {
        Some(path) => ledger::open_shop(catalog, path, args.sync, args.ledger_faults.as_deref())?,
        None => Shop::new(catalog),
    };
    let reloader = Reloader::new(args.goods.as_deref(), args.encoding);
    let reload_shop = shop.clone();
    let web_addr = args.web.as_deref().map(web::parse_addr).transpose();
    let web_addr = web_addr.with_context(|| format!("bad --web address {:?}", args.web))?;
    let hub = web_addr.map(|_| Hub::new(shop.clone(), args.encoding));
    let config = Config {
        wire: args.encoding,
        max_clients: args.max_clients,
        max_per_ip: args.max_per_ip,
        // 0 means "never": `Server::new` reads a zero idle timeout as none.
        idle_timeout: Some(Duration::from_secs(args.idle_timeout)),
        message_timeout: Some(Duration::from_secs(args.message_timeout)),
        write_timeout: Duration::from_secs(args.write_timeout.max(1)),
        thread_cache: args.thread_cache,
        max_line: args.max_line,
        stack_size: args.stack_kib.saturating_mul(1024),
        live: hub.clone(),
        ..Config::default()
    };
    let server = Server::new(listener, shop.clone(), config).context("cannot start the server")?;
    let addr = server
        .local_addr()
        .context("cannot read the listening address")?;
    let reachable = web::reachable(addr);
    if addr.ip().is_unspecified() {
        let list: Vec<String> = reachable.iter().map(ToString::to_string).collect();
        info!("学生连接地址 students connect to: {}", list.join(", "));
    }
    let view = match (web_addr, hub) {
        (Some(web_addr), Some(hub)) => {
            hub.set_addresses(reachable.iter().map(|r| (r.addr, r.interface.clone())));
            let view = web::start(web_addr, hub)
                .with_context(|| format!("cannot serve the live view on {web_addr}"))?;
            Some(view)
        }
        _ => None,
    };
    let handle = server.handle();
    signals::listen(move |signal: Signal| match signal.event {
        Event::Stop => {
            // The shutdown starts before anything is logged: logging never blocks, but
            // the shop must close even if it did.
            handle.shutdown();
            info!("{} received: closing the shop", signal.name);
        }
        Event::Hangup => {
            info!(
                "{} received: the shop keeps serving (Ctrl-C or SIGTERM closes it)",
                signal.name
            );
            // The reload is the operator's other use of SIGHUP: read goods.toml again.
            reloader.reload_and_log(&reload_shop);
        }
    })
    .context("cannot install signal handlers")?;

    // Printed last, once everything is set up: scripts and tests wait for this line.
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {addr}")
        .and_then(|()| match &view {
            Some(view) => writeln!(stdout, "live view on {}", view.url()),
            None => Ok(()),
        })
        .and_then(|()| {
            let text = args
                .banner
                .then(|| banner::students(&reachable, args.encoding));
            write!(stdout, "{}", text.unwrap_or_default())
        })
        .and_then(|()| stdout.flush())
        .context("cannot write to stdout")?;
    if let Some(view) = view
        .as_ref()
        .filter(|v| v.local_addr().ip().is_unspecified())
    {
        for r in web::reachable(view.local_addr()) {
            info!("live view also at {}", view.url_at(r.addr));
        }
    }

    server.run().context("server failed")?;
    shop.close_ledger();
    last_words(output, format!("{}\n", sales_report(&shop.sales())));
    Ok(())
}

/// `shop-server report`: prints what the ledger holds.
fn report(ledger: &Path, goods: Option<&Path>, csv: bool, bom: bool) -> anyhow::Result<()> {
    let text = if csv {
        let rows = ledger::report::render_csv(ledger)?;
        if bom { format!("\u{FEFF}{rows}") } else { rows }
    } else {
        // The stock is in the goods file; the wire encoding does not matter here.
        let catalog = Catalog::load(goods, WireEncoding::Utf8)?;
        ledger::report::render_text(ledger, &catalog)?
    };
    let mut stdout = std::io::stdout();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write to stdout")
}

/// Writes `text` through the log writer, after every log line before it, and waits for
/// it to be written while the writer makes progress: a stalled stderr (nothing written
/// for [`LAST_WORDS_WAIT`]) must not keep a closed shop from exiting, and a merely busy
/// writer must not cost the summary.
fn last_words(output: &Output, text: String) {
    output.print_patiently(text, LAST_WORDS_WAIT, LAST_WORDS_MOST);
}

/// The `--host` value as `TcpListener::bind` takes it: `[::1]` (the bracketed form
/// of URLs and `host:port`) becomes `::1`.
fn parse_host(host: &str) -> Result<String, String> {
    let host = host.trim();
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.is_empty() || bare.contains(['[', ']']) {
        return Err(format!(
            "`{host}` is not an address: use 127.0.0.1, 0.0.0.0, ::1, [::1] or a host name"
        ));
    }
    Ok(bare.to_string())
}

/// Raises the soft open-file limit to the hard limit: every customer is a descriptor,
/// and the usual soft limit of 1024 would cap a big class well below `--max-clients`.
/// Windows has no such per-process limit on sockets.
#[cfg(unix)]
fn raise_fd_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => info!("open file limit: {limit}"),
        Err(e) => log::warn!("cannot raise the open file limit: {e}"),
    }
}

#[cfg(not(unix))]
fn raise_fd_limit() {}
