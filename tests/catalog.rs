//! Refusing to start, run as a plain process: a bad goods file (duplicate names, negative
//! prices, more than 2 decimals, names the wire encoding cannot carry), a goods file that
//! cannot be read, and a port that is already taken. Each gives one clear stderr line
//! naming the file and line (or the address), a non-zero exit, and no panic.

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use snack_shop::codec::Charset;
use support::{Customer, GREETING, ShopServer, goods_file, temp_dir};

/// Runs `shop-server` with `args` until it exits by itself (10 s at most) and returns
/// its exit status and stderr.
fn run_to_exit(args: &[&str]) -> (ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shop-server"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start shop-server");
    let mut pipe = child.stderr.take().expect("stderr piped");
    let reader = thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).expect("read stderr");
        text
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("shop-server {args:?} did not exit by itself");
        }
        thread::sleep(Duration::from_millis(10));
    };
    (status, reader.join().expect("stderr reader"))
}

/// Asserts a refusal to start: exit code 1 (not a panic's 101, not killed by a signal)
/// and exactly one error line, which contains every one of `parts`. Other stderr lines
/// may only be log lines.
fn refused(args: &[&str], parts: &[&str]) -> String {
    let (status, stderr) = run_to_exit(args);
    assert_eq!(status.code(), Some(1), "{args:?}: {status:?}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| !l.starts_with('[')).collect();
    assert_eq!(errors.len(), 1, "one error line for {args:?}:\n{stderr}");
    let line = errors[0];
    assert!(line.starts_with("shop-server: "), "{line}");
    for part in parts {
        assert!(line.contains(part), "{line:?} should contain {part:?}");
    }
    line.to_string()
}

fn item(name: &str, price: &str) -> String {
    format!("[[goods]]\nname = \"{name}\"\nprice = {price}\nstock = 5\n")
}

#[test]
fn bad_catalogs_are_refused_naming_file_and_line() {
    // (what is wrong, goods file text, extra args, the line it is on, message part)
    let cases: Vec<(&str, String, &[&str], usize, &str)> = vec![
        (
            "duplicate name",
            item("瓜子", "4.5") + &item("西瓜", "2") + &item("瓜子", "3"),
            &[],
            10,
            "duplicate name `瓜子`",
        ),
        (
            "negative integer price",
            item("瓜子", "4.5") + &item("西瓜", "-2"),
            &[],
            7,
            "price must be >= 0",
        ),
        (
            "negative decimal price",
            item("西瓜", "-0.5"),
            &[],
            3,
            "price must be >= 0",
        ),
        (
            "three decimals",
            item("瓜子", "4.505"),
            &[],
            3,
            "more than 2 decimals",
        ),
        (
            "a price given as text",
            item("瓜子", "4.5") + &item("西瓜", "\"4.5\""),
            &[],
            7,
            "price must be a number like 4.5, not the text \"4.5\": write it without quotes",
        ),
        (
            "a price given as other text",
            item("瓜子", "\"四块五\""),
            &[],
            3,
            "not the text \"四块五\"",
        ),
        (
            "a comma in a name (the greeting separates items with it)",
            item("瓜子,西瓜", "1"),
            &[],
            2,
            "contains `,`",
        ),
        (
            "brackets in a name (the greeting puts prices in them)",
            item("瓜子", "4.5") + &item("西瓜(1)", "1"),
            &[],
            6,
            "contains `(`",
        ),
        (
            "a closing bracket",
            item("大)", "1"),
            &[],
            2,
            "contains `)`",
        ),
        ("a colon", item("今日:瓜子", "1"), &[], 2, "contains `:`"),
        ("a full stop", item("瓜子。", "1"), &[], 2, "contains `。`"),
        ("a tab", item("瓜\\t子", "1"), &[], 2, "control character"),
        (
            "a bell",
            item("瓜子\\u0007", "1"),
            &[],
            2,
            "control character",
        ),
        ("only spaces", item("   ", "1"), &[], 2, "only whitespace"),
        (
            "only an ideographic space",
            item("\\u3000", "1"),
            &[],
            2,
            "only whitespace",
        ),
        (
            "[goods] instead of [[goods]]",
            "[goods]\nname = \"瓜子\"\nprice = 4.5\n".to_string(),
            &[],
            1,
            "write `[[goods]]` (two pairs) before each item",
        ),
        (
            "an emoji over GBK",
            item("瓜子", "4.5") + &item("😀", "1"),
            &[],
            6,
            "cannot be encoded in GBK",
        ),
        (
            "an emoji over auto (GBK greeting)",
            item("😀", "1"),
            &["--encoding", "auto"],
            2,
            "cannot be encoded in GBK",
        ),
        (
            "a watermelon emoji, given as an escape",
            item("\\U0001F349", "2"),
            &["--encoding", "gbk"],
            2,
            "cannot be encoded in GBK",
        ),
        (
            "a reserved word",
            item("拜拜", "1"),
            &[],
            2,
            "reserved word",
        ),
        (
            "not TOML",
            "[[goods]]\nname = \"瓜子\nprice = 1\n".to_string(),
            &[],
            2,
            "",
        ),
    ];
    for (what, text, extra, line, message) in cases {
        let path = goods_file(&text);
        let path = path.to_str().expect("utf-8 path");
        let mut args = vec!["--goods", path, "--port", "0"];
        args.extend_from_slice(extra);
        let error = refused(&args, &[&format!("{path}:{line}: "), message]);
        println!("{what}: {error}");
    }
}

#[test]
fn an_emoji_is_fine_over_utf8() {
    // The same name that GBK refuses, to show the refusal is about the encoding.
    let server = ShopServer::with_goods(&item("😀", "1"), &["--encoding", "utf-8"]);
    let mut c = Customer::connect(server.addr);
    c.charset = Charset::Utf8;
    assert_eq!(c.read_line(), "目前商店还有:😀(1)。请问您需要什么?");
    assert_eq!(c.ask("😀"), "购买成功,余额 -1");
}

#[test]
fn a_goods_file_that_cannot_be_read_is_refused() {
    let dir = temp_dir();
    let missing = dir.join("missing.toml");
    let missing = missing.to_str().unwrap();
    let error = refused(
        &["--goods", missing, "--port", "0"],
        &[missing, "cannot read goods file", "(os error 2)"],
    );
    // The OS error is said once, not once per layer of the error chain (its words are
    // the system's: "No such file or directory" on Linux, "File not found." on Windows).
    assert_eq!(error.matches("(os error 2)").count(), 1, "{error}");
    // A directory where the file should be. (File permissions cannot be used: the
    // tests may run as root, who can read anything.)
    let as_dir = dir.to_str().unwrap();
    refused(
        &["--goods", as_dir, "--port", "0"],
        &[
            as_dir,
            "cannot read goods file: it is a directory, not a regular file",
        ],
    );
    // A goods file saved in GBK by an editor on Windows is not UTF-8 TOML.
    let gbk_file = dir.join("gbk.toml");
    let mut text = b"[[goods]]\nname = \"".to_vec();
    text.extend_from_slice(&support::gbk("瓜子"));
    text.extend_from_slice(b"\"\nprice = 4.5\n");
    std::fs::write(&gbk_file, text).expect("write");
    let gbk_file = gbk_file.to_str().unwrap();
    refused(
        &["--goods", gbk_file, "--port", "0"],
        &[&format!("{gbk_file}:2: "), "not UTF-8", "save it as UTF-8"],
    );
}

/// Runs `refused` and checks it took well under the 10 s `run_to_exit` allows: these are
/// the cases that used to hang or eat memory.
#[cfg(unix)] // only the FIFO test uses it
fn refused_quickly(args: &[&str], parts: &[&str]) {
    let started = Instant::now();
    refused(args, parts);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{args:?} took {took:?}");
}

#[cfg(unix)] // makes a FIFO with mkfifo
#[test]
fn only_a_regular_file_is_read_as_goods() {
    let dir = temp_dir();
    // A FIFO nobody writes to: opening it for reading would wait for a writer forever.
    let fifo = dir.join("goods.fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    let fifo = fifo.to_str().unwrap();
    refused_quickly(
        &["--goods", fifo, "--port", "0"],
        &[fifo, "it is a FIFO (named pipe), not a regular file"],
    );
    // An endless device: reading it would eat memory until the machine ran out.
    refused_quickly(
        &["--goods", "/dev/zero", "--port", "0"],
        &["/dev/zero: cannot read goods file: it is a device, not a regular file"],
    );
    // A FIFO called goods.toml in the working directory is not skipped silently either.
    let workdir = temp_dir();
    let made = Command::new("mkfifo")
        .arg(workdir.join("goods.toml"))
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_shop-server"))
        .args(["--port", "0"])
        .current_dir(&workdir)
        .output()
        .expect("run shop-server");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("goods.toml: cannot read goods file: it is a FIFO"),
        "{stderr}"
    );
    // A regular file over the size limit is refused without being read (sparse: it
    // takes no disk space).
    let big = dir.join("big.toml");
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(snack_shop::MAX_FILE_BYTES + 1))
        .expect("make a sparse file");
    let big = big.to_str().unwrap();
    refused_quickly(
        &["--goods", big, "--port", "0"],
        &[big, "goods file is larger than 16777216 bytes"],
    );
    // After all that, a good file serves a fresh customer.
    let server = ShopServer::start(&[]);
    let mut c = Customer::connect(server.addr);
    assert_eq!(c.read_line(), GREETING);
    assert_eq!(c.ask("瓜子"), "购买成功,余额 -4.5");
}

#[test]
fn a_port_already_taken_is_refused() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let goods = support::shipped_goods();
    refused(
        &[
            "--goods",
            goods.to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--port",
            &port,
        ],
        &[
            &format!("无法在 127.0.0.1:{port} 上监听:端口已被占用"),
            &format!("cannot listen on 127.0.0.1:{port}: the port is in use"),
        ],
    );
    // The listener that holds the port still works: a connection to it is accepted.
    let _probe = std::net::TcpStream::connect(taken.local_addr().expect("addr")).expect("connect");
    assert!(taken.accept().is_ok());
    // The same catalog on a free port serves normally.
    let server = ShopServer::start(&[]);
    let mut c = Customer::connect(server.addr);
    assert_eq!(c.read_line(), GREETING);
    assert_eq!(c.ask("西瓜"), "购买成功,余额 -2");
}
