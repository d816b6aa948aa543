//! `shop-server`: the snack shop (零食销售系统) over TCP, one thread per customer.
//!
//! A thin wrapper: parse the options, load the catalog, bind, print the address, and
//! hand over to `snack_shop::server`. SIGINT or SIGTERM closes the shop politely and
//! prints the day's sales to stderr.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use log::{info, warn};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use snack_shop::catalog::Catalog;
use snack_shop::codec::WireEncoding;
use snack_shop::live::Hub;
use snack_shop::protocol::MAX_LINE;
use snack_shop::server::{self, Config, Server};
use snack_shop::shop::{Shop, sales_report};
use snack_shop::web;

/// The snack shop server (零食销售系统服务器).
///
/// Customers connect over TCP and type the name of a snack to buy it. One line per
/// message (\n or \r\n); a message without a newline counts once the sender pauses, so
/// the Windows network debug assistant (网络调试助手) works as it is. Every option can
/// also be set through the environment variable shown.
#[derive(Parser, Debug)]
#[command(name = "shop-server", version, about, long_about)]
struct Args {
    /// Address to listen on. Use 0.0.0.0 to let customers on other machines (a debug
    /// assistant on another PC of the classroom) connect.
    #[arg(long, env = "SHOP_HOST", default_value = "127.0.0.1")]
    host: String,

    /// TCP port; 0 picks a free one (the first line on stdout says which).
    #[arg(long, short, env = "SHOP_PORT", default_value_t = 9999)]
    port: u16,

    /// Goods file. Without it: ./goods.toml if present, else the built-in catalog.
    #[arg(long, env = "SHOP_GOODS", value_name = "FILE")]
    goods: Option<PathBuf>,

    /// Wire encoding: gbk (like the debug assistant), utf-8 (like nc in a UTF-8
    /// terminal), or auto (greet in GBK, then answer each message in its own encoding).
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

    /// Seconds a customer may stay silent before being told so and disconnected
    /// (0 = never).
    #[arg(long, env = "SHOP_IDLE_TIMEOUT", default_value_t = server::DEFAULT_IDLE_TIMEOUT.as_secs(), value_name = "SECS")]
    idle_timeout: u64,

    /// Seconds one reply may take to send. A customer that never reads fills its
    /// socket buffer; after this long its connection is dropped and its thread freed.
    #[arg(long, env = "SHOP_WRITE_TIMEOUT", default_value_t = server::WRITE_TIMEOUT.as_secs(), value_name = "SECS")]
    write_timeout: u64,

    /// Idle threads kept waiting for the next customer, so a new connection does not
    /// pay for a new thread (0 = no cache). Parked threads exit after 60 s unused.
    #[arg(long, env = "SHOP_THREAD_CACHE", default_value_t = server::DEFAULT_THREAD_CACHE, value_name = "N")]
    thread_cache: usize,

    /// Longest accepted message in bytes; longer ones get a reply and are dropped.
    #[arg(long, env = "SHOP_MAX_LINE", default_value_t = MAX_LINE, value_name = "BYTES")]
    max_line: usize,

    /// Live view for the teacher's screen (网页实时视图): HOST:PORT to serve it on, such
    /// as 127.0.0.1:8080 (port 0 picks one; the second line on stdout gives the URL).
    /// Off unless given. Anywhere but loopback the page needs the token in that URL.
    #[arg(long, env = "SHOP_WEB", value_name = "HOST:PORT")]
    web: Option<String>,

    /// Stack size of each connection thread, in KiB.
    #[arg(long, env = "SHOP_STACK_KIB", default_value_t = server::DEFAULT_STACK_SIZE / 1024, value_name = "KIB")]
    stack_kib: usize,
}

fn main() -> ExitCode {
    init_logging();
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shop-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    raise_fd_limit();
    let catalog = Catalog::load(args.goods.as_deref(), args.encoding)?;
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let shop = Shop::new(catalog);
    let web_addr = args.web.as_deref().map(web::parse_addr).transpose();
    let web_addr = web_addr.with_context(|| format!("bad --web address {:?}", args.web))?;
    let hub = web_addr
        .map(|_| Hub::start(shop.clone(), args.encoding))
        .transpose();
    let hub = hub.context("cannot start the live view")?;
    let config = Config {
        wire: args.encoding,
        max_clients: args.max_clients,
        // 0 means "never": `Server::new` reads a zero idle timeout as none.
        idle_timeout: Some(Duration::from_secs(args.idle_timeout)),
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
            hub.set_addresses(reachable.into_iter().map(|r| (r.addr, r.interface)));
            let view = web::start(web_addr, hub)
                .with_context(|| format!("cannot serve the live view on {web_addr}"))?;
            Some(view)
        }
        _ => None,
    };
    let mut signals = Signals::new([SIGINT, SIGTERM]).context("cannot install signal handlers")?;
    let handle = server.handle();
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                info!("signal {signal} received: closing the shop");
                handle.shutdown();
            }
        })
        .context("cannot start the signal thread")?;

    // Printed last, once everything is set up: scripts and tests wait for this line.
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {addr}")
        .and_then(|()| match &view {
            Some(view) => writeln!(stdout, "live view on {}", view.url()),
            None => Ok(()),
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
    eprintln!("{}", sales_report(&shop.sales()));
    Ok(())
}

/// Logs go to stderr, `info` and up unless `RUST_LOG` says otherwise.
///
/// The format is deliberately plain (`[time LEVEL] message`): no colours and no module
/// path. With env_logger's default format, logging the two lines of a short session
/// was half of the server's own instructions in the session benchmark, most of it
/// styling and then stripping the styles again (docs/BENCHMARKS.md).
fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(|buf, record| {
            writeln!(
                buf,
                "[{} {}] {}",
                buf.timestamp_seconds(),
                record.level(),
                record.args()
            )
        })
        // Nothing in this format is styled, so there is nothing to strip either, and a
        // plain pipe target skips the is-it-a-terminal check (a syscall) on every line.
        .write_style(env_logger::WriteStyle::Always)
        .target(env_logger::Target::Pipe(Box::new(std::io::stderr())))
        .init();
}

/// Raises the soft open-file limit to the hard limit: every customer is a descriptor,
/// and the usual soft limit of 1024 would cap a big class well below `--max-clients`.
fn raise_fd_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => info!("open file limit: {limit}"),
        Err(e) => warn!("cannot raise the open file limit: {e}"),
    }
}
