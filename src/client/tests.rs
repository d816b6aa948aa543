//! Unit tests of the controller over real loopback sockets and byte-slice input.

use super::*;
use std::net::TcpListener;

#[test]
fn eol_table() {
    for (s, want) in [
        ("lf", Some(Eol::Lf)),
        ("CRLF", Some(Eol::Crlf)),
        ("none", Some(Eol::None)),
        ("cr", None),
    ] {
        assert_eq!(s.parse::<Eol>().ok(), want, "{s}");
    }
}

#[test]
fn reply_wait_table() {
    for (s, want) in [
        ("0", Some(Duration::ZERO)),
        ("0.5", Some(Duration::from_millis(500))),
        ("3600", Some(Duration::from_secs(3600))),
        ("3601", None),
        ("1e19", None),
        ("-1", None),
        ("NaN", None),
        ("inf", None),
        ("abc", None),
    ] {
        assert_eq!(parse_reply_wait(s).ok(), want, "{s}");
    }
}

#[test]
fn bounded_lines() {
    let long = "x".repeat(MAX_INPUT_LINE + 10);
    let text = format!("a\r\n{long}\nb");
    let mut input = text.as_bytes();
    let mut line = Vec::new();
    let mut got = Vec::new();
    loop {
        line.clear();
        match read_bounded_line(&mut input, &mut line).unwrap() {
            None => break,
            Some(ok) => got.push((ok, String::from_utf8(line.clone()).unwrap())),
        }
    }
    assert_eq!(
        got,
        [
            (true, "a\r\n".to_string()),
            (false, String::new()),
            (true, "b".to_string())
        ]
    );
}

/// A tiny unframed server like the tutorial's reference answer: GBK, no newlines,
/// one `recv` is one message.
fn reference_answer() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let send = |conn: &mut TcpStream, s: &str| {
            conn.write_all(&codec::encode(s, Charset::Gbk).unwrap())
        };
        send(
            &mut conn,
            "目前商店还有:瓜子(2.5),西瓜(2),矿泉水(2.5)。请问您需要什么?",
        )
        .unwrap();
        let mut buf = [0u8; 1024];
        loop {
            let n = conn.read(&mut buf).unwrap();
            let good = codec::decode(&buf[..n], crate::wire::codec::WireEncoding::Gbk)
                .unwrap()
                .0;
            if good == "拜拜" {
                send(&mut conn, "欢迎下次光临").unwrap();
                break;
            }
            let reply = if good == "西瓜" {
                "购买成功,余额 -2"
            } else {
                "抱歉,您购买的商品目前没有,请选购其他的。"
            };
            send(&mut conn, reply).unwrap();
        }
    });
    addr
}

fn run_piped(addr: std::net::SocketAddr, input: &'static str, opts: &Options) -> (String, Ending) {
    let stream = TcpStream::connect(addr).unwrap();
    let mut screen = Plain(Vec::new());
    let ending = run(stream, input.as_bytes(), &mut screen, opts).unwrap();
    (String::from_utf8(screen.0).unwrap(), ending)
}

#[test]
fn talks_to_the_unframed_reference_answer() {
    let opts = Options {
        eol: Eol::None,
        transcript: true,
        ..Options::default()
    };
    let (out, ending) = run_piped(reference_answer(), "红牛\n西瓜\n拜拜\n", &opts);
    assert_eq!(
        out,
        "【服务器】目前商店还有:瓜子(2.5),西瓜(2),矿泉水(2.5)。请问您需要什么?\n\
         【客户端】红牛\n\
         【服务器】抱歉,您购买的商品目前没有,请选购其他的。\n\
         【客户端】西瓜\n\
         【服务器】购买成功,余额 -2\n\
         【客户端】拜拜\n\
         【服务器】欢迎下次光临\n"
    );
    assert!(matches!(ending, Ending::Goodbye), "{ending:?}");
}

#[test]
fn the_reference_answer_without_eol_none_gets_a_hint_once() {
    let opts = Options::default();
    let (out, _) = run_piped(reference_answer(), "西瓜\n西瓜\n拜拜\n", &opts);
    assert_eq!(out.matches("请加上 --eol none").count(), 1, "{out}");
    let hint = out.find("--eol none").unwrap();
    let greeting = out.find("目前商店还有").unwrap();
    assert!(greeting < hint, "{out}");
}

/// A server that says `hi` and returns every byte the client sent, once it closes.
fn collecting_server() -> (std::net::SocketAddr, thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(b"hi\r\n").unwrap();
        let mut got = Vec::new();
        conn.read_to_end(&mut got).unwrap();
        got
    });
    (addr, server)
}

#[test]
fn unencodable_text_is_not_sent() {
    let (addr, server) = collecting_server();
    let opts = Options {
        reply_wait: Duration::from_millis(300),
        ..Options::default()
    };
    let (out, ending) = run_piped(addr, "😀\nok\n", &opts);
    assert_eq!(
        server.join().unwrap(),
        b"ok\n",
        "only the encodable line was sent"
    );
    assert!(out.contains("【提示】「😀」无法用 GBK 编码发送"), "{out}");
    assert!(matches!(ending, Ending::UserLeft), "{ending:?}");
}

#[test]
fn invalid_utf8_input_is_named_as_such() {
    let (addr, server) = collecting_server();
    let stream = TcpStream::connect(addr).unwrap();
    let mut screen = Plain(Vec::new());
    let opts = Options {
        reply_wait: Duration::from_millis(300),
        ..Options::default()
    };
    // 西瓜 in GBK, as a GBK terminal would type it.
    let input: &'static [u8] = b"\xce\xf7\xb9\xcf\nok\n";
    run(stream, input, &mut screen, &opts).unwrap();
    let out = String::from_utf8(screen.0).unwrap();
    assert_eq!(server.join().unwrap(), b"ok\n");
    assert!(out.contains("不是有效的 UTF-8(字节 CE F7 B9 CF)"), "{out}");
    assert!(!out.contains("无法用 GBK 编码"), "{out}");
}
