//! `shop-client`: talk to a snack shop from a terminal (or a pipe).
//!
//! A thin wrapper around `snack_shop::client`: parse the options, connect, then run
//! the line editor on a terminal or the plain line loop on pipes.

use std::io::{self, BufReader, IsTerminal};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::anyhow;
use clap::Parser;

use snack_shop::client::address::{self, Target};
use snack_shop::client::{self, Eol, NOTICE_PREFIX, Options, Plain};
use snack_shop::codec::Charset;
use snack_shop::console;

/// How long to try to reach the server before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Exit code for a bad address (as clap uses for other usage errors).
const USAGE_ERROR: u8 = 2;

/// The snack shop client (零食销售系统客户端).
///
/// Type the name of a snack and press Enter; `菜单` shows the menu, `拜拜` says goodbye.
/// On a terminal: arrows, Home/End, history (Up/Down, Ctrl-R) and Tab completion of
/// item names; Ctrl-D (or Ctrl-C at an empty prompt) leaves. With piped input there is
/// no prompt, and each line sent is printed as 【客户端】… (unless --quiet).
///
/// The address can be `HOST PORT`, `HOST:PORT`, `[IPv6]:PORT` or `--host`/`--port`.
/// The terminal is always UTF-8; --encoding only sets what goes over the wire.
///
/// Double-clicked on Windows with no address, it asks for the server's IP and port
/// (an empty answer takes the default), and waits for Enter before its window closes.
///
/// Exit codes: 0 you left or the server said goodbye; 1 no server there or another
/// error; 2 bad arguments; 3 the server closed without a goodbye; 4 the connection
/// was reset or the server stopped reading.
#[derive(Parser, Debug)]
#[command(name = "shop-client", version, about, long_about)]
struct Args {
    /// Server host, or HOST:PORT, or [IPv6]:PORT [default: 127.0.0.1]
    #[arg(value_name = "HOST")]
    target: Option<String>,

    /// Server port [default: 9999]
    #[arg(value_name = "PORT")]
    port_arg: Option<String>,

    /// Server host, spelled as the server spells it.
    #[arg(long, value_name = "HOST")]
    host: Option<String>,

    /// Server port, spelled as the server spells it.
    #[arg(long, short, value_name = "PORT")]
    port: Option<String>,

    /// Wire encoding: gbk (the shop's default) or utf-8.
    #[arg(long, default_value = "gbk", value_name = "gbk|utf-8")]
    encoding: Charset,

    /// Line ending sent after each message; `none` talks to unframed servers such as
    /// the tutorial's reference answer, which treats each recv(1024) as one message.
    #[arg(long, default_value = "lf", value_name = "lf|crlf|none")]
    eol: Eol,

    /// Seconds (0 to 3600) to wait for an answer before sending the next line anyway;
    /// 0 sends at once and still shows every reply (when the input ends, replies are
    /// shown until the server closes or is quiet for a second).
    // Hyphen values reach the parser, so `-1` gets its Chinese error, not clap's.
    #[arg(long, default_value = "3", value_name = "SECS", allow_hyphen_values = true,
          value_parser = client::parse_reply_wait)]
    reply_wait: Duration,

    /// Seconds (more than 0, up to 3600) one write to the server may block before giving
    /// up on a server that does not read.
    #[arg(long, default_value = "10", value_name = "SECS", allow_hyphen_values = true,
          value_parser = parse_send_timeout)]
    send_timeout: Duration,

    /// With piped input, do not print the lines sent.
    #[arg(long, short)]
    quiet: bool,
}

/// `--send-timeout`: like `--reply-wait`, but 0 would mean "give up at once".
fn parse_send_timeout(text: &str) -> Result<Duration, String> {
    match client::parse_seconds(text, client::MAX_REPLY_WAIT)? {
        Duration::ZERO => Err(format!("必须大于 0,收到 {text:?} · must be more than 0")),
        timeout => Ok(timeout),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Double-clicked on Windows: keep the window open at the end, ask for the address.
    let pause = console::PauseOnExit::new();
    let mut positional: Vec<String> = args.target.iter().chain(&args.port_arg).cloned().collect();
    if pause.active() && positional.is_empty() && args.host.is_none() && args.port.is_none() {
        match console::ask_address(address::DEFAULT_HOST, address::DEFAULT_PORT) {
            Ok(answers) => positional = answers,
            Err(e) => {
                eprintln!("shop-client: {e}");
                return ExitCode::from(USAGE_ERROR);
            }
        }
    }
    let target = match address::parse(&positional, args.host.as_deref(), args.port.as_deref()) {
        Ok(target) => target,
        Err(e) => {
            eprintln!("shop-client: {e}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    match run(&args, &target) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("shop-client: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args, target: &Target) -> anyhow::Result<u8> {
    let stream = connect(target)?;
    let interactive = io::stdin().is_terminal() && io::stdout().is_terminal();
    let opts = Options {
        charset: args.encoding,
        eol: args.eol,
        reply_wait: args.reply_wait,
        send_timeout: args.send_timeout,
        transcript: !io::stdin().is_terminal() && !args.quiet,
        // A person at a terminal who presses Ctrl-D wants to leave; piped input waits
        // for the server to finish answering.
        leave_within: io::stdin().is_terminal().then_some(client::LEAVE_WITHIN),
    };
    if interactive {
        // Returns only if the line editor cannot start; then fall back to plain lines.
        let copy = stream.try_clone()?;
        if let Err(e) = client::editor::run(copy, &opts) {
            eprintln!("shop-client: 无法启用行编辑,改用普通输入 · line editing unavailable: {e}");
        }
    }
    let mut screen = Plain(io::stdout().lock());
    let ending = client::run(stream, BufReader::new(io::stdin()), &mut screen, &opts)
        .map_err(|e| anyhow!("输出失败 · output failed: {e}"))?;
    let notice = format!("{NOTICE_PREFIX}{}", ending.notice());
    client::Screen::line(&mut screen, &notice)
        .map_err(|e| anyhow!("输出失败 · output failed: {e}"))?;
    client::discard_typed_ahead();
    Ok(ending.exit_code())
}

/// Connects to the first address of the target that answers; one clear line if none.
fn connect(target: &Target) -> anyhow::Result<TcpStream> {
    let addrs = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| {
            anyhow!(
                "找不到主机 {} · cannot resolve {}: {e}",
                target.host,
                target.host
            )
        })?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address found");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(anyhow!(
        "无法连接 {target}:{} · cannot connect to {target}: {last}",
        client::os_reason(&last)
    ))
}
