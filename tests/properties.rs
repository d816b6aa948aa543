//! Property tests (proptest) of the library, without sockets: random bytes never make a
//! conversation panic or say anything malformed; cutting the same byte stream into
//! pieces at random points changes neither the messages nor a single byte of the
//! replies; and however buyers interleave, on one thread or many, the shop never
//! oversells: bought == min(demand, stock), and sold + remaining == initial stock.

use std::fmt::Write as _;
use std::io::{self, Read};
use std::sync::Barrier;
use std::sync::atomic::AtomicBool;

use proptest::prelude::*;

use snack_shop::Shop;
use snack_shop::Tap;
use snack_shop::codec::{self, Charset, WireEncoding};
use snack_shop::{Catalog, Price};
use snack_shop::{End, ReplyWriter, converse};
use snack_shop::{Frame, FrameError, FrameReader, Limits, Source};
use snack_shop::{Reply, Request, Session};

/// A source that hands out its bytes in pieces of the given sizes (cycled), the way
/// `recv` hands out a TCP stream. It never times out, so no message is cut short by a
/// pause: only the piece boundaries differ from reading the bytes whole.
struct Chunked<'a> {
    data: &'a [u8],
    sizes: &'a [usize],
    next: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.next % self.sizes.len()].max(1);
        self.next += 1;
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

impl Source for Chunked<'_> {}

const WIRES: [WireEncoding; 3] = [WireEncoding::Gbk, WireEncoding::Utf8, WireEncoding::Auto];

fn shipped_shop(wire: WireEncoding) -> Shop {
    Shop::new(Catalog::parse(snack_shop::EMBEDDED, "goods.toml", wire).expect("catalog"))
}

fn limits(max_line: usize) -> Limits {
    Limits {
        max_line,
        ..Limits::default()
    }
}

/// Runs a whole conversation over `source` and returns the bytes sent back.
fn conversation<S: Source>(source: S, wire: WireEncoding, max_line: usize) -> (Vec<u8>, End) {
    let mut session = Session::new(shipped_shop(wire), wire, max_line);
    let mut frames = FrameReader::new(source, limits(max_line)).expect("frame reader");
    let mut sent = Vec::new();
    let mut out = ReplyWriter::new(&mut sent);
    let closing = AtomicBool::new(false);
    let end = converse(
        &mut frames,
        &mut out,
        &mut session,
        wire,
        &closing,
        &"prop",
        &Tap::off(),
    )
    .expect("in-memory conversations cannot fail");
    drop(out);
    (sent, end)
}

/// The frames of `source`, as owned values, until the end of the stream.
fn frames<S: Source>(source: S, max_line: usize) -> Vec<Option<Vec<u8>>> {
    let mut reader = FrameReader::new(source, limits(max_line)).expect("frame reader");
    let mut all = Vec::new();
    loop {
        match reader.read_frame() {
            Ok(Some(Frame::Message(m))) => all.push(Some(m.to_vec())),
            Ok(Some(Frame::TooLong)) => all.push(None),
            Ok(None) => return all,
            Err(FrameError::Idle(_)) => panic!("no idle timeout was set"),
            Err(FrameError::MessageTimeout(_)) => panic!("in-memory bytes arrive at once"),
            Err(FrameError::Io(e)) => panic!("in-memory read failed: {e}"),
        }
    }
}

