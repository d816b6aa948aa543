//! What the Windows package (issue 21) needs from the binaries, against the real ones:
//! a double-clicked program waits for Enter before its window closes and the client
//! asks for the address (driven through the `SHOP_DOUBLE_CLICK` test hook, since a test
//! has no Explorer), programs in a pipe never wait, the classroom banner, and the
//! report's CSV with a BOM for Excel.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use snack_shop::console::{ASK_IP, ASK_PORT, DOUBLE_CLICK_ENV, PAUSE_PROMPT};
use support::{ShopServer, gbk, temp_dir};

fn client() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shop-client"))
}

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shop-server"))
}

/// Runs `cmd` with `input` on stdin (then closed); returns exit code, stdout, stderr.
fn run(mut cmd: Command, input: &str) -> (Option<i32>, String, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let mut stdin = child.stdin.take().expect("stdin piped");
    stdin.write_all(input.as_bytes()).expect("write stdin");
    drop(stdin);
    let out = child.wait_with_output().expect("wait for the binary");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_double_clicked_client_asks_for_the_address_buys_and_waits_for_enter() {
    let shop = ShopServer::start(&[]);
    let mut cmd = client();
    cmd.env(DOUBLE_CLICK_ENV, "1");
    let input = format!(" 127.0.0.1 \n{}\n西瓜\n拜拜\n\n", shop.addr.port());
    let (code, stdout, stderr) = run(cmd, &input);
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    let ip = stdout.find(ASK_IP).expect("asks for the IP");
    let port = stdout.find(ASK_PORT).expect("asks for the port");
    let bought = stdout.find("购买成功,余额 -2").expect("buys");
    let pause = stdout.find(PAUSE_PROMPT).expect("waits for Enter");
    assert!(ip < port && port < bought && bought < pause, "{stdout}");
}

#[test]
fn a_double_clicked_client_with_no_answer_says_so() {
    let mut cmd = client();
    cmd.env(DOUBLE_CLICK_ENV, "1");
    let (code, stdout, stderr) = run(cmd, "");
    assert_eq!(code, Some(2), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains("no input"), "{stderr}");
}

#[test]
fn a_client_in_a_pipe_neither_asks_nor_waits() {
    let shop = ShopServer::start(&[]);
    let mut cmd = client();
    cmd.env_remove(DOUBLE_CLICK_ENV)
        .args(["127.0.0.1", &shop.addr.port().to_string()]);
    let (code, stdout, stderr) = run(cmd, "西瓜\n");
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("购买成功,余额 -2"), "{stdout}");
    assert!(
        !stdout.contains(ASK_IP) && !stdout.contains(PAUSE_PROMPT),
        "{stdout}"
    );
}

#[test]
fn a_double_clicked_server_that_fails_keeps_its_window_until_enter() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = taken
        .local_addr()
        .expect("local address")
        .port()
        .to_string();
    let mut child = server()
        .env(DOUBLE_CLICK_ENV, "1")
        .args(["--port", &port])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start shop-server");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
    let mut seen = String::new();
    while !seen.contains(PAUSE_PROMPT) {
        let mut line = String::new();
        if stdout.read_line(&mut line).expect("read stdout") == 0 {
            break;
        }
        seen.push_str(&line);
    }
    assert!(seen.contains(PAUSE_PROMPT), "no pause prompt: {seen:?}");
    // Still waiting for the Enter it asked for.
    assert!(child.try_wait().expect("poll the server").is_none());
    let mut stdin = child.stdin.take().expect("stdin piped");
    stdin.write_all(b"\n").expect("press Enter");
    let status = child.wait().expect("wait for the server");
    let mut stderr = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("端口已被占用"), "{stderr}");
    drop(taken);
}

#[test]
fn the_banner_gives_students_the_address_and_the_port() {
    let mut shop = ShopServer::start_raw(&["--host", "0.0.0.0", "--banner"], None);
    let port = shop.addr.port();
    let mut banner = String::new();
    while banner.lines().filter(|l| l.starts_with("=====")).count() < 2 {
        banner.push_str(&shop.stdout_line());
        banner.push('\n');
    }
    assert!(banner.contains("请告诉学生"), "{banner}");
    assert!(banner.contains(&format!("端口 port: {port}")), "{banner}");
    assert!(
        banner.contains("TCP Client") && banner.contains("编码 GBK"),
        "{banner}"
    );
    // The shop still sells as usual after printing it.
    let mut customer =
        support::Customer::connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    let _greeting = customer.read_line();
    customer.send_raw(&gbk("西瓜\n"));
    assert_eq!(customer.read_line(), "购买成功,余额 -2");
}

#[test]
fn report_csv_with_bom_for_excel() {
    let dir = temp_dir();
    let ledger = dir.join("class.db");
    let ledger_arg = ledger.to_str().expect("utf-8 path");
    {
        let mut shop = ShopServer::start(&["--ledger", ledger_arg]);
        let mut customer = shop.customer();
        customer.send_raw(&gbk("瓜子\n"));
        assert_eq!(customer.read_line(), "购买成功,余额 -4.5");
        shop.kill_hard();
    }
    let out = server()
        .args(["report", "--ledger", ledger_arg, "--csv", "--bom"])
        .output()
        .expect("run report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rest = out
        .stdout
        .strip_prefix(b"\xEF\xBB\xBF")
        .expect("starts with a BOM");
    let text = String::from_utf8(rest.to_vec()).expect("UTF-8");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("time,customer,item,price,counter"));
    assert!(
        lines.next().is_some_and(|row| row.contains(",瓜子,4.5,")),
        "{text}"
    );
    let plain = server()
        .args(["report", "--ledger", ledger_arg, "--csv"])
        .output()
        .expect("run report");
    assert!(plain.stdout.starts_with(b"time,"), "no BOM unless asked");
    let refused = server()
        .args(["report", "--ledger", ledger_arg, "--bom"])
        .output()
        .expect("run report");
    assert_eq!(refused.status.code(), Some(2), "--bom needs --csv");
}
