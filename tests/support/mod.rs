//! Shared helpers for the integration tests: start the real `shop-server` binary on
//! port 0, talk to it over real sockets as a GBK or UTF-8 customer, and look at the
//! server process from outside (its threads, its stderr, its exit).
//!
//! Each `tests/*.rs` file is its own crate and uses only some of these helpers.
#![allow(dead_code)]

pub mod pg;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use snack_shop::codec::{self, Charset};

/// The greeting for the shipped catalog, exactly as the issue gives it.
pub const GREETING: &str = "目前商店还有:瓜子(4.5),西瓜(2),矿泉水(2.5)。请问您需要什么?";

/// How long any single read in a test may wait before the test fails. Generous: these
/// tests check behaviour, not speed, and CI machines are slow and noisy.
pub const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Text as GBK bytes.
pub fn gbk(text: &str) -> Vec<u8> {
    codec::encode(text, Charset::Gbk).expect("test text is GBK-encodable")
}

/// Writes `toml` to a fresh temporary goods file and returns its path.
pub fn goods_file(toml: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("snack-shop-test-{}-{n}.toml", std::process::id()));
    std::fs::write(&path, toml).expect("write temp goods file");
    path
}

/// A fresh empty temporary directory.
pub fn temp_dir() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("snack-shop-dir-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The shipped `goods.toml`.
pub fn shipped_goods() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("goods.toml")
}

/// A running `shop-server` process. Killed when dropped.
pub struct ShopServer {
    child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    /// The rest of stdout after the `listening on` line, buffered bytes included.
    stdout: BufReader<ChildStdout>,
}

