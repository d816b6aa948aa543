//! `shop-client` in a real pseudo-terminal: line editing of Chinese text, history,
//! Tab completion, messages arriving while the user types, and the endings.
#![cfg(unix)]

mod client_support;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::thread;
use std::time::Duration;

use nix::sys::wait::WaitStatus;
use rexpect::session::PtySession;

use client_support::wait;
use support::{ShopServer, proc_status_field as status_kib};

const LEFT: &str = "\x1b[D";
const UP: &str = "\x1b[A";
const END: &str = "\x1b[F";
const HOME: &str = "\x1b[H";
const BACKSPACE: &str = "\x7f";

/// rexpect reads the terminal byte by byte as Latin-1: a UTF-8 needle must be spelled
/// the same way to be found.
fn bytes(text: &str) -> String {
    text.bytes().map(char::from).collect()
}

/// Waits for `want` (UTF-8 text) on the screen.
fn expect(p: &mut PtySession, want: &str) {
    if let Err(e) = p.exp_string(&bytes(want)) {
        panic!("no {want:?} on screen: {e}");
    }
}

/// Starts shop-client on a pseudo-terminal, connected to `addr`.
fn client(addr: SocketAddr) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shop-client"));
    cmd.arg(addr.to_string()).env("TERM", "xterm");
    let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).expect("spawn in a pty");
    expect(&mut p, "请问您需要什么?");
    p
}

/// Types `keys` as one burst and waits for `want` on the screen.
fn type_and_expect(p: &mut PtySession, keys: &str, want: &str) {
    p.send(keys).unwrap();
    p.flush().unwrap();
    if let Err(e) = p.exp_string(&bytes(want)) {
        panic!("after typing {keys:?}, no {want:?} on screen: {e}");
    }
}

/// Waits for the client to exit and returns its exit code.
fn exit_code(p: &PtySession) -> i32 {
    match p.process().wait().expect("wait") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("client did not exit normally: {other:?}"),
    }
}

