//! `shop-client` against the real `shop-server`, with piped standard input: the
//! transcript, every address form, each ending and each hint.

mod client_support;
mod support;

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;
use std::thread;
use std::time::Duration;

use client_support::{client, spawn, stderr, stdout, wait_output};
use support::{GREETING, ShopServer, gbk};

#[test]
fn piped_session_is_a_transcript_and_a_goodbye_exits_zero() {
    let server = ShopServer::start(&[]);
    let port = server.addr.port().to_string();
    let out = client(&["127.0.0.1", &port], "红牛\n西瓜\n拜拜\n".as_bytes());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        stdout(&out),
        format!(
            "【服务器】{GREETING}\n\
             【客户端】红牛\n\
             【服务器】抱歉,您购买的商品目前没有,请选购其他的。\n\
             【客户端】西瓜\n\
             【服务器】购买成功,余额 -2\n\
             【客户端】拜拜\n\
             【服务器】欢迎下次光临\n\
             【提示】服务器已道别并关闭了连接。 · The server said goodbye and closed.\n"
        )
    );
}

#[test]
fn quiet_drops_the_sent_lines_from_the_transcript() {
    let server = ShopServer::start(&[]);
    let port = server.addr.port().to_string();
    let out = client(&["127.0.0.1", &port, "--quiet"], "西瓜\n".as_bytes());
    let text = stdout(&out);
    assert!(!text.contains("【客户端】"), "{text}");
    assert!(text.contains("【服务器】购买成功,余额 -2"), "{text}");
}

#[test]
fn end_of_input_is_the_user_leaving_and_exits_zero_after_the_replies() {
    let server = ShopServer::start(&["--encoding", "utf-8"]);
    let port = server.addr.port().to_string();
    let out = client(
        &["127.0.0.1", &port, "--encoding", "utf-8", "--eol", "crlf"],
        "瓜子\n瓜子\n".as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains("【服务器】购买成功,余额 -4.5\n【客户端】瓜子\n【服务器】购买成功,余额 -9\n"),
        "{text}"
    );
    assert!(
        text.ends_with("【提示】您已离开商店,连接已关闭。 · You left; connection closed.\n"),
        "{text}"
    );
}

#[test]
fn reply_wait_zero_still_shows_every_reply() {
    let server = ShopServer::start(&[]);
    let port = server.addr.port().to_string();
    let out = client(
        &["127.0.0.1", &port, "--reply-wait", "0", "--quiet"],
        "西瓜\n".repeat(20).as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert_eq!(text.matches("【服务器】购买成功").count(), 20, "{text}");
    assert!(text.contains("余额 -40\n"), "{text}");
}

#[test]
fn unencodable_text_is_refused_and_not_sent() {
    let server = ShopServer::start(&[]);
    let port = server.addr.port().to_string();
    let out = client(
        &["127.0.0.1", &port, "--reply-wait", "1"],
        "😀\n西瓜\n".as_bytes(),
    );
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("【提示】「😀」无法用 GBK 编码发送"), "{text}");
    // Had the emoji gone out (as `&#128512;`), the server would have answered it first.
    assert!(!text.contains("抱歉,您购买的商品目前没有"), "{text}");
    assert!(text.contains("【服务器】购买成功,余额 -2"), "{text}");
}

#[test]
fn invalid_utf8_input_is_called_that() {
    let server = ShopServer::start(&[]);
    let port = server.addr.port().to_string();
    // 西瓜 typed on a GBK terminal.
    let mut input = gbk("西瓜");
    input.extend_from_slice("\n瓜子\n".as_bytes());
    let out = client(&["127.0.0.1", &port, "--reply-wait", "1"], &input);
    let text = stdout(&out);
    assert!(
        text.contains("不是有效的 UTF-8(字节 CE F7 B9 CF)"),
        "{text}"
    );
    assert!(!text.contains("无法用 GBK 编码"), "{text}");
    assert!(text.contains("余额 -4.5"), "only 瓜子 was bought: {text}");
}

#[test]
fn every_address_form_reaches_the_server() {
    let server = ShopServer::start(&[]);
    let port = server.addr.port().to_string();
    let joined = format!("127.0.0.1:{port}");
    let forms: [&[&str]; 5] = [
        &["127.0.0.1", &port],
        &[&joined],
        &["--host", "127.0.0.1", "--port", &port],
        &["--port", &port],
        &["-p", &port],
    ];
    for form in forms {
        let out = client(form, "西瓜\n".as_bytes());
        assert_eq!(out.status.code(), Some(0), "{form:?}: {out:?}");
        assert!(stdout(&out).contains("购买成功"), "{form:?}: {out:?}");
    }
}

#[test]
fn an_ipv6_address_in_brackets_reaches_the_server() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    let server = ShopServer::start(&["--host", "::1"]);
    let port = server.addr.port().to_string();
    let joined = format!("[::1]:{port}");
    let forms: [&[&str]; 3] = [&[&joined], &["[::1]", &port], &["::1", &port]];
    for form in forms {
        let out = client(form, "西瓜\n".as_bytes());
        assert_eq!(out.status.code(), Some(0), "{form:?}: {out:?}");
        assert!(stdout(&out).contains("购买成功"), "{form:?}: {out:?}");
    }
}

