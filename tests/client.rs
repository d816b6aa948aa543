//! `shop-client` against the real `shop-server`, with piped standard input.

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use support::{GREETING, ShopServer};

fn client(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shop-client"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start shop-client");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn piped_session_against_the_server() {
    let server = ShopServer::start(&[]);
    let port = server.addr.port().to_string();
    let out = client(&["127.0.0.1", &port], "红牛\n西瓜\n拜拜\n");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "【服务器】{GREETING}\n\
             【服务器】抱歉,您购买的商品目前没有,请选购其他的。\n\
             【服务器】购买成功,余额 -2\n\
             【服务器】欢迎下次光临\n\
             【提示】服务器已关闭连接。\n"
        )
    );
}

#[test]
fn end_of_input_without_goodbye_exits_zero_after_the_replies() {
    let server = ShopServer::start(&["--encoding", "utf-8"]);
    let port = server.addr.port().to_string();
    let out = client(
        &["127.0.0.1", &port, "--encoding", "utf-8", "--eol", "crlf"],
        "瓜子\n瓜子\n",
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("【服务器】购买成功,余额 -4.5\n【服务器】购买成功,余额 -9\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("【客户端】"),
        "no prompts when stdin is a pipe"
    );
}

#[test]
fn unencodable_text_is_refused_and_not_sent() {
    let server = ShopServer::start(&[]);
    let port = server.addr.port().to_string();
    let out = client(&["127.0.0.1", &port, "--reply-wait", "1"], "😀\n西瓜\n");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("【提示】「😀」无法用 GBK 编码发送"),
        "{stdout}"
    );
    // Had the emoji gone out (as `&#128512;`), the server would have answered it first.
    assert!(!stdout.contains("抱歉,您购买的商品目前没有"), "{stdout}");
    assert!(stdout.contains("【服务器】购买成功,余额 -2"), "{stdout}");
}

#[test]
fn no_server_is_one_line_and_exit_one() {
    // Bind and drop a listener to find a port that is very likely closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let out = client(&["127.0.0.1", &port], "");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("refused"),
        "{stderr}"
    );
}

#[test]
fn help_works() {
    let out = Command::new(env!("CARGO_BIN_EXE_shop-client"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for option in ["--encoding", "--eol", "none", "[HOST]", "[PORT]"] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}
