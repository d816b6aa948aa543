//! `shop-client`: talk to a snack shop from a terminal (or a pipe).
//!
//! A thin wrapper around `snack_shop::client`: parse the options, connect, run.

use std::io::{self, BufReader, IsTerminal};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Parser;

use snack_shop::client::{self, Eol, Options};
use snack_shop::codec::Charset;

/// How long to try to reach the server before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The snack shop client (零食销售系统客户端).
///
/// Type the name of a snack and press Enter; `菜单` shows the menu, `拜拜` says goodbye.
/// Server messages are shown as 【服务器】...; with piped input no prompts are printed.
/// The terminal is always UTF-8; --encoding only sets what goes over the wire.
#[derive(Parser, Debug)]
#[command(name = "shop-client", version, about, long_about)]
struct Args {
    /// Server address.
    #[arg(default_value = "127.0.0.1")]
    host: String,

    /// Server port.
    #[arg(default_value_t = 9999)]
    port: u16,

    /// Wire encoding: gbk (the shop's default) or utf-8.
    #[arg(long, default_value = "gbk", value_name = "gbk|utf-8")]
    encoding: Charset,

    /// Line ending sent after each message; `none` talks to unframed servers such as
    /// the tutorial's reference answer, which treats each recv(1024) as one message.
    #[arg(long, default_value = "lf", value_name = "lf|crlf|none")]
    eol: Eol,

    /// Seconds to wait for an answer before sending the next line anyway.
    #[arg(long, default_value_t = client::DEFAULT_REPLY_WAIT.as_secs_f64(), value_name = "SECS")]
    reply_wait: f64,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shop-client: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let target = format!("{}:{}", args.host, args.port);
    let stream =
        connect(&args.host, args.port).with_context(|| format!("cannot connect to {target}"))?;
    let reply_wait = Duration::try_from_secs_f64(args.reply_wait).map_err(|_| {
        anyhow!(
            "--reply-wait must be a number of seconds, got {}",
            args.reply_wait
        )
    })?;
    let opts = Options {
        charset: args.encoding,
        eol: args.eol,
        prompts: io::stdin().is_terminal(),
        reply_wait,
    };
    let mut stdout = io::stdout();
    client::run(stream, BufReader::new(io::stdin()), &mut stdout, &opts)
        .with_context(|| format!("connection to {target} failed"))
}

/// Connects to the first address of `host` that answers.
fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address found");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}