#[test]
fn left_arrow_and_backspace_edit_chinese_text_that_is_then_bought() {
    let server = ShopServer::start(&[]);
    let mut p = client(server.addr);
    // 矿水, back over 水, insert 泉: 矿泉水.
    type_and_expect(
        &mut p,
        &format!("矿水{LEFT}泉{END}\r"),
        "购买成功,余额 -2.5",
    );
    // 西瓜瓜, Backspace over the wide 瓜: 西瓜.
    type_and_expect(
        &mut p,
        &format!("西瓜瓜{BACKSPACE}\r"),
        "购买成功,余额 -4.5",
    );
    p.send_control('d').unwrap();
    expect(&mut p, "您已离开商店");
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn up_recalls_the_last_line() {
    let server = ShopServer::start(&[]);
    let mut p = client(server.addr);
    type_and_expect(&mut p, "西瓜\r", "余额 -2");
    type_and_expect(&mut p, &format!("{UP}\r"), "余额 -4");
    p.send_control('d').unwrap();
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn ctrl_r_finds_an_earlier_line_and_home_moves_to_the_start() {
    let server = ShopServer::start(&[]);
    let mut p = client(server.addr);
    type_and_expect(&mut p, "矿泉水\r", "余额 -2.5");
    type_and_expect(&mut p, "瓜子\r", "余额 -7");
    // Ctrl-R 矿: back to 矿泉水 past the later 瓜子.
    p.send_control('r').unwrap();
    type_and_expect(&mut p, "矿\r", "余额 -9.5");
    // 瓜, Home, 西: 西瓜.
    type_and_expect(&mut p, &format!("瓜{HOME}西\r"), "余额 -11.5");
    p.send_control('d').unwrap();
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn a_pasted_block_of_lines_goes_out_line_by_line() {
    let server = ShopServer::start(&[]);
    let mut p = client(server.addr);
    // A bracketed paste of two lines, the last newline included, then Enter.
    p.send("\x1b[200~瓜子\n矿泉水\n\x1b[201~\r").unwrap();
    p.flush().unwrap();
    expect(&mut p, "余额 -7");
    p.send("西瓜\r").unwrap();
    p.flush().unwrap();
    let between = p.exp_string(&bytes("余额 -9")).unwrap();
    // Sent as one message, the paste's last newline and Enter made an empty line,
    // which the shop answers with its greeting.
    assert!(!between.contains(&bytes("请问您需要什么")), "{between}");
    p.send_control('d').unwrap();
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn tab_completes_an_item_name_from_the_greeting() {
    let server = ShopServer::start(&[]);
    let mut p = client(server.addr);
    type_and_expect(&mut p, "矿\t\r", "购买成功,余额 -2.5");
    p.send_control('d').unwrap();
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn tab_completes_an_item_name_learned_from_the_menu() {
    let toml = "[[goods]]\nname = \"可乐\"\nprice = 3\nstock = 1\n\n\
                [[goods]]\nname = \"西瓜\"\nprice = 2\n";
    let server = ShopServer::with_goods(toml, &[]);
    // Someone buys the last 可乐, so the greeting no longer lists it; the menu does.
    let mut other = server.customer();
    assert!(other.ask("可乐").starts_with("购买成功"));
    let mut p = client(server.addr);
    type_and_expect(&mut p, "菜单\r", "可乐 3元 已卖完");
    type_and_expect(&mut p, "可\t\r", "抱歉,可乐已经卖完了");
    p.send_control('d').unwrap();
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn ctrl_d_leaves_with_the_right_notice_and_exit_code() {
    let server = ShopServer::start(&[]);
    let mut p = client(server.addr);
    p.send_control('d').unwrap();
    expect(&mut p, "【提示】您已离开商店,连接已关闭。");
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn ctrl_c_clears_typed_text_then_leaves_at_an_empty_prompt() {
    let server = ShopServer::start(&[]);
    let mut p = client(server.addr);
    p.send("西瓜").unwrap();
    p.flush().unwrap();
    thread::sleep(Duration::from_millis(200));
    p.send_control('c').unwrap();
    // Had 西瓜 stayed, this would be 西瓜瓜子, which the shop does not sell.
    type_and_expect(&mut p, "瓜子\r", "购买成功,余额 -4.5");
    p.send_control('c').unwrap();
    expect(&mut p, "您已离开商店");
    assert_eq!(exit_code(&p), 0);
}

/// A server that greets, and after the client has started typing, says something
/// unasked; then echoes each line back.
fn chatty_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all("目前商店还有:瓜子(1)。请问您需要什么?\r\n".as_bytes())
            .unwrap();
        thread::sleep(Duration::from_millis(1500));
        conn.write_all("通知:西瓜特价\r\n".as_bytes()).unwrap();
        let mut lines = BufReader::new(conn.try_clone().unwrap());
        let mut line = String::new();
        while lines.read_line(&mut line).unwrap_or(0) > 0 {
            let _ = conn.write_all(format!("收到[{}]\r\n", line.trim_end()).as_bytes());
            line.clear();
        }
    });
    addr
}

#[test]
fn a_message_while_typing_leaves_the_line_intact() {
    let addr = chatty_server();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shop-client"));
    cmd.args([&addr.to_string(), "--encoding", "utf-8"])
        .env("TERM", "xterm");
    let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).unwrap();
    expect(&mut p, "请问您需要什么?");
    p.send("西").unwrap();
    p.flush().unwrap();
    expect(&mut p, "通知:西瓜特价");
    type_and_expect(&mut p, "瓜\r", "收到[西瓜]");
    p.send_control('d').unwrap();
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn a_server_that_dies_mid_session_is_reported_and_exits_nonzero() {
    let server = ShopServer::start(&[]);
    let mut p = client(server.addr);
    p.send("西瓜").unwrap(); // typed, not sent
    p.flush().unwrap();
    thread::sleep(Duration::from_millis(200));
    server.send_signal("KILL");
    expect(&mut p, "服务器没有道别就关闭了连接");
    assert_eq!(exit_code(&p), 3);
}

#[test]
fn escape_sequences_from_the_server_are_shown_not_obeyed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let _ = conn.write_all(b"\x1b]0;pwned\x07\x1b[2J title and clear\r\n");
        thread::sleep(Duration::from_secs(5));
    });
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shop-client"));
    cmd.arg(addr.to_string()).env("TERM", "xterm");
    let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).unwrap();
    thread::sleep(Duration::from_millis(1000));
    p.send_control('d').unwrap();
    let screen = p.exp_eof().expect("client exits");
    assert!(
        screen.contains("\\x1B]0;pwned\\x07\\x1B[2J title and clear"),
        "{screen:?}"
    );
    assert!(!screen.contains("\x1b]0;"), "the title was set: {screen:?}");
    assert!(
        !screen.contains("\x1b[2J"),
        "the screen was cleared: {screen:?}"
    );
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn invalid_utf8_from_the_terminal_is_called_that_and_not_sent() {
    let server = ShopServer::start(&[]);
    let mut p = client(server.addr);
    // 西瓜 from a terminal set to GBK.
    let mut tty = p.process().get_file_handle().unwrap();
    tty.write_all(b"\xce\xf7\xb9\xcf\r").unwrap();
    expect(&mut p, "终端发来的不是有效的 UTF-8");
    p.send("西瓜\r").unwrap();
    p.flush().unwrap();
    // The first purchase is this 西瓜, and nothing was answered before it.
    let earlier = p.exp_string(&bytes("余额 -2\r\n")).unwrap();
    assert!(
        !earlier.contains(&bytes("抱歉")),
        "something was sent: {earlier}"
    );
    p.send_control('d').unwrap();
    assert_eq!(exit_code(&p), 0);
}

/// Runs shop-client under bash in a pty with `pipe` after it (e.g. `| cat`, which
/// makes stdout a pipe and so the plain loop), then reads one line in bash: whatever
/// was typed but not sent while the client ran must not be in it.
fn typed_ahead_is_not_left_for_the_shell(pipe: &str) {
    let server = ShopServer::start(&[]);
    let script = format!(
        "\"$0\" {} {pipe}; echo \"[exit $?]\"; read -r -t 5 x; echo \"LEFT<$x>\"",
        server.addr
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_shop-client"))
        .env("TERM", "xterm");
    let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).unwrap();
    expect(&mut p, "请问您需要什么?");
    p.send("abc").unwrap(); // typed, never sent
    p.flush().unwrap();
    thread::sleep(Duration::from_millis(300));
    server.send_signal("KILL");
    expect(&mut p, "[exit ");
    thread::sleep(Duration::from_millis(300));
    p.send("zz\r").unwrap();
    p.flush().unwrap();
    let (_, left) = p.exp_regex("LEFT<[^>]*>").unwrap();
    assert_eq!(left, "LEFT<zz>", "typed-ahead text reached the shell");
}

#[test]
fn typed_ahead_text_does_not_land_in_the_shell_with_line_editing() {
    typed_ahead_is_not_left_for_the_shell("");
}

#[test]
fn typed_ahead_text_does_not_land_in_the_shell_without_line_editing() {
    typed_ahead_is_not_left_for_the_shell("| cat");
}

#[test]
fn a_flood_on_a_terminal_that_is_not_read_keeps_memory_bounded() {
    use std::io::Read;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let line = "x".repeat(999) + "\n";
        let chunk = line.repeat(1024);
        // Lines until the client goes away (at most 1 GB).
        for _ in 0..1000 {
            if conn.write_all(chunk.as_bytes()).is_err() {
                return;
            }
        }
    });
    // A pty whose master nobody reads at first: the terminal is "paused".
    let (mut child, mut master) = client_on_raw_pty(addr);
    let pid = child.id();
    thread::sleep(Duration::from_secs(2));
    let paused = status_kib(pid, "VmHWM:");
    // Now read the terminal for a while: the flood moves, memory stays put.
    let mut buf = vec![0u8; 1 << 16];
    let mut shown = 0usize;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        shown += master.read(&mut buf).unwrap();
    }
    let peak = status_kib(pid, "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        shown > 1 << 20,
        "the flood did not move: {shown} bytes shown"
    );
    assert!(
        paused < 64 * 1024,
        "grew to {paused} KiB while the terminal was paused"
    );
    assert!(peak < 64 * 1024, "grew to {peak} KiB");
}