#[test]
fn bad_addresses_and_options_are_one_clear_line() {
    let cases: [&[&str]; 12] = [
        &["127.0.0.1:9999", "9999"],
        &["127.0.0.1:99999"],
        &["127.0.0.1", "port"],
        &["a:b:c"],
        &["[::1"],
        &["h", "--host", "g"],
        &["h:1", "--port", "2"],
        &["--reply-wait", "1e19"],
        &["--reply-wait=-1"],
        &["--reply-wait", "-1"],
        &["--reply-wait", "NaN"],
        &["--send-timeout", "0"],
    ];
    for args in cases {
        let out = client(args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        let first = err.lines().next().unwrap_or_default();
        assert!(
            ["端口", "地址", "主机", "秒数", "大于 0"]
                .iter()
                .any(|w| first.contains(w)),
            "{args:?}: not a clear Chinese error: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn no_server_is_one_line_and_exit_one() {
    // Bind and drop a listener to find a port that is very likely closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let out = client(&["127.0.0.1", &port], b"");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("无法连接 127.0.0.1:{port}")) && err.contains("Connection refused"),
        "Chinese first, the OS reason kept: {err}"
    );
}

#[test]
fn a_server_that_dies_is_not_a_goodbye() {
    let mut server = ShopServer::start(&[]);
    let port = server.addr.port().to_string();
    let mut child = spawn(&["127.0.0.1", &port]);
    // Keep stdin open: the user has not left. Wait for the greeting, then kill -9.
    let mut input = child.stdin.take().unwrap();
    thread::sleep(Duration::from_millis(500));
    server.kill_hard();
    let out = wait_output(child, Duration::from_secs(30));
    let _ = input.write_all(b"");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains(GREETING), "{text}");
    assert!(
        text.contains("【提示】服务器没有道别就关闭了连接"),
        "{text}"
    );
    let _ = server.wait_exit(Duration::from_secs(5));
}

#[test]
fn the_wrong_encoding_gets_a_hint_once() {
    // A UTF-8 server read as GBK, and a GBK server read as UTF-8.
    for (server_enc, client_enc, want) in [
        ("utf-8", "gbk", "--encoding utf-8"),
        ("gbk", "utf-8", "--encoding gbk"),
    ] {
        let server = ShopServer::start(&["--encoding", server_enc]);
        let port = server.addr.port().to_string();
        let out = client(
            &[
                "127.0.0.1",
                &port,
                "--encoding",
                client_enc,
                "--reply-wait",
                "1",
            ],
            "菜单\n菜单\n".as_bytes(),
        );
        let text = stdout(&out);
        assert_eq!(
            text.matches(&format!("请加上 {want}")).count(),
            1,
            "{server_enc}/{client_enc}: {text}"
        );
        assert!(
            text.starts_with("【服务器】"),
            "the hint follows the first message: {text}"
        );
    }
}

#[test]
fn the_right_encoding_gets_no_hints() {
    let server = ShopServer::start(&[]);
    let port = server.addr.port().to_string();
    let out = client(&["127.0.0.1", &port], "菜单\n西瓜\n拜拜\n".as_bytes());
    let text = stdout(&out);
    assert!(
        !text.contains("--encoding") && !text.contains("--eol"),
        "{text}"
    );
}

/// The tutorial's reference answer, in miniature: GBK, no newlines, and each recv is
/// one message, newline included.
fn reference_answer() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let _ = conn.write_all(&gbk("目前商店还有:瓜子(2.5),西瓜(2)。请问您需要什么?"));
        let mut buf = [0u8; 1024];
        loop {
            let n = match std::io::Read::read(&mut conn, &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let reply = if buf[..n] == gbk("西瓜")[..] {
                "购买成功"
            } else if buf[..n] == gbk("拜拜")[..] {
                let _ = conn.write_all(&gbk("欢迎下次光临"));
                return;
            } else {
                "抱歉,您购买的商品目前没有,请选购其他的。"
            };
            let _ = conn.write_all(&gbk(reply));
        }
    });
    addr
}

#[test]
fn replies_without_line_endings_suggest_eol_none_once() {
    let addr = reference_answer();
    let out = client(
        &[&addr.to_string(), "--reply-wait", "1"],
        "西瓜\n西瓜\n".as_bytes(),
    );
    let text = stdout(&out);
    assert_eq!(text.matches("请加上 --eol none").count(), 1, "{text}");
    assert!(
        text.contains("没有,请选购"),
        "西瓜\\n is unknown to it: {text}"
    );

    let addr = reference_answer();
    let out = client(
        &[&addr.to_string(), "--eol", "none"],
        "西瓜\n拜拜\n".as_bytes(),
    );
    let text = stdout(&out);
    assert!(text.contains("【服务器】购买成功\n"), "{text}");
    assert!(!text.contains("--eol none"), "{text}");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn one_message_can_earn_both_hints() {
    // The reference answer read as UTF-8: its GBK greeting, without a newline, earns
    // the --encoding hint and the --eol hint at once.
    let addr = reference_answer();
    let out = client(
        &[
            &addr.to_string(),
            "--encoding",
            "utf-8",
            "--reply-wait",
            "1",
        ],
        "西瓜\n".as_bytes(),
    );
    let text = stdout(&out);
    assert_eq!(text.matches("请加上 --encoding gbk").count(), 1, "{text}");
    assert_eq!(text.matches("请加上 --eol none").count(), 1, "{text}");
}

#[test]
fn help_lists_the_options() {
    let out = Command::new(client_support::CLIENT)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for option in [
        "--encoding",
        "--eol",
        "none",
        "[HOST]",
        "[PORT]",
        "--host",
        "--port",
        "--reply-wait",
        "--send-timeout",
        "--quiet",
        "Exit codes",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}

#[test]
fn a_host_name_is_resolved_and_each_address_tried() {
    // `localhost` may resolve to ::1 first; the listener is on 127.0.0.1 only.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(b"hello\r\n").unwrap();
        drop(conn);
    });
    let out = client(&[&format!("localhost:{port}")], b"");
    server.join().unwrap();
    assert!(stdout(&out).contains("【服务器】hello"), "{out:?}");
}
