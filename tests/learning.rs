//! The learning path (docs/学习路线.md): each step under `examples/` runs here over real
//! sockets on 127.0.0.1 port 0, and so does the failure it shows. The naive versions
//! are made to fail every time, not by luck: a second customer is connected while the
//! first holds the server; two customers are stopped at a barrier between looking at
//! the stock and taking from it; two messages are already queued when the server first
//! reads, or the server is seen to read half a message before the rest is sent.
//!
//! Last, the doc's map to the real shop: every file and function it names must exist.
#![allow(clippy::duplicate_mod)] // each example includes the steps it builds on

#[path = "../examples/step1_one_customer.rs"]
#[allow(dead_code)]
mod step1;
#[path = "../examples/step2_many_customers.rs"]
#[allow(dead_code)]
mod step2;
#[path = "../examples/step3_shared_stock.rs"]
#[allow(dead_code)]
mod step3;
#[path = "../examples/step4_framing.rs"]
#[allow(dead_code)]
mod step4;
#[path = "../examples/step5_encoding.rs"]
#[allow(dead_code)]
mod step5;
#[path = "../examples/step6_limits.rs"]
#[allow(dead_code)]
mod step6;

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::Duration;

use encoding_rs::{Encoding, GBK, UTF_8};
use step1::{GOODBYE, GREETING, UNKNOWN, gbk};

/// The longest any read of these tests waits before the test fails: generous, since
/// these tests check behaviour, not speed, and CI machines are slow and busy.
const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a customer who must be kept waiting is watched for. A customer who is
/// waiting hears nothing, however long the test looks; so a short look cannot flake.
const LOOK: Duration = Duration::from_millis(300);

fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    (listener, addr)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    stream
}

/// Reads exactly the bytes of `text` in GBK and checks them (steps 1 to 3 send no
/// line ends, so a reply is known by its length).
fn hear(stream: &mut TcpStream, text: &str) {
    let mut got = vec![0; gbk(text).len()];
    stream.read_exact(&mut got).expect("a reply");
    assert_eq!(GBK.decode(&got).0, text);
}

/// Reads byte by byte until what came is one of `texts` in GBK.
fn hear_one_of(stream: &mut TcpStream, texts: &[&str]) -> String {
    let (mut got, mut byte) = (Vec::new(), [0u8]);
    while !texts.iter().any(|text| gbk(text) == got) {
        assert!(got.len() < 256, "unexpected: {}", GBK.decode(&got).0);
        stream.read_exact(&mut byte).expect("a reply");
        got.push(byte[0]);
    }
    GBK.decode(&got).0.into_owned()
}

fn say(stream: &mut TcpStream, text: &str) {
    stream.write_all(&gbk(text)).expect("send");
}

