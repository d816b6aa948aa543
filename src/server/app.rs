//! The wiring `shop-server` runs once its options are parsed: load the catalog, listen,
//! open the ledger and build the shop, start the live view, catch signals, serve, and
//! print the day's sales at the end. The binary only parses arguments and calls [`run`]
//! (or [`report`] for `shop-server report`).

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::info;

use super::{Config, Server, banner};
use crate::live::Hub;
use crate::live::{self, LiveView};
use crate::logger::Output;
use crate::sale::{self, Durability, LedgerError};
use crate::shop::catalog::{Catalog, CatalogError};
use crate::shop::reload::Reloader;
use crate::shop::{Shop, sales_report};
use crate::signals::{self, Action, Signal};
use crate::wire::codec::WireEncoding;

/// How long the last words (the sales summary, or the error that stops the server)
/// may wait for a stalled stderr, one that takes nothing at all, before the process
/// exits without them.
const LAST_WORDS_WAIT: Duration = Duration::from_millis(500);

/// The longest the last words may wait for a stderr that is slow but moving (a loaded
/// machine, a slow terminal), so they are not lost merely because the log writer was
/// behind.
const LAST_WORDS_MOST: Duration = Duration::from_secs(5);

/// What `shop-server` was asked to do; see `shop-server --help` for each field.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on, without brackets.
    pub host: String,
    /// TCP port; 0 picks one.
    pub port: u16,
    /// `--goods`: the goods file, if given.
    pub goods: Option<PathBuf>,
    /// `--ledger`: the SQLite file or PostgreSQL database, if sales are to be kept.
    pub ledger: Option<PathBuf>,
    /// `--counter`: this counter's name, recorded with each sale; `None`: the host
    /// name and the port.
    pub counter: Option<String>,
    /// `--sync`: how durable a ledger commit is.
    pub sync: Durability,
    /// `--ledger-faults` (hidden, for tests): every commit fails while this file exists
    /// (see `sale::faults`).
    pub ledger_faults: Option<PathBuf>,
    /// `--web`: where to serve the live view, if anywhere.
    pub web: Option<String>,
    /// `--banner`: also print the addresses to give students, for people (see
    /// `server::banner`).
    pub banner: bool,
    /// The server's behaviour; its `wire` is also the catalog's encoding. Its `live`
    /// is set here when the live view is on.
    pub config: Config,
}