/// Byte streams with the shapes that matter: names in both encodings, newlines of every
/// kind, undecodable and control bytes, byte order marks, long runs and plain noise.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let gbk = |s: &str| codec::encode(s, Charset::Gbk).expect("gbk");
    let piece = prop_oneof![
        Just(gbk("西瓜")),
        Just(gbk("瓜子")),
        Just(gbk("菜单")),
        Just(gbk("矿泉水")),
        Just("西瓜".as_bytes().to_vec()),
        Just("菜单".as_bytes().to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\xef\xbb\xbf".to_vec()),
        Just(b"\xff\xfe\x80".to_vec()),
        Just(b"\xce".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"\x1b[2J".to_vec()),
        Just(" \u{3000}".as_bytes().to_vec()),
        (0usize..1500).prop_map(|n| vec![b'x'; n]),
        prop::collection::vec(any::<u8>(), 0..16),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// The start of the wrong-encoding hint, the one reply a fixed-charset shop sends in
/// the other charset (the one the customer used).
const HINT: &str = "抱歉,您发送的是 ";

/// Checks that `sent` is well-formed: CRLF-terminated lines, each valid text in the
/// charset the wire allows (or, for a wrong-encoding hint, in the other one), the first
/// one the greeting.
fn check_replies(sent: &[u8], wire: WireEncoding) -> usize {
    assert!(sent.ends_with(b"\r\n"), "{sent:?}");
    let lines: Vec<&[u8]> = sent.split_inclusive(|&b| b == b'\n').collect();
    for line in &lines {
        assert!(line.ends_with(b"\r\n"), "{line:?}");
        let body = &line[..line.len() - 2];
        assert!(!body.contains(&b'\n') && !body.contains(&b'\r'), "{line:?}");
        let text = match wire {
            WireEncoding::Auto => codec::decode(body, wire).expect("replies are valid text").0,
            _ => {
                let (own, other) = (wire.greeting_charset(), wire.greeting_charset().other());
                let mut text = String::new();
                if codec::decode_strict_into(body, other, &mut text) && text.starts_with(HINT) {
                    let switch = format!("本店使用 {own} 编码,请把发送端的编码改成 {own}。");
                    assert!(text.ends_with(&switch), "{text}");
                } else {
                    assert!(
                        codec::decode_strict_into(body, own, &mut text),
                        "only a hint goes out in {other}: {line:?}"
                    );
                }
                text
            }
        };
        assert!(!text.is_empty());
    }
    let (greeting, _) = codec::decode(lines[0], wire).expect("greeting");
    assert!(greeting.starts_with("目前商店还有"), "{greeting}");
    lines.len()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..3000),
        wire in 0usize..3,
        max_line in prop_oneof![Just(8usize), Just(64), Just(1024)],
    ) {
        let wire = WIRES[wire];
        let (sent, end) = conversation(&bytes[..], wire, max_line);
        let replies = check_replies(&sent, wire);
        // One reply per message, plus the greeting, unless a 拜拜 ended it early.
        let messages = frames(&bytes[..], max_line).len();
        match end {
            End::PeerClosed => prop_assert_eq!(replies, messages + 1),
            End::Bye => prop_assert!(replies <= messages + 1),
            other => prop_assert!(false, "unexpected end {:?}", other),
        }
    }

    #[test]
    fn shaped_streams_never_panic(bytes in stream(), wire in 0usize..3) {
        let wire = WIRES[wire];
        let (sent, end) = conversation(&bytes[..], wire, 1024);
        check_replies(&sent, wire);
        prop_assert!(matches!(end, End::PeerClosed | End::Bye), "{:?}", end);
    }

    #[test]
    fn cutting_a_stream_into_pieces_changes_nothing(
        bytes in stream(),
        sizes in prop::collection::vec(1usize..300, 1..20),
        wire in 0usize..3,
        max_line in prop_oneof![Just(8usize), Just(1024)],
    ) {
        let wire = WIRES[wire];
        let chunked = || Chunked { data: &bytes, sizes: &sizes, next: 0 };
        prop_assert_eq!(frames(chunked(), max_line), frames(&bytes[..], max_line));
        let (whole, whole_end) = conversation(&bytes[..], wire, max_line);
        let (pieces, pieces_end) = conversation(chunked(), wire, max_line);
        prop_assert_eq!(whole_end, pieces_end);
        // Byte for byte: the same replies, in the same encodings, in the same order.
        prop_assert_eq!(whole, pieces);
    }
}

/// A catalog of `items` as (price in fen, stock), named 商品0, 商品1, ...
fn shop_of(items: &[(u64, Option<u64>)]) -> Shop {
    let mut toml = String::new();
    for (i, (fen, stock)) in items.iter().enumerate() {
        let _ = write!(
            toml,
            "[[goods]]\nname = \"商品{i}\"\nprice = {}\n",
            Price(*fen)
        );
        if let Some(stock) = stock {
            let _ = writeln!(toml, "stock = {stock}");
        }
    }
    Shop::new(Catalog::parse(&toml, "prop", WireEncoding::Gbk).expect("catalog"))
}