/// Starts shop-client on a fresh pseudo-terminal connected to `addr`; returns the child
/// and the terminal's master side.
fn client_on_raw_pty(addr: SocketAddr) -> (std::process::Child, std::fs::File) {
    use std::process::Stdio;
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = std::fs::File::from(pty.slave);
    let child = Command::new(env!("CARGO_BIN_EXE_shop-client"))
        .args([&addr.to_string(), "--encoding", "utf-8"])
        .env("TERM", "xterm")
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    (child, std::fs::File::from(pty.master))
}

#[test]
fn enter_and_ctrl_d_work_while_a_server_floods_the_terminal() {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let server_got = got.clone();
    thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut reader = conn.try_clone().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 256];
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                server_got.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        // Never quiet: lines for as long as the client reads them.
        let chunk = ("x".repeat(199) + "\n").repeat(64);
        while conn.write_all(chunk.as_bytes()).is_ok() {}
    });
    let (mut child, mut master) = client_on_raw_pty(addr);
    // The terminal is read all along; the last bytes shown are kept.
    let screen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let shown = screen.clone();
    let mut reader = master.try_clone().unwrap();
    thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            let mut tail = shown.lock().unwrap();
            tail.extend_from_slice(&buf[..n]);
            let excess = tail.len().saturating_sub(4096);
            tail.drain(..excess);
        }
    });
    thread::sleep(Duration::from_secs(2));
    // A line typed during the flood is sent: the editor does not wait for the display.
    master.write_all(b"abc\r").unwrap();
    let sent = std::time::Instant::now();
    while !got.lock().unwrap().ends_with(b"abc\n") {
        assert!(
            sent.elapsed() < Duration::from_secs(20),
            "the line typed during a flood was not sent"
        );
        thread::sleep(Duration::from_millis(50));
    }
    // Ctrl-D at the empty prompt: the client leaves although the server never stops.
    thread::sleep(Duration::from_millis(500));
    master.write_all(b"\x04").unwrap();
    let status = wait(&mut child, Duration::from_secs(20));
    let tail = String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
    let status = status.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("Ctrl-D during a flood did not end the client: {tail:?}")
    });
    assert_eq!(status.code(), Some(0), "{tail:?}");
    assert!(tail.contains("您已离开商店"), "{tail:?}");
}