/// Why `shop-server` stopped with an error. Each displays as one line; the cause (the
/// system's own words) is its source.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The goods file could not be loaded.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The ledger could not be opened or read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The listening socket could not be bound: Chinese first, then English, with what
    /// to do for the usual causes.
    #[error("无法在 {at} 上监听{zh} · cannot listen on {at}{en}")]
    Listen {
        /// `host:port` as tried.
        at: String,
        /// What to do, in Chinese (may be empty).
        zh: &'static str,
        /// What to do, in English (may be empty).
        en: &'static str,
        /// The system's words.
        source: io::Error,
    },
    /// `--web` names no address.
    #[error("bad --web address {given:?}")]
    WebAddress {
        /// The option as given.
        given: Option<String>,
        /// Why it names no address.
        source: io::Error,
    },
    /// The live view could not be served.
    #[error("cannot serve the live view on {addr}")]
    LiveView {
        /// Where it was to be served.
        addr: SocketAddr,
        /// Why not.
        source: io::Error,
    },
    /// The server could not be set up on the bound listener.
    #[error("cannot start the server")]
    Start(#[source] io::Error),
    /// The bound address could not be read.
    #[error("cannot read the listening address")]
    LocalAddr(#[source] io::Error),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers")]
    Signals(#[source] io::Error),
    /// Stdout could not be written.
    #[error("cannot write to stdout")]
    Stdout(#[source] io::Error),
    /// The accept loop failed.
    #[error("server failed")]
    Serve(#[source] io::Error),
}

/// Runs the shop until SIGINT or SIGTERM (Ctrl-C on Windows), then writes the day's
/// sales through `output`. SIGHUP is logged, re-reads the goods file, and the shop
/// keeps serving.
pub fn run(settings: Settings, output: &Output) -> Result<(), AppError> {
    let Settings { mut config, .. } = settings;
    let encoding = config.wire;
    raise_fd_limit();
    let catalog = Catalog::load(settings.goods.as_deref(), encoding)?;
    let listener = TcpListener::bind((settings.host.as_str(), settings.port))
        .map_err(|e| listen_error(&settings.host, settings.port, e))?;
    let shop = match &settings.ledger {
        Some(path) => {
            let faults = settings.ledger_faults.as_deref();
            let port = listener.local_addr().map_or(settings.port, |a| a.port());
            let counter = settings.counter.clone();
            let counter = counter.unwrap_or_else(|| super::counter::default_name(port));
            let items = catalog.items();
            let opened = sale::open_for(path, &counter, items, settings.sync, faults)?;
            Shop::with_recorder(catalog, &opened.sold, opened.recorder)
        }
        None => Shop::new(catalog),
    };
    let reloader = Reloader::new(settings.goods.as_deref(), encoding);
    let reload_shop = shop.clone();
    let web_addr = settings.web.as_deref().map(live::parse_addr).transpose();
    let web_addr = web_addr.map_err(|source| AppError::WebAddress {
        given: settings.web.clone(),
        source,
    })?;
    let hub = web_addr.map(|_| Hub::new(shop.clone(), encoding));
    config.live = hub.clone();
    let server = Server::new(listener, shop.clone(), config).map_err(AppError::Start)?;
    let addr = server.local_addr().map_err(AppError::LocalAddr)?;
    let reachable = live::reachable(addr);
    if addr.ip().is_unspecified() {
        let list: Vec<String> = reachable.iter().map(ToString::to_string).collect();
        info!("学生连接地址 students connect to: {}", list.join(", "));
    }
    let view = match (web_addr, hub) {
        (Some(web_addr), Some(hub)) => {
            hub.set_addresses(reachable.iter().map(|r| (r.addr, r.interface.clone())));
            let view = live::start(web_addr, hub).map_err(|source| AppError::LiveView {
                addr: web_addr,
                source,
            })?;
            Some(view)
        }
        _ => None,
    };
    let handle = server.handle();
    let counts = server.handle();
    signals::listen(move |signal: Signal| match signal.action {
        Action::Stop => {
            // The shutdown starts before anything is logged: logging never blocks, but
            // the shop must close even if it did.
            handle.shutdown();
            info!("{} received: closing the shop", signal.name);
        }
        Action::Hangup => {
            info!(
                "{} received: the shop keeps serving (Ctrl-C or SIGTERM closes it)",
                signal.name
            );
            // The reload is the operator's other use of SIGHUP: read goods.toml again.
            reloader.reload_and_log(&reload_shop);
        }
    })
    .map_err(AppError::Signals)?;

    let banner = settings
        .banner
        .then(|| banner::students(&reachable, encoding));
    announce(addr, view.as_ref(), banner).map_err(AppError::Stdout)?;
    server.run().map_err(AppError::Serve)?;
    shop.close_ledger();
    let summary = sales_report(&shop.sales(), counts.untold());
    last_words(output, format!("{summary}\n"));
    Ok(())
}

/// Prints where the shop (and the live view) listen. Printed last, once everything is
/// set up: scripts and tests wait for the first line.
fn announce(addr: SocketAddr, view: Option<&LiveView>, banner: Option<String>) -> io::Result<()> {
    let mut stdout = io::stdout();
    writeln!(stdout, "listening on {addr}")?;
    if let Some(view) = view {
        writeln!(stdout, "live view on {}", view.url())?;
    }
    // The other addresses of a wildcard view: with the token on stdout only, as the
    // line above; the log (often kept, or shared) gets them without it.
    let others = view.filter(|v| v.local_addr().ip().is_unspecified());
    let others: Vec<SocketAddr> = others
        .map(|v| {
            live::reachable(v.local_addr())
                .into_iter()
                .map(|r| r.addr)
                .collect()
        })
        .unwrap_or_default();
    if let Some(view) = view {
        for addr in &others {
            writeln!(stdout, "live view also at {}", view.url_at(*addr))?;
        }
    }
    if let Some(banner) = banner {
        write!(stdout, "{banner}")?;
    }
    stdout.flush()?;
    for addr in &others {
        info!("live view also at http://{addr}/ (the token is in the stdout line)");
    }
    Ok(())
}

/// `shop-server report`: prints what the ledger holds.
/// With `bom` (and `csv`), the CSV starts with a UTF-8 byte order mark, so that Excel
/// shows the Chinese.
pub fn report(ledger: &Path, goods: Option<&Path>, csv: bool, bom: bool) -> Result<(), AppError> {
    let report = if csv {
        let mut report = sale::report::render_csv(ledger)?;
        if bom {
            report.text.insert(0, '\u{FEFF}');
        }
        report
    } else {
        // The stock is in the goods file; the wire encoding does not matter here.
        let catalog = Catalog::load(goods, WireEncoding::Utf8)?;
        sale::report::render_text(ledger, &catalog)?
    };
    for warning in &report.warnings {
        eprintln!("{warning}");
    }
    let mut stdout = io::stdout();
    stdout
        .write_all(report.text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(AppError::Stdout)
}

/// Writes `text` through the log writer, after every log line before it, and waits for
/// it to be written while the writer makes progress: a stalled stderr (nothing written
/// for [`LAST_WORDS_WAIT`]) must not keep a closed shop from exiting, and a merely busy
/// writer must not cost the summary.
pub fn last_words(output: &Output, text: String) {
    output.print_patiently(text, LAST_WORDS_WAIT, LAST_WORDS_MOST);
}

/// The `--host` value as `TcpListener::bind` takes it: `[::1]` (the bracketed form
/// of URLs and `host:port`) becomes `::1`.
pub fn parse_host(host: &str) -> Result<String, String> {
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

/// Why the server cannot listen, Chinese first, with what to do for the usual causes;
/// the system's own words (which differ between Linux and Windows) come last.
fn listen_error(host: &str, port: u16, source: io::Error) -> AppError {
    let at = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let (zh, en) = match source.kind() {
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
    AppError::Listen { at, zh, en, source }
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