fn items() -> impl Strategy<Value = Vec<(u64, Option<u64>)>> {
    prop::collection::vec((0u64..2000, prop::option::weighted(0.8, 0u64..15)), 1..5)
}

/// Checks the shop's books: per item, sold + remaining == initial stock, sold ==
/// min(demand, stock), and the takings are sold * price. Returns the total takings.
fn check_books(shop: &Shop, items: &[(u64, Option<u64>)], demand: &[u64]) -> u64 {
    let sales = shop.sales();
    assert_eq!(sales.len(), items.len());
    let mut total = 0;
    for (i, (sale, (fen, stock))) in sales.iter().zip(items).enumerate() {
        let want = stock.map_or(demand[i], |s| demand[i].min(s));
        assert_eq!(
            sale.count, want,
            "商品{i}: demand {}, stock {stock:?}",
            demand[i]
        );
        assert_eq!(sale.remaining, stock.map(|s| s - want), "商品{i}");
        assert_eq!(sale.takings, Price(want * fen), "商品{i}");
        total += want * fen;
    }
    total
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn interleaved_buyers_never_oversell(
        items in items(),
        buyers in 1usize..6,
        // (buyer, item) in the order they reach the shop; an item index past the end
        // is a name the shop does not sell.
        order in prop::collection::vec((0usize..6, 0usize..6), 0..120),
    ) {
        let shop = shop_of(&items);
        let mut sessions: Vec<Session> = (0..buyers)
            .map(|_| Session::new(shop.clone(), WireEncoding::Gbk, 1024))
            .collect();
        let mut spent = vec![0u64; buyers];
        let mut demand = vec![0u64; items.len()];
        for (buyer, item) in order {
            let buyer = buyer % buyers;
            let name = format!("商品{item}");
            let reply = sessions[buyer].handle(Request::parse(&name));
            let Some(&(fen, stock)) = items.get(item) else {
                prop_assert_eq!(reply, Reply::Unknown);
                continue;
            };
            demand[item] += 1;
            // One after another, the first `stock` requests for an item win.
            if stock.is_none_or(|s| demand[item] <= s) {
                spent[buyer] += fen;
                prop_assert_eq!(reply, Reply::Bought { spent: Price(spent[buyer]) });
            } else {
                prop_assert_eq!(reply, Reply::SoldOut(name));
            }
        }
        let takings = check_books(&shop, &items, &demand);
        prop_assert_eq!(takings, spent.iter().sum::<u64>());
        for (session, spent) in sessions.iter().zip(&spent) {
            prop_assert_eq!(session.spent(), Price(*spent));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn buyers_on_many_threads_never_oversell(
        items in items(),
        wishes in prop::collection::vec(prop::collection::vec(0usize..5, 0..60), 2..6),
    ) {
        let shop = shop_of(&items);
        let barrier = Barrier::new(wishes.len());
        // Every buyer on its own thread, all released at once, with its own session:
        // returns what each was told it spent, checked reply by reply.
        let spent: Vec<u64> = std::thread::scope(|scope| {
            let handles: Vec<_> = wishes
                .iter()
                .map(|list| {
                    let (shop, items, barrier) = (shop.clone(), &items, &barrier);
                    scope.spawn(move || {
                        let mut session = Session::new(shop, WireEncoding::Gbk, 1024);
                        let mut spent = 0;
                        barrier.wait();
                        for &item in list {
                            let name = format!("商品{item}");
                            match (session.handle(Request::Buy(&name)), items.get(item)) {
                                (Reply::Bought { spent: now }, Some((fen, _))) => {
                                    spent += fen;
                                    assert_eq!(now, Price(spent));
                                }
                                (Reply::SoldOut(named), Some((_, Some(_)))) => {
                                    assert_eq!(named, name);
                                }
                                (Reply::Unknown, None) => {}
                                (reply, item) => panic!("{reply:?} for {item:?}"),
                            }
                        }
                        spent
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("buyer thread")).collect()
        });
        let mut demand = vec![0u64; items.len()];
        for &item in wishes.iter().flatten() {
            if item < items.len() {
                demand[item] += 1;
            }
        }
        let takings = check_books(&shop, &items, &demand);
        prop_assert_eq!(takings, spent.iter().sum::<u64>());
    }
}
