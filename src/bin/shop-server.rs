//! `shop-server`: the snack shop (零食销售系统) over TCP, one thread per customer.
//!
//! A thin wrapper: parse the options and hand over to `snack_shop::server::app`, which
//! loads the catalog, binds, prints the address and serves. SIGINT or SIGTERM (Ctrl-C
//! on Windows) closes the shop politely and prints the day's sales to stderr; SIGHUP is
//! logged and the shop keeps serving.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use clap::builder::RangedU64ValueParser;

use snack_shop::server::app::{self, Settings};
use snack_shop::server::{self, Config};
use snack_shop::{Durability, MAX_LINE, MESSAGE_TIMEOUT, WireEncoding, logger};

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
    #[arg(long, env = "SHOP_HOST", default_value = "127.0.0.1", value_parser = app::parse_host)]
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
    /// from that address is told so. The default, 8, is what a class needs: a student
    /// needs one or two connections (the client, a debug assistant), and 8 leaves room
    /// for a script of their own, while idle sockets from one machine hold at most 8
    /// seats. Connections from the server's own machine (the peer address is the
    /// address connected to, as 127.0.0.1 to 127.0.0.1: a load test, the teacher) are
    /// not limited by it; on a dual-stack listener 127.0.0.1 and ::1 are two
    /// addresses, and an IPv4 customer counts under its IPv4 address. When every seat
    /// (--max-clients) is taken, a customer silent for 30 s or more gives up their seat
    /// to the newcomer, and is told why.
    #[arg(long, env = "SHOP_MAX_PER_IP", default_value_t = server::DEFAULT_MAX_PER_IP, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    max_per_ip: usize,

    /// Seconds a customer may stay silent before being told so and disconnected
    /// (0 = never, else at most 86400, a day). The silence counts from its last
    /// complete message.
    #[arg(long, env = "SHOP_IDLE_TIMEOUT", default_value_t = server::DEFAULT_IDLE_TIMEOUT.as_secs(), value_name = "SECS", value_parser = clap::value_parser!(u64).range(0..=server::MAX_TIMEOUT.as_secs()))]
    idle_timeout: u64,

    /// Seconds one message may take from its first byte to its end (1 to 3600). A
    /// customer whose message is still unfinished after this long is told so and
    /// disconnected, so a script that trickles bytes cannot hold a seat. The idle
    /// timeout counts from the last complete message, not from the last byte.
    #[arg(long, env = "SHOP_MESSAGE_TIMEOUT", default_value_t = MESSAGE_TIMEOUT.as_secs(), value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    message_timeout: u64,

    /// Seconds one reply may take to send (at most 86400, a day). A
    /// customer that never reads fills its socket buffer; after this long its
    /// connection is dropped and its thread freed.
    #[arg(long, env = "SHOP_WRITE_TIMEOUT", default_value_t = server::WRITE_TIMEOUT.as_secs(), value_name = "SECS", value_parser = clap::value_parser!(u64).range(0..=server::MAX_TIMEOUT.as_secs()))]
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
    /// what the ledger has sold, so a restart resumes. Or a PostgreSQL database shared by
    /// several counters (postgres://USER@HOST:PORT/DB, postgresql://… or host=… dbname=…;
    /// password in the URL or PGPASSWORD): the database decides every sale. Without it,
    /// sales live in memory.
    #[arg(long, env = "SHOP_LEDGER", value_name = "FILE|URL")]
    ledger: Option<PathBuf>,

    /// This counter's name, recorded with each sale (report shows takings per counter).
    /// Default: the host name and the port.
    #[arg(long, env = "SHOP_COUNTER", value_name = "NAME")]
    counter: Option<String>,

    /// Ledger durability: normal (survives kill -9 and crashes) or full (an fsync per
    /// commit: survives a power cut too).
    #[arg(
        long,
        env = "SHOP_SYNC",
        default_value = "normal",
        value_name = "normal|full"
    )]
    sync: Durability,

    /// Test hook: while this file exists, every ledger commit fails (see
    /// src/sale/faults.rs for why it is in the shipped CLI).
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
        /// The ledger file, or the PostgreSQL database (as for the server).
        #[arg(long, env = "SHOP_LEDGER", value_name = "FILE|URL")]
        ledger: PathBuf,
        /// Goods file for the stock. Without it: ./goods.toml if present, else built-in.
        #[arg(long, env = "SHOP_GOODS", value_name = "FILE")]
        goods: Option<PathBuf>,
        /// One row per purchase instead: time,customer,item,price,counter.
        #[arg(long)]
        csv: bool,
        /// With --csv: start with a UTF-8 byte order mark, so Excel shows the Chinese.
        #[arg(long, requires = "csv")]
        bom: bool,
    },
}

fn main() -> ExitCode {
    // Double-clicked on Windows: the window waits for Enter before it closes.
    let _pause = snack_shop::console::PauseOnExit::new();
    let args = Args::parse();
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
        }) => app::report(ledger, goods.as_deref(), *csv, *bom),
        None => app::run(args.settings(), &output),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // anyhow's alternate form: the error, then each cause after a colon.
            let text = format!("shop-server: {:#}\n", anyhow::Error::from(e));
            app::last_words(&output, text);
            ExitCode::FAILURE
        }
    }
}

impl Args {
    /// The options as the server takes them.
    fn settings(self) -> Settings {
        let config = Config {
            wire: self.encoding,
            max_clients: self.max_clients,
            max_per_ip: self.max_per_ip,
            // 0 means "never": `Server::new` reads a zero idle timeout as none.
            idle_timeout: Some(Duration::from_secs(self.idle_timeout)),
            message_timeout: Some(Duration::from_secs(self.message_timeout)),
            write_timeout: Duration::from_secs(self.write_timeout.max(1)),
            thread_cache: self.thread_cache,
            max_line: self.max_line,
            stack_size: self.stack_kib.saturating_mul(1024),
            ..Config::default()
        };
        Settings {
            host: self.host,
            port: self.port,
            goods: self.goods,
            ledger: self.ledger,
            counter: self.counter,
            sync: self.sync,
            ledger_faults: self.ledger_faults,
            web: self.web,
            banner: self.banner,
            config,
        }
    }
}
