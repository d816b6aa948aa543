//! The wire protocol, over real sockets against the real `shop-server` binary:
//! exact bytes, framing (粘包, split characters, no newline at all) and encodings.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use snack_shop::codec::Charset;
use support::{Customer, GREETING, ShopServer, gbk};

#[test]
fn seed_transcript_byte_for_byte() {
    let server = ShopServer::start(&[]);
    let mut c = Customer::connect(server.addr);
    assert_eq!(c.read_raw_line(), gbk(&format!("{GREETING}\r\n")));
    let steps = [
        ("红牛", "抱歉,您购买的商品目前没有,请选购其他的。"),
        ("西瓜", "购买成功,余额 -2"),
        ("拜拜", "欢迎下次光临"),
    ];
    for (ask, answer) in steps {
        c.send_raw(&gbk(&format!("{ask}\n")));
        assert_eq!(
            c.read_raw_line(),
            gbk(&format!("{answer}\r\n")),
            "after {ask}"
        );
    }
    c.expect_closed();
}

#[test]
fn the_goodbye_arrives_even_when_more_was_sent_after_bye() {
    // Whatever follows 拜拜 is never read. Closing a socket with unread input makes the
    // kernel reset the connection and drop what it has not sent yet: the goodbye, which
    // waits in the socket for the FIN, must be sent before that close.
    let server = ShopServer::start(&[]);
    let long = "西瓜\n".repeat(2000); // more than one read: some stays in the kernel
    for tail in ["菜单\n", "没有换行", &long] {
        let mut c = server.customer();
        c.send_raw(&gbk(&format!("拜拜\n{tail}")));
        assert_eq!(
            c.read_line(),
            "欢迎下次光临",
            "after 拜拜 + {} bytes",
            tail.len()
        );
        c.expect_closed();
    }
}

#[test]
fn debug_assistant_gbk_without_newline() {
    let server = ShopServer::start(&[]);
    let mut c = server.customer();
    // The debug assistant sends each click as bare GBK bytes, and waits for the answer.
    for (ask, answer) in [
        ("西瓜", "购买成功,余额 -2"),
        ("瓜子", "购买成功,余额 -6.5"),
        ("拜拜", "欢迎下次光临"),
    ] {
        let sent = Instant::now();
        c.send_raw(&gbk(ask));
        assert_eq!(c.read_line(), answer);
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "unterminated message must be answered"
        );
    }
    c.expect_closed();
}

#[test]
fn utf8_session() {
    let server = ShopServer::start(&["--encoding", "utf-8"]);
    let mut c = Customer::connect(server.addr);
    c.charset = Charset::Utf8;
    assert_eq!(c.read_raw_line(), format!("{GREETING}\r\n").into_bytes());
    assert_eq!(c.ask("矿泉水"), "购买成功,余额 -2.5");
    assert_eq!(c.ask("瓜子"), "购买成功,余额 -7");
    assert_eq!(c.ask("拜拜"), "欢迎下次光临");
    c.expect_closed();
}

#[test]
fn auto_answers_each_message_in_its_own_encoding() {
    let server = ShopServer::start(&["--encoding", "auto"]);
    let mut c = Customer::connect(server.addr);
    assert_eq!(
        c.read_raw_line(),
        gbk(&format!("{GREETING}\r\n")),
        "greets in GBK"
    );
    // The tutorial's own Python client sends UTF-8...
    c.send_raw("西瓜".as_bytes());
    assert_eq!(c.read_raw_line(), "购买成功,余额 -2\r\n".as_bytes());
    // ...while the debug assistant sends GBK, on the same or another connection.
    c.send_raw(&gbk("瓜子\n"));
    assert_eq!(c.read_raw_line(), gbk("购买成功,余额 -6.5\r\n"));
}

#[test]
fn several_messages_in_one_segment_are_several_messages() {
    let server = ShopServer::start(&[]);
    let mut c = server.customer();
    c.send_raw(&gbk("西瓜\n红牛\r\n瓜子\n"));
    assert_eq!(c.read_line(), "购买成功,余额 -2");
    assert_eq!(c.read_line(), "抱歉,您购买的商品目前没有,请选购其他的。");
    assert_eq!(c.read_line(), "购买成功,余额 -6.5");
}

#[test]
fn a_gbk_character_split_across_segments_still_decodes() {
    let server = ShopServer::start(&[]);
    let mut c = server.customer();
    let bytes = gbk("矿泉水\n");
    for split in [1, 3, 5] {
        c.stream.set_nodelay(true).unwrap();
        c.send_raw(&bytes[..split]);
        thread::sleep(Duration::from_millis(50));
        c.send_raw(&bytes[split..]);
        assert!(c.read_line().starts_with("购买成功"), "split at {split}");
    }
}

#[test]
fn whitespace_empty_messages_and_the_menu() {
    let server = ShopServer::start(&[]);
    let mut c = server.customer();
    assert_eq!(c.ask("\u{3000} 西瓜\t\u{3000}"), "购买成功,余额 -2");
    assert_eq!(c.ask(""), GREETING, "an empty message repeats the greeting");
    assert_eq!(
        c.ask("菜单"),
        "菜单:瓜子 4.5元 剩100,西瓜 2元 剩49,矿泉水 2.5元 剩200"
    );
}

#[test]
fn undecodable_bytes_get_a_reply_naming_the_encoding() {
    for (encoding, charset, expected) in [
        ("gbk", Charset::Gbk, "GBK"),
        ("utf-8", Charset::Utf8, "UTF-8"),
    ] {
        let server = ShopServer::start(&["--encoding", encoding]);
        let mut c = Customer::connect(server.addr);
        c.charset = charset;
        c.read_line();
        c.send_raw(b"\xff\xfe\x80\n");
        let text = c.read_line();
        assert!(
            text.contains("无法识别") && text.contains(expected),
            "{text}"
        );
        assert_eq!(c.ask("西瓜"), "购买成功,余额 -2", "the session goes on");
    }
}