/// True if nothing at all arrives within [`LOOK`]: no byte, no close.
fn silent(stream: &TcpStream) -> bool {
    stream.set_read_timeout(Some(LOOK)).expect("timeout");
    let got = (&*stream).read(&mut [0u8; 64]);
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    matches!(got, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
}

/// True once the server has closed the connection (end of stream, or a reset).
fn closed(stream: &mut TcpStream) -> bool {
    match stream.read(&mut [0u8; 64]) {
        Ok(n) => n == 0,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

/// One line (steps 4 to 6 end replies with `\r\n`), decoded in `encoding`.
fn line(reader: &mut impl BufRead, encoding: &'static Encoding) -> String {
    let mut bytes = Vec::new();
    reader.read_until(b'\n', &mut bytes).expect("a line");
    let text = encoding.decode_without_bom_handling(&bytes).0;
    text.trim_end_matches(['\r', '\n']).to_string()
}

fn reader(stream: &TcpStream) -> BufReader<TcpStream> {
    BufReader::new(stream.try_clone().expect("clone"))
}

// Step 1: the reference answer serves one customer; a second one waits for nothing.

#[test]
fn step1_serves_one_customer_as_the_tutorial_shows() {
    let (listener, addr) = listen();
    let server = thread::spawn(move || step1::serve_one(&listener));
    let mut a = connect(addr);
    hear(&mut a, GREETING);
    for (said, reply) in [
        ("红牛", UNKNOWN),
        ("西瓜", "购买成功,余额 -2"),
        ("拜拜", GOODBYE),
    ] {
        say(&mut a, said);
        hear(&mut a, reply);
    }
    assert!(closed(&mut a));
    server.join().expect("server thread").expect("served");
}

#[test]
fn step1_the_second_customer_waits_and_is_never_served() {
    let (listener, addr) = listen();
    let server = thread::spawn(move || step1::serve_one(&listener));
    let mut a = connect(addr);
    hear(&mut a, GREETING);
    // The system completes B's connection (the listen backlog), but nobody serves it.
    let mut b = connect(addr);
    assert!(silent(&b), "B must wait while A is served");
    say(&mut a, "西瓜");
    hear(&mut a, "购买成功,余额 -2");
    assert!(silent(&b), "B still waits");
    say(&mut a, "拜拜");
    hear(&mut a, GOODBYE);
    server.join().expect("server thread").expect("served");
    // The server has closed its listener: B is dropped without a word.
    let mut buf = [0u8; 64];
    if let Ok(n @ 1..) = b.read(&mut buf) {
        panic!("B was served after all: {:?}", &buf[..n]);
    }
}

// Step 2: in turn, B waits until A leaves; with a thread each, B is served at once.

fn start(serve: fn(&TcpListener) -> std::io::Result<()>) -> SocketAddr {
    let (listener, addr) = listen();
    thread::spawn(move || serve(&listener));
    addr
}

#[test]
fn step2_in_turn_the_second_customer_waits_until_the_first_leaves() {
    let addr = start(step2::serve_in_turn);
    let mut a = connect(addr);
    hear(&mut a, GREETING);
    let mut b = connect(addr);
    assert!(silent(&b), "B must wait while A is served");
    say(&mut a, "拜拜");
    hear(&mut a, GOODBYE);
    hear(&mut b, GREETING);
    say(&mut b, "西瓜");
    hear(&mut b, "购买成功,余额 -2");
}

#[test]
fn step2_with_a_thread_each_both_customers_are_served_at_once() {
    let addr = start(step2::serve_threaded);
    let mut a = connect(addr);
    hear(&mut a, GREETING);
    let mut b = connect(addr);
    hear(&mut b, GREETING); // while A is still in the shop
    say(&mut b, "西瓜");
    hear(&mut b, "购买成功,余额 -2");
    say(&mut a, "瓜子");
    hear(&mut a, "购买成功,余额 -4.5");
}

// Step 3: two customers rush for the last 西瓜, stopped at a barrier between looking at
// the stock and taking it, so that both look before either takes.

fn rush(take: step3::Take) -> (Vec<String>, i64) {
    let (listener, addr) = listen();
    let stock = Arc::new(step3::Stock {
        watermelons: AtomicI64::new(1),
    });
    let barrier = Arc::new(Barrier::new(2));
    let between: step3::Between = Arc::new(move || {
        barrier.wait();
    });
    let shared = Arc::clone(&stock);
    thread::spawn(move || step3::serve(&listener, shared, take, between));
    let greeting = "本店只剩 1 个西瓜(2),请问您需要什么?";
    let mut customers: Vec<TcpStream> = (0..2).map(|_| connect(addr)).collect();
    for c in &mut customers {
        hear(c, greeting);
        say(c, "西瓜");
    }
    let (sold, sold_out) = ("购买成功,余额 -2", "抱歉,西瓜已经卖完了,请选购其他的。");
    let replies = customers
        .iter_mut()
        .map(|c| hear_one_of(c, &[sold, sold_out]));
    let mut replies: Vec<String> = replies.collect();
    replies.sort();
    (replies, stock.watermelons.load(Ordering::SeqCst))
}

#[test]
fn step3_naive_check_then_take_sells_the_last_piece_twice() {
    let (replies, left) = rush(step3::take_naive);
    assert_eq!(replies, ["购买成功,余额 -2", "购买成功,余额 -2"]);
    assert_eq!(left, -1, "one 西瓜 sold twice");
}

#[test]
fn step3_an_atomic_take_sells_the_last_piece_once() {
    let (replies, left) = rush(step3::take_atomic);
    assert_eq!(
        replies,
        ["抱歉,西瓜已经卖完了,请选购其他的。", "购买成功,余额 -2"]
    );
    assert_eq!(left, 0);
}

// Step 4: 粘包 and 半包, made to happen on a real connection.

/// A server for one customer with `framing`, whose every read is reported on the
/// returned channel; the test holds the customer's end. `queued` is written before the
/// server reads at all: the test waits until all of it sits in the server's socket, so
/// the first read takes it in one go, as when a server is busy while messages arrive.
fn framed(framing: step4::Framing, queued: &[u8]) -> (TcpStream, mpsc::Receiver<Vec<u8>>) {
    let (listener, addr) = listen();
    let mut customer = connect(addr);
    customer.set_nodelay(true).expect("nodelay"); // each write its own segment
    let (server, _) = listener.accept().expect("accept");
    for part in queued.split_inclusive(|&b| b == b'\n') {
        customer.write_all(part).expect("send"); // one write per message
    }
    server
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    while !queued.is_empty() && server.peek(&mut [0u8; 1024]).expect("peek") < queued.len() {
        thread::yield_now();
    }
    let (reads, seen) = mpsc::channel();
    thread::spawn(move || {
        let mut report = |bytes: &[u8]| {
            let _ = reads.send(bytes.to_vec());
        };
        step4::customer(&server, framing, &mut report)
    });
    (customer, seen)
}

const LINES: step4::Framing = step4::Framing::Lines { pause: None };

/// Two messages in one read (粘包): `西瓜\n` and `瓜子\n`, sent by two writes. The first
/// read, and the first `n` replies after the greeting.
fn sticky(framing: step4::Framing, n: usize) -> (Vec<u8>, Vec<String>) {
    let (_customer, reads) = framed(framing, &gbk("西瓜\n瓜子\n"));
    let mut replies = reader(&_customer);
    assert_eq!(line(&mut replies, GBK), GREETING);
    let first_read = reads.recv().expect("a read");
    (
        first_read,
        (0..n).map(|_| line(&mut replies, GBK)).collect(),
    )
}

#[test]
fn step4_recv_as_a_message_answers_two_sticky_messages_as_one() {
    let (first_read, replies) = sticky(step4::Framing::Recv, 1);
    assert_eq!(first_read, gbk("西瓜\n瓜子\n"), "both messages in one read");
    assert_eq!(replies, [UNKNOWN], "西瓜\\n瓜子 is no item");
}

#[test]
fn step4_lines_answer_two_sticky_messages_each() {
    let (first_read, replies) = sticky(LINES, 2);
    assert_eq!(first_read, gbk("西瓜\n瓜子\n"), "both messages in one read");
    assert_eq!(replies, ["购买成功,余额 -2", "购买成功,余额 -4.5"]);
}

/// One message over two reads (半包): the first byte of 西瓜, and only once the server
/// has read it, the rest. Returns the replies until the one to the whole message.
fn split(framing: step4::Framing) -> Vec<String> {
    let (mut customer, reads) = framed(framing, &[]);
    let mut replies = reader(&customer);
    assert_eq!(line(&mut replies, GBK), GREETING);
    let whole = gbk("西瓜\n");
    customer.write_all(&whole[..1]).expect("send");
    assert_eq!(
        reads.recv().expect("a read"),
        [0xCE],
        "the server read half of 西"
    );
    customer.write_all(&whole[1..]).expect("send");
    assert_eq!(reads.recv().expect("a read"), whole[1..], "then the rest");
    say(&mut customer, "拜拜\n");
    let mut got = Vec::new();
    while got.last().is_none_or(|reply| reply != GOODBYE) {
        got.push(line(&mut replies, GBK));
    }
    got
}

#[test]
fn step4_recv_as_a_message_answers_each_half_of_a_split_message() {
    assert_eq!(split(step4::Framing::Recv), [UNKNOWN, UNKNOWN, GOODBYE]);
}

#[test]
fn step4_lines_join_the_halves_of_a_split_message() {
    assert_eq!(split(LINES), ["购买成功,余额 -2", GOODBYE]);
}

#[test]
fn step4_without_a_newline_a_pause_ends_the_message() {
    // The debug assistant sends 西瓜 with no line end. Lines alone wait for ever...
    let (mut customer, _reads) = framed(LINES, &[]);
    let mut replies = reader(&customer);
    assert_eq!(line(&mut replies, GBK), GREETING);
    say(&mut customer, "西瓜");
    assert!(silent(&customer), "no newline, no answer");
    // ... the pause rule answers once nothing more comes.
    let pause = step4::Framing::Lines {
        pause: Some(step4::PAUSE),
    };
    let (mut customer, _reads) = framed(pause, &[]);
    let mut replies = reader(&customer);
    assert_eq!(line(&mut replies, GBK), GREETING);
    say(&mut customer, "西瓜");
    assert_eq!(line(&mut replies, GBK), "购买成功,余额 -2");
}

// Step 5: the bytes of 西瓜, and what each decoding makes of the wrong ones.

#[test]
fn step5_the_bytes_of_watermelon() {
    assert_eq!(step1::hex(&GBK.encode("西瓜").0), "CE F7 B9 CF");
    assert_eq!(step1::hex("西瓜".as_bytes()), "E8 A5 BF E7 93 9C");
    // UTF-8 西瓜 is valid GBK too: the classic 乱码, with no error to catch it.
    assert_eq!(
        step5::decode_strict("西瓜".as_bytes(), GBK).as_deref(),
        Some("瑗跨摐")
    );
    assert_eq!(step5::decode_strict(&gbk("西瓜"), UTF_8), None);
}

/// Sends `bytes` + `\n` to a step 5 shop speaking `wire`; the reply, decoded in `heard`.
fn talk(
    wire: &'static Encoding,
    decoding: step5::Decoding,
    bytes: &[u8],
    heard: &'static Encoding,
) -> String {
    let (listener, addr) = listen();
    thread::spawn(move || {
        let (server, _) = listener.accept().expect("accept");
        step5::customer(&server, wire, decoding)
    });
    let mut customer = connect(addr);
    let mut replies = reader(&customer);
    assert_eq!(line(&mut replies, wire), GREETING);
    customer.write_all(&[bytes, b"\n"].concat()).expect("send");
    line(&mut replies, heard)
}

use step5::Decoding::{Lossy, Strict};

#[test]
fn step5_the_right_bytes_buy() {
    assert_eq!(talk(GBK, Strict, &gbk("西瓜"), GBK), "购买成功,余额 -2");
    assert_eq!(
        talk(UTF_8, Strict, "西瓜".as_bytes(), UTF_8),
        "购买成功,余额 -2"
    );
}

#[test]
fn step5_a_lossy_decode_shows_garbage_and_says_no_such_item() {
    let replacement = talk(UTF_8, Lossy, &gbk("西瓜"), UTF_8);
    assert_eq!(
        replacement,
        "抱歉,本店没有「\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}」。"
    );
    assert_eq!(
        talk(GBK, Lossy, "西瓜".as_bytes(), GBK),
        "抱歉,本店没有「瑗跨摐」。"
    );
}

#[test]
fn step5_a_strict_decode_tells_the_customer_in_their_own_encoding() {
    assert_eq!(
        talk(UTF_8, Strict, &gbk("西瓜"), GBK),
        "抱歉,您发送的是 GBK 编码的「西瓜」,本店使用 UTF-8 编码,请把发送端的编码改成 UTF-8。"
    );
    assert_eq!(
        talk(GBK, Strict, "西瓜".as_bytes(), UTF_8),
        "抱歉,您发送的是 UTF-8 编码的「西瓜」,本店使用 GBK 编码,请把发送端的编码改成 GBK。"
    );
    assert_eq!(
        talk(GBK, Strict, &[0xFF, 0xFF], GBK),
        "抱歉,无法识别您发送的文字(FF FF),本店使用 GBK 编码。"
    );
}

// Step 6: limits. Each test's other limits are far out of reach, so that only the one
// under test can end the conversation.

const FAR: Duration = Duration::from_secs(3600);
const SHORT: Duration = Duration::from_millis(300);

fn limits() -> step6::Limits {
    step6::Limits {
        idle: FAR,
        message: FAR,
        pause: FAR,
        max_line: 1024,
        max_clients: 100,
        per_read: false,
    }
}

fn shop6(limits: step6::Limits) -> SocketAddr {
    let (listener, addr) = listen();
    thread::spawn(move || step6::serve(&listener, limits));
    addr
}

fn greeted(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let customer = connect(addr);
    let mut replies = reader(&customer);
    assert_eq!(line(&mut replies, GBK), GREETING);
    (customer, replies)
}

#[test]
fn step6_a_silent_customer_is_sent_off_after_the_idle_time() {
    let (mut customer, mut replies) = greeted(shop6(step6::Limits {
        idle: SHORT,
        ..limits()
    }));
    assert_eq!(
        line(&mut replies, GBK),
        "您已经 0.3 秒没有说话了,连接将关闭,欢迎下次光临。"
    );
    assert!(closed(&mut customer));
}

/// Sends one byte of a message every 20 ms, until the server closes or `total` bytes.
fn trickle(customer: &TcpStream, total: usize) {
    let mut customer = customer.try_clone().expect("clone");
    thread::spawn(move || {
        for _ in 0..total {
            if customer.write_all(b"x").is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
    });
}

#[test]
fn step6_a_trickler_loses_the_message_at_its_deadline() {
    let (mut customer, mut replies) = greeted(shop6(step6::Limits {
        message: SHORT,
        ..limits()
    }));
    trickle(&customer, 1000);
    let reply = line(&mut replies, GBK);
    assert_eq!(
        reply,
        "抱歉,您的消息 0.3 秒还没有发完,连接将关闭,欢迎下次光临。"
    );
    assert!(closed(&mut customer));
}

#[test]
fn step6_naive_a_timeout_per_read_never_ends_a_trickle() {
    // A read timeout of 2 s, restarted by each byte; the bytes come 20 ms apart (100
    // times closer), for 5 s or more. Long after the message deadline that would have
    // ended it (0.3 s), the naive server still waits for the end of the message.
    let idle = Duration::from_secs(2);
    let naive = step6::Limits {
        idle,
        message: SHORT,
        per_read: true,
        ..limits()
    };
    let (customer, _replies) = greeted(shop6(naive));
    trickle(&customer, 250);
    thread::sleep(4 * SHORT);
    assert!(silent(&customer), "still trickling, still connected");
}

#[test]
fn step6_a_message_over_the_limit_is_refused() {
    let (mut customer, mut replies) = greeted(shop6(step6::Limits {
        max_line: 16,
        ..limits()
    }));
    customer.write_all(&[b'x'; 17]).expect("send");
    assert_eq!(
        line(&mut replies, GBK),
        "抱歉,消息太长了(超过 16 字节),连接将关闭。"
    );
    assert!(closed(&mut customer));
}

#[test]
fn step6_the_customer_after_the_cap_is_told_the_shop_is_full() {
    let addr = shop6(step6::Limits {
        max_clients: 2,
        ..limits()
    });
    let (mut a, mut a_replies) = greeted(addr);
    let _b = greeted(addr);
    let mut c = connect(addr);
    assert_eq!(line(&mut reader(&c), GBK), "抱歉,本店客满了,请稍后再来。");
    assert!(closed(&mut c));
    // A leaves; the seat is free before A sees the close, so D gets in.
    say(&mut a, "拜拜\n");
    assert_eq!(line(&mut a_replies, GBK), GOODBYE);
    assert!(closed(&mut a));
    let (mut d, mut d_replies) = greeted(addr);
    say(&mut d, "西瓜\n");
    assert_eq!(line(&mut d_replies, GBK), "购买成功,余额 -2");
}

// The doc: its map to the real shop, the names it quotes, its bytes.

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The rows (step, file, function) of the table under `## 在真正的商店里`.
fn shop_map(doc: &str) -> Vec<(u32, String, String)> {
    let section = doc
        .split("\n## 在真正的商店里")
        .nth(1)
        .expect("the map section");
    let rows = section.lines().filter_map(|line| {
        let cells: Vec<&str> = line
            .split('|')
            .map(|c| c.trim().trim_matches('`'))
            .collect();
        let step = cells.get(1)?.parse().ok()?;
        Some((step, cells.get(2)?.to_string(), cells.get(3)?.to_string()))
    });
    rows.collect()
}

#[test]
fn doc_every_file_and_function_it_names_in_the_shop_exists() {
    let rows = shop_map(&read("docs/学习路线.md"));
    for step in 1..=6 {
        assert!(
            rows.iter().any(|row| row.0 == step),
            "step {step} has no row in the map"
        );
    }
    for (step, file, function) in &rows {
        assert!(
            file.starts_with("src/"),
            "step {step}: {file} is not in src/"
        );
        let source = read(file);
        let defines = match file.ends_with(".js") {
            true => source.contains(&format!("function {function}(")),
            false => [format!("fn {function}("), format!("fn {function}<")]
                .iter()
                .any(|definition| source.contains(definition)),
        };
        assert!(
            defines,
            "step {step}: {file} no longer defines {function}: update the map"
        );
    }
}

#[test]
fn doc_quotes_the_live_view_labels_as_the_page_shows_them() {
    let doc = read("docs/学习路线.md");
    let rows = shop_map(&doc);
    let page = rows
        .iter()
        .find(|row| row.1.ends_with("page.js"))
        .expect("the page in the map");
    let page = read(&page.1);
    for label in [
        "粘包:与其他消息同一次收到 (sticky)",
        "停顿结束 ended by pause",
        "换行结束 newline",
    ] {
        assert!(doc.contains(label) && page.contains(label), "{label}");
    }
    assert!(doc.contains("半包:分 2 次收到 (split over 2 reads)"));
    assert!(
        page.contains(
            r#""半包:分 " + said.reads + " 次收到 (split over " + said.reads + " reads)""#
        )
    );
}

#[test]
fn doc_names_only_examples_and_tests_that_exist() {
    let doc = read("docs/学习路线.md");
    let tests = read("tests/learning.rs");
    let quoted = doc.split('`').skip(1).step_by(2);
    let mut names: Vec<&str> = quoted
        .flat_map(|code| code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|word| word.starts_with("step") && word.contains('_'))
        .collect();
    names.dedup();
    assert!(names.len() > 20, "{names:?}");
    for name in names {
        let example = root().join(format!("examples/{name}.rs")).exists();
        assert!(
            example || tests.contains(&format!("fn {name}(")),
            "{name} is neither an example nor a test"
        );
    }
    for bytes in [gbk("西瓜"), "西瓜".as_bytes().to_vec()] {
        assert!(doc.contains(&step1::hex(&bytes)));
    }
}