impl ShopServer {
    /// Starts the server with the shipped catalog and `args`, on port 0.
    pub fn start(args: &[&str]) -> ShopServer {
        let goods = shipped_goods();
        let mut all = vec!["--goods", goods.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        Self::start_raw(&all, None)
    }

    /// Starts the server with a catalog given as TOML text.
    pub fn with_goods(toml: &str, args: &[&str]) -> ShopServer {
        let goods = goods_file(toml);
        let mut all = vec!["--goods", goods.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        Self::start_raw(&all, None)
    }

    /// Starts the server with exactly `args` plus `--port 0`, optionally through
    /// `bash -c` with a shell prefix such as `ulimit -n 64;`.
    pub fn start_raw(args: &[&str], shell_prefix: Option<&str>) -> ShopServer {
        Self::start_full(args, shell_prefix, None, &[])
    }

    /// Starts the server in working directory `dir` with extra environment variables.
    pub fn start_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> ShopServer {
        Self::start_full(args, None, Some(dir), env)
    }

    fn start_full(
        args: &[&str],
        shell_prefix: Option<&str>,
        dir: Option<&std::path::Path>,
        env: &[(&str, &str)],
    ) -> ShopServer {
        let bin = env!("CARGO_BIN_EXE_shop-server");
        let mut cmd = match shell_prefix {
            None => Command::new(bin),
            Some(prefix) => {
                let mut c = Command::new("bash");
                c.arg("-c")
                    .arg(format!("{prefix} exec \"$0\" \"$@\""))
                    .arg(bin);
                c
            }
        };
        cmd.args(args)
            .args(["--port", "0"])
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = dir {
            cmd.current_dir(dir);
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("start shop-server");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr piped");
        let sink = stderr.clone();
        thread::spawn(move || {
            // Drain stderr so the server never blocks on a full pipe.
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let stdout = child.stdout.take().expect("stdout piped");
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        reader.read_line(&mut first).expect("read listening line");
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "unexpected first line {first:?}; stderr: {}",
                    stderr.lock().unwrap()
                )
            })
            .parse()
            .expect("address in listening line");
        ShopServer {
            child,
            addr,
            stderr,
            stdout: reader,
        }
    }

    /// The next line the server printed on stdout, without its line end.
    pub fn stdout_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read stdout");
        line.trim_end().to_string()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A new customer, with the greeting already read and checked to be one line.
    pub fn customer(&self) -> Customer {
        let mut c = Customer::connect(self.addr);
        let greeting = c.read_line();
        assert!(
            greeting.starts_with("目前商店还有") || greeting.contains("卖完"),
            "greeting: {greeting}"
        );
        c
    }

    /// The number of threads of the server process, from `/proc/PID/status`.
    pub fn threads(&self) -> usize {
        proc_status_field(self.pid(), "Threads:")
    }

    /// The server's resident memory in KiB, from `/proc/PID/status`.
    pub fn rss_kib(&self) -> usize {
        proc_status_field(self.pid(), "VmRSS:")
    }

    /// Waits until the server's thread count is at most `max`, for up to `within`.
    /// Returns the last count seen.
    pub fn wait_threads_at_most(&self, max: usize, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let n = self.threads();
            if n <= max || Instant::now() > deadline {
                return n;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the server logged so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`, for up to `within`.
    pub fn wait_for_log(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.stderr().contains(needle) {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Sends `signal` (e.g. "INT", "TERM") and waits for the process to exit.
    pub fn signal_and_wait(
        &mut self,
        signal: &str,
        within: Duration,
    ) -> (Option<ExitStatus>, Duration) {
        let started = Instant::now();
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -{signal} failed");
        while started.elapsed() < within {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Give the stderr thread a moment to collect the last lines.
                thread::sleep(Duration::from_millis(100));
                return (Some(status), started.elapsed());
            }
            thread::sleep(Duration::from_millis(10));
        }
        (None, started.elapsed())
    }

    /// True while the process is running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Ends the server at once, with no chance to clean up: SIGKILL (kill -9) on Unix,
    /// TerminateProcess on Windows.
    pub fn kill_hard(&mut self) {
        self.child.kill().expect("kill the server");
    }
}

impl Drop for ShopServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a numeric field such as `Threads:` or `VmRSS:` from `/proc/PID/status`.
pub fn proc_status_field(pid: u32, field: &str) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// One customer on a raw socket, speaking GBK unless told otherwise.
pub struct Customer {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
    pub charset: Charset,
}

impl Customer {
    /// Connects without reading anything.
    pub fn connect(addr: SocketAddr) -> Customer {
        Self::from_stream(TcpStream::connect(addr).expect("connect to shop-server"))
    }

    /// A customer on an already connected stream, without reading anything.
    pub fn from_stream(stream: TcpStream) -> Customer {
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("set timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone stream"));
        Customer {
            stream,
            reader,
            charset: Charset::Gbk,
        }
    }

    /// Reads one raw line, terminator included. Empty at end of stream.
    pub fn read_raw_line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        self.reader
            .read_until(b'\n', &mut line)
            .expect("read a line from the server");
        line
    }

    /// Reads one line, checks it ends in `\r\n`, and decodes it in `self.charset`.
    pub fn read_line(&mut self) -> String {
        let line = self.read_raw_line();
        assert!(line.ends_with(b"\r\n"), "line must end in CRLF: {line:?}");
        let (text, _) = codec::decode(&line[..line.len() - 2], charset_wire(self.charset))
            .unwrap_or_else(|_| panic!("reply is not valid {}: {line:?}", self.charset));
        text
    }

    /// Sends `text` encoded in `self.charset`, followed by `\n`.
    pub fn send(&mut self, text: &str) {
        let mut bytes = codec::encode(text, self.charset).expect("encodable");
        bytes.push(b'\n');
        self.send_raw(&bytes);
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to server");
    }

    /// Sends a line and returns the reply line.
    pub fn ask(&mut self, text: &str) -> String {
        self.send(text);
        self.read_line()
    }

    /// Asserts the server closes the connection (a clean EOF or a reset).
    pub fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => assert!(
                rest.is_empty(),
                "expected close, got {:?}",
                String::from_utf8_lossy(&rest)
            ),
            Err(e) => assert!(
                matches!(e.kind(), std::io::ErrorKind::ConnectionReset),
                "expected close, got error {e}"
            ),
        }
    }

    /// Half-closes our side.
    pub fn shutdown_write(&self) {
        self.stream
            .shutdown(Shutdown::Write)
            .expect("shutdown write");
    }
}

fn charset_wire(charset: Charset) -> codec::WireEncoding {
    match charset {
        Charset::Gbk => codec::WireEncoding::Gbk,
        Charset::Utf8 => codec::WireEncoding::Utf8,
    }
}

/// Runs `f` on `n` threads that all start at the same moment, and collects the results.
pub fn all_at_once<T: Send + 'static>(
    n: usize,
    f: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let barrier = Arc::new(std::sync::Barrier::new(n));
    let f = Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, f) = (barrier.clone(), f.clone());
            thread::spawn(move || {
                barrier.wait();
                f(i)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("worker thread"))
        .collect()
}

/// One item line of the sales summary the server prints to stderr when it stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryLine {
    pub name: String,
    pub sold: u64,
    /// As printed, in yuan (`112.5`).
    pub takings: String,
    /// `None` for unlimited stock.
    pub left: Option<u64>,
}

/// Where the sales summary begins in the server's stderr.
pub const SUMMARY_HEAD: &str = "销售汇总 · sales summary:\n";

/// The summary's total line begins with this (after two spaces): tests wait for it.
pub const SUMMARY_TOTAL: &str = "  合计: 卖出 ";

/// The sales summary in the server's stderr: the item lines, then the total line as
/// (pieces sold, takings as printed). `None` if there is no summary. Each line is
/// Chinese first, then English; this reads the Chinese half and checks that the
/// English half says the same.
///
/// ```text
/// 销售汇总 · sales summary:
///   瓜子: 卖出 1 件, 收入 4.5 元, 剩 99 · 1 sold, takings 4.5 yuan, 99 left
///   西瓜: 卖出 3 件, 收入 6 元, 不限量 · 3 sold, takings 6 yuan, unlimited
///   合计: 卖出 4 件, 收入 10.5 元 · total: 4 sold, takings 10.5 yuan
/// ```
pub fn sales_summary(stderr: &str) -> Option<(Vec<SummaryLine>, u64, String)> {
    let (_, block) = stderr.split_once(SUMMARY_HEAD)?;
    let mut items = Vec::new();
    for line in block.lines() {
        let line = line.strip_prefix("  ")?;
        let (zh, en) = line.split_once(" · ")?;
        if let Some(total) = zh.strip_prefix("合计: 卖出 ") {
            let (sold, rest) = total.split_once(" 件, 收入 ")?;
            let takings = rest.strip_suffix(" 元")?;
            let want = format!("total: {sold} sold, takings {takings} yuan");
            assert_eq!(en, want, "the English half of {line:?}");
            return Some((items, sold.parse().ok()?, takings.to_string()));
        }
        let (name, rest) = zh.split_once(": 卖出 ")?;
        let (sold, rest) = rest.split_once(" 件, 收入 ")?;
        let (takings, left) = rest.split_once(" 元, ")?;
        let (left, left_en) = match left {
            "不限量" => (None, "unlimited".to_string()),
            n => {
                let n = n.strip_prefix("剩 ")?;
                (Some(n.parse().ok()?), format!("{n} left"))
            }
        };
        let want = format!("{sold} sold, takings {takings} yuan, {left_en}");
        assert_eq!(en, want, "the English half of {line:?}");
        items.push(SummaryLine {
            name: name.to_string(),
            sold: sold.parse().ok()?,
            takings: takings.to_string(),
            left,
        });
    }
    None
}

/// How many of the pieces sold the customers were told of, from the summary: the
/// pieces sold, less those the summary's untold line (printed only when there are
/// any) counts. `None` if there is no summary.
pub fn sales_told(stderr: &str) -> Option<u64> {
    let (_, pieces, _) = sales_summary(stderr)?;
    let (_, after) = stderr.split_once(SUMMARY_TOTAL)?;
    let next = after.lines().nth(1).unwrap_or("");
    let Some(rest) = next.strip_prefix("  其中 ") else {
        return Some(pieces);
    };
    let (untold, _) = rest.split_once(" 件")?;
    Some(pieces - untold.parse::<u64>().ok()?)
}

/// Asserts the server's log has no panic and no line at warning level or above;
/// `what` names the case in the failure message.
pub fn assert_quiet_log(log: &str, what: &str) {
    assert!(!log.contains("panicked"), "{what}: a panic:\n{log}");
    let warned = warnings(log);
    assert!(
        warned.is_empty(),
        "{what}: {} warnings, first {:?}",
        warned.len(),
        warned.first()
    );
}

/// Log lines at warning level or above. The server logs `[time LEVEL] message`.
pub fn warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| {
            let level = line
                .strip_prefix('[')
                .and_then(|rest| rest.split_once(']'))
                .and_then(|(head, _)| head.rsplit(' ').next());
            matches!(level, Some("WARN" | "ERROR"))
        })
        .collect()
}

impl ShopServer {
    /// Sends `signal` (e.g. "INT", "TERM") without waiting for anything.
    pub fn send_signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -{signal} failed");
    }

    /// Waits for the process to exit, for up to `within`.
    /// Waits up to `within` for the server to exit and asserts it exited with status 0.
    pub fn assert_exits_cleanly(&mut self, within: Duration, what: &str) {
        let status = self.wait_exit(within);
        assert!(
            status.is_some_and(|s| s.success()),
            "{what}: {status:?}\n{}",
            self.stderr()
        );
    }

    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Give the stderr thread a moment to collect the last lines.
                thread::sleep(Duration::from_millis(100));
                return Some(status);
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

/// A customer who asks and never reads: it writes `菜单` requests until its own writes
/// stall, which means the server's send buffer towards it is full and the server's
/// thread is stuck writing replies nobody reads. Returns the stream, still open.
pub fn never_reading_customer(addr: SocketAddr) -> TcpStream {
    never_reading_customer_after(addr, "")
}

/// As [`never_reading_customer`], sending `first` (say a purchase) before the flood.
pub fn never_reading_customer_after(addr: SocketAddr, first: &str) -> TcpStream {
    let mut hog = TcpStream::connect(addr).expect("connect");
    hog.set_write_timeout(Some(Duration::from_millis(300)))
        .expect("set timeout");
    hog.write_all(&gbk(first)).expect("first requests");
    let requests = gbk(&"菜单\n".repeat(1000));
    let mut sent = 0usize;
    loop {
        match hog.write(&requests) {
            Ok(n) => sent += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return hog;
            }
            Err(e) => panic!("write failed after {sent} bytes: {e}"),
        }
        assert!(sent < 64 << 20, "64 MiB sent and the buffers never filled");
    }
}

/// The live view of a server started with `--web`, from its second stdout line: where to
/// connect (loopback for a wildcard bind) and the token, if the line has one.
pub fn live_view_of(server: &mut ShopServer) -> (SocketAddr, Option<String>) {
    let line = server.stdout_line();
    let url = line
        .strip_prefix("live view on http://")
        .unwrap_or_else(|| panic!("second stdout line: {line:?}"));
    let (host, rest) = url.split_once('/').expect("a path after the address");
    let mut addr: SocketAddr = host.parse().expect("address in the live view line");
    if addr.ip().is_unspecified() {
        addr.set_ip([127, 0, 0, 1].into());
    }
    (addr, rest.strip_prefix("?token=").map(str::to_string))
}
