//! The PostgreSQL ledger (src/pg_ledger.rs) against a real throwaway PostgreSQL
//! (tests/support/pg.rs): counters racing for the last pieces, the database stopped
//! and started mid-run, foreign schemas, passwords, restocks and the report.
//!
//! Without PostgreSQL installed these tests print one line and pass (not in CI).

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use snack_shop::postgres::link::Link;
use snack_shop::postgres::{Outcome, PendingSale, PgError, PgLedger, Stocked, Strategy};
use support::pg;

fn item(name: &str, fen: u64, stocked: Option<u64>) -> Stocked {
    Stocked {
        name: name.into(),
        fen,
        stocked,
    }
}

fn sale(item: &str, customer: usize) -> PendingSale {
    PendingSale {
        time: SystemTime::now(),
        customer: format!("10.0.0.{}:{}", customer % 250 + 1, 40_000 + customer),
        item: item.into(),
        fen: 450,
    }
}

/// Log lines, as `LEVEL text`, from every test in this binary: each test picks its
/// own by its server's port.
static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let line = format!("{} {}", record.level(), record.args());
        LINES.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

fn capture_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        log::set_logger(&Capture).expect("the only logger");
        log::set_max_level(log::LevelFilter::Info);
    });
}

/// The captured lines that name `port`.
fn lines_about(port: u16) -> Vec<String> {
    let needle = format!("127.0.0.1:{port}/");
    let lines = LINES.lock().unwrap();
    lines
        .iter()
        .filter(|l| l.contains(&needle))
        .cloned()
        .collect()
}

fn count(pg: &pg::Pg, sql: &str) -> u64 {
    let out = pg.psql(sql);
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{sql}: {out:?}"))
}

/// Two counters, each its own connection, 100 buyers for 瓜子 with stock 50, in
/// batches that also hold 西瓜 (stock 10) in the other counter's order, so that the
/// lock order matters. Exactly 50 and 10 are recorded, with as many rows; the rest
/// are sold out. Both ways of sending a batch.
#[test]
fn two_counters_race_for_the_last_pieces() {
    let Some(pg) = pg::start() else { return };
    // Batches of 6 and of 1 (a statement on its own), and a statement per sale.
    let passes = [
        (Strategy::Batch, 6, "瓜子", "西瓜"),
        (Strategy::Batch, 1, "南瓜子", "木瓜"),
        (Strategy::PerSale, 6, "葵花子", "哈密瓜"),
    ];
    for (strategy, size, seeds, melons) in passes {
        let catalog = [item(seeds, 450, Some(50)), item(melons, 200, Some(10))];
        let barrier = Arc::new(Barrier::new(2));
        let counters: Vec<_> = ["一号柜台", "二号柜台"]
            .into_iter()
            .enumerate()
            .map(|(c, name)| {
                let mut ledger = PgLedger::connect(&pg.url(), name).expect("connect");
                ledger.set_strategy(strategy);
                ledger.set_stock(&catalog).expect("set stock");
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    barrier.wait();
                    let mut got = [0u64; 2];
                    // 50 buyers of seeds and 10 of melons per counter, in groups
                    // of 5 and 1: the first counter's melon buyer last in each
                    // group, the second's first, so that without a lock order
                    // their batches would deadlock.
                    let buyers: Vec<PendingSale> = (0..10)
                        .flat_map(|g| {
                            let mut group: Vec<PendingSale> = (0..5)
                                .map(|i| sale(seeds, c * 1000 + g * 5 + i))
                                .chain([sale(melons, c * 1000 + 500 + g)])
                                .collect();
                            if c == 1 {
                                group.reverse();
                            }
                            group
                        })
                        .collect();
                    for batch in buyers.chunks(size) {
                        let outcomes = ledger.commit(batch);
                        assert_eq!(outcomes.len(), batch.len());
                        for (s, o) in batch.iter().zip(outcomes) {
                            assert_ne!(o, Outcome::Failed, "{strategy:?}");
                            if o == Outcome::Recorded {
                                got[usize::from(s.item == melons)] += 1;
                            }
                        }
                    }
                    got
                })
            })
            .collect();
        let got: Vec<[u64; 2]> = counters.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(got[0][0] + got[1][0], 50, "{strategy:?}: {got:?}");
        assert_eq!(got[0][1] + got[1][1], 10, "{strategy:?}: {got:?}");
        let rows = |item: &str| {
            count(
                &pg,
                &format!("SELECT count(*) FROM sales WHERE item = '{item}'"),
            )
        };
        assert_eq!(rows(seeds), 50);
        assert_eq!(rows(melons), 10);
        let sold = count(
            &pg,
            &format!("SELECT sold FROM items WHERE name = '{seeds}'"),
        );
        assert_eq!(sold, 50);
        // Each counter's acknowledged sales are its rows.
        let mine = count(
            &pg,
            &format!("SELECT count(*) FROM sales WHERE counter = '一号柜台' AND item = '{seeds}'"),
        );
        assert_eq!(mine, got[0][0]);
    }
}

/// A statement that fails mid-batch rolls the whole batch back: every sale in it
/// failed, nothing taken, no row; the connection goes on working.
#[test]
fn an_error_mid_batch_takes_nothing() {
    let Some(pg) = pg::start() else { return };
    let mut ledger = PgLedger::connect(&pg.url(), "一号柜台").expect("connect");
    ledger.set_stock(&[item("瓜子", 450, Some(10))]).unwrap();
    for strategy in [Strategy::Batch, Strategy::PerSale] {
        ledger.set_strategy(strategy);
        // PostgreSQL text cannot hold a NUL: the second sale fails after the first
        // has taken its piece (per sale) or with it (batch).
        let mut bad = sale("瓜子", 2);
        bad.customer.push('\0');
        let e = ledger
            .try_commit(&[sale("瓜子", 1), bad.clone()])
            .unwrap_err();
        assert!(matches!(e, PgError::Query { .. }), "{e}");
        assert_eq!(ledger.commit(&[sale("瓜子", 1), bad]), [Outcome::Failed; 2]);
        assert!(!ledger.is_closed(), "{strategy:?}");
        assert_eq!(count(&pg, "SELECT count(*) FROM sales"), 0, "{strategy:?}");
        assert_eq!(count(&pg, "SELECT sold FROM items"), 0, "{strategy:?}");
    }
    assert_eq!(ledger.commit(&[sale("瓜子", 3)]), [Outcome::Recorded]);
}

/// The database stopped mid-run: a batch fails whole (nothing taken), the link says
/// so at once while it is down, and records again by itself once it is back.
#[test]
fn database_stopped_and_started_mid_run() {
    capture_logs();
    let Some(mut pg) = pg::start() else { return };
    let mut link = Link::open(&pg.url(), "一号柜台").expect("connect");
    link.with(|l| l.set_stock(&[item("瓜子", 450, Some(10))]))
        .expect("set stock");
    assert_eq!(link.commit(&[sale("瓜子", 1)]), [Outcome::Recorded]);

    pg.stop();
    let batch = [sale("瓜子", 2), sale("瓜子", 3)];
    assert_eq!(link.commit(&batch), [Outcome::Failed, Outcome::Failed]);
    assert!(!link.is_up());
    // Down: failed at once, within the connect timeout at most.
    let t = Instant::now();
    assert_eq!(link.commit(&batch), [Outcome::Failed, Outcome::Failed]);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());

    pg.start_again();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut tries = 0;
    loop {
        tries += 1;
        match link.commit(&[sale("瓜子", 4)]).as_slice() {
            [Outcome::Recorded] => break,
            [Outcome::Failed] if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(50))
            }
            other => panic!("after {tries} tries: {other:?}"),
        }
    }
    assert!(link.is_up());
    assert_eq!(count(&pg, "SELECT count(*) FROM sales"), 2);
    assert_eq!(count(&pg, "SELECT sold FROM items"), 2);
    // One line when it was lost, one when it came back, however many tries between.
    let lines = lines_about(pg.port());
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].starts_with("WARN ledger 127.0.0.1:")
            && lines[0].contains("sales cannot be recorded; reconnecting with backoff"),
        "{lines:#?}"
    );
    let failed = 2 * 2 + (tries - 1);
    assert!(
        lines[1].starts_with("INFO ledger 127.0.0.1:")
            && lines[1].contains(&format!(
                "; {failed} purchases could not be recorded meanwhile"
            )),
        "{lines:#?}"
    );
}

/// A row lock held by someone else longer than the statement timeout: the batch fails
/// with the server's statement timeout instead of waiting, and the connection stays.
#[test]
fn a_hung_lock_is_bounded_by_the_statement_timeout() {
    let Some(pg) = pg::start() else { return };
    let mut ledger = PgLedger::connect(&pg.url(), "一号柜台").expect("connect");
    ledger.set_stock(&[item("瓜子", 450, Some(10))]).unwrap();
    let holder = {
        let pg_sql = "BEGIN; SELECT name FROM items FOR UPDATE; SELECT pg_sleep(60); COMMIT;";
        let key_value = pg.key_value();
        let psql = pg.psql_command();
        thread::spawn(move || {
            let _ = Command::new(psql)
                .args(["-X", "-q", "-d", &key_value, "-c", pg_sql])
                .output();
        })
    };
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' \
                   AND state = 'active' AND pid <> pg_backend_pid()";
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&pg, waiting) == 0 {
        assert!(Instant::now() < deadline, "the lock holder never started");
        thread::sleep(Duration::from_millis(50));
    }
    let e = ledger.try_commit(&[sale("瓜子", 1)]).unwrap_err();
    assert!(e.to_string().contains("statement timeout (57014)"), "{e}");
    assert!(!ledger.is_closed());
    pg.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()",
    );
    holder.join().unwrap();
    assert_eq!(ledger.commit(&[sale("瓜子", 1)]), [Outcome::Recorded]);
}

/// The plain connection, without the link: the error names the database, and the
/// ledger reports itself closed so that the caller reconnects.
#[test]
fn a_lost_connection_is_an_error_naming_the_database() {
    let Some(mut pg) = pg::start() else { return };
    let mut ledger = PgLedger::connect(&pg.url(), "一号柜台").expect("connect");
    ledger.set_stock(&[item("瓜子", 450, None)]).unwrap();
    pg.stop();
    let e = ledger.try_commit(&[sale("瓜子", 1)]).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("ledger 127.0.0.1:{}/postgres: ", pg.port())),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");
    assert!(ledger.is_closed());
    pg.start_again();
    assert_eq!(count(&pg, "SELECT count(*) FROM sales"), 0);
}

/// Someone else's `sales` table (without our columns) is refused at start, with one
/// line naming the database and the missing column, and left as it was. So is a
/// schema from a newer shop-server.
#[test]
fn a_foreign_or_newer_schema_is_refused() {
    let Some(pg) = pg::start() else { return };
    pg.psql("CREATE TABLE sales (id serial, time text, customer text, item text, price text)");
    let e = PgLedger::connect(&pg.url(), "一号柜台")
        .err()
        .expect("refused");
    let text = e.to_string();
    assert!(matches!(e, PgError::Schema { .. }), "{e:?}");
    assert!(
        text.contains(&format!("127.0.0.1:{}/postgres", pg.port()))
            && text.contains("`sales` table is not a snack-shop ledger's")
            && text.contains("`fen`"),
        "{text}"
    );
    assert!(!text.contains('\n'));
    assert_eq!(
        count(
            &pg,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'items'"
        ),
        0
    );

    pg.psql("DROP TABLE sales");
    drop(PgLedger::connect(&pg.url(), "一号柜台").expect("fresh database"));
    pg.psql("UPDATE snack_shop_meta SET value = '2' WHERE key = 'schema_version'");
    let e = PgLedger::connect(&pg.url(), "一号柜台")
        .err()
        .expect("refused");
    assert!(e.to_string().contains("version 2, newer"), "{e}");
}

/// A wrong password, from the URL or from PGPASSWORD, is one line naming the host and
/// the cause, and never contains the password; the right one connects.
#[test]
fn the_password_is_never_printed() {
    let right = "Zh3ngque-mima";
    let wrong = "Cuowu-mima-42";
    let Some(pg) = pg::start_with_password(right) else {
        return;
    };
    PgLedger::connect_with(&pg.url_with_password(right), "一号柜台", None).expect("URL");
    PgLedger::connect_with(&pg.url(), "一号柜台", Some(right)).expect("PGPASSWORD");
    let attempts = [
        PgLedger::connect_with(&pg.url_with_password(wrong), "一号柜台", None),
        PgLedger::connect_with(&pg.url(), "一号柜台", Some(wrong)),
        // The URL's password wins over PGPASSWORD.
        PgLedger::connect_with(&pg.url_with_password(wrong), "一号柜台", Some(right)),
    ];
    for attempt in attempts {
        let e = attempt.err().expect("refused");
        let (text, debug) = (e.to_string(), format!("{e:?}"));
        assert!(
            text.starts_with(&format!(
                "ledger 127.0.0.1:{}/postgres: cannot connect: ",
                pg.port()
            )) && text.contains("password authentication failed"),
            "{text}"
        );
        for shown in [&text, &debug] {
            assert!(!shown.contains(wrong) && !shown.contains(right), "{shown}");
        }
    }
}

/// Unreachable, and wrong database: one clear line each, naming the place.
#[test]
fn unreachable_or_wrong_database_is_one_clear_line() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let url = format!("postgres://shop:Mima-123@127.0.0.1:{port}/shop");
    let text = PgLedger::connect(&url, "一号柜台")
        .err()
        .unwrap()
        .to_string();
    assert!(
        text.starts_with(&format!("ledger 127.0.0.1:{port}/shop: cannot connect: ")),
        "{text}"
    );
    assert!(!text.contains("Mima-123") && !text.contains('\n'), "{text}");

    let text = PgLedger::connect("postgres://shop@127.0.0.1:notaport/x", "一号柜台")
        .err()
        .unwrap()
        .to_string();
    assert!(
        text.starts_with("ledger: cannot read the PostgreSQL connection string"),
        "{text}"
    );

    let Some(pg) = pg::start() else { return };
    let url = format!("postgres://shop@127.0.0.1:{}/nosuchdb", pg.port());
    let text = PgLedger::connect(&url, "一号柜台")
        .err()
        .unwrap()
        .to_string();
    assert!(
        text.contains("/nosuchdb: cannot connect: ") && text.contains("does not exist"),
        "{text}"
    );
}

/// Restocking by one counter is seen by the other, and two counters whose goods files
/// disagree: the last start or reload wins, reported naming both values.
#[test]
fn restock_and_the_last_start_or_reload_wins() {
    let Some(pg) = pg::start() else { return };
    let mut a = PgLedger::connect(&pg.url(), "一号柜台").expect("connect");
    // The key=value form, through the Unix socket.
    let mut b = PgLedger::connect(&pg.key_value(), "二号柜台").expect("connect");
    assert!(
        a.set_stock(&[item("瓜子", 450, Some(3))])
            .unwrap()
            .is_empty()
    );
    assert_eq!(b.stock().unwrap().get("瓜子"), Some(&Some(3)));
    let five: Vec<_> = (0..5).map(|i| sale("瓜子", i)).collect();
    let outcomes = b.commit(&five);
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::Recorded).count(),
        3
    );
    assert_eq!(outcomes[3..], [Outcome::SoldOut, Outcome::SoldOut]);
    assert_eq!(a.stock().unwrap().get("瓜子"), Some(&Some(0)));

    // Counter b starts (or reloads) with a goods file that says 5.
    let changes = b.set_stock(&[item("瓜子", 450, Some(5))]).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let line = changes[0].to_string();
    assert_eq!(
        line,
        "item 瓜子: stock 3 from counter 一号柜台 replaced by 5 from counter 二号柜台 (the last start or reload wins)"
    );
    assert_eq!(a.stock().unwrap().get("瓜子"), Some(&Some(2)));
    assert_eq!(a.commit(&five[..1]), [Outcome::Recorded]);
    // The same value again from its own counter, or unchanged: nothing to report.
    assert!(
        b.set_stock(&[item("瓜子", 450, Some(5))])
            .unwrap()
            .is_empty()
    );
    // Unlimited.
    let changes = a.set_stock(&[item("瓜子", 450, None)]).unwrap();
    assert!(
        changes[0]
            .to_string()
            .contains("stock 5 from counter 二号柜台 replaced by unlimited")
    );
    assert_eq!(b.stock().unwrap().get("瓜子"), Some(&None));
}

/// The report's rows carry the counter and the time as the SQLite ledger writes it;
/// takings are per counter.
#[test]
fn report_rows_and_takings_per_counter() {
    let Some(pg) = pg::start() else { return };
    let mut a = PgLedger::connect(&pg.url(), "一号柜台").expect("connect");
    let mut b = PgLedger::connect(&pg.url(), "二号柜台").expect("connect");
    a.set_stock(&[item("瓜子", 450, Some(10)), item("西瓜", 200, None)])
        .unwrap();
    let mut melon = sale("西瓜", 7);
    melon.fen = 200;
    assert_eq!(a.commit(&[sale("瓜子", 1), melon]), [Outcome::Recorded; 2]);
    assert_eq!(b.commit(&[sale("瓜子", 2)]), [Outcome::Recorded]);
    let rows = b.sales().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows.iter()
            .map(|r| (r.item.as_str(), r.fen, r.counter.as_str()))
            .collect::<Vec<_>>(),
        [
            ("瓜子", 450, "一号柜台"),
            ("西瓜", 200, "一号柜台"),
            ("瓜子", 450, "二号柜台")
        ]
    );
    let t = &rows[0].time;
    assert!(
        t.len() == 24 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
        "{t}"
    );
    assert_eq!(rows[0].customer, "10.0.0.2:40001");
    let takings = a.takings().unwrap();
    let got: Vec<_> = takings
        .iter()
        .map(|t| (t.counter.as_str(), t.sales, t.fen))
        .collect();
    assert_eq!(got, [("一号柜台", 2, 650), ("二号柜台", 1, 450)]);
}

/// A quick comparison of the two ways of sending a batch, not a test: run with
/// `cargo test --test pg_ledger -- --ignored --nocapture measure`.
#[test]
#[ignore]
fn measure_batch_against_per_sale() {
    let Some(pg) = pg::start() else { return };
    for flush in ["on", "off"] {
        // synchronous_commit off: what the statements cost without waiting for the WAL
        // flush at each commit.
        pg.psql(&format!(
            "ALTER DATABASE postgres SET synchronous_commit = {flush}"
        ));
        let mut ledger = PgLedger::connect(&pg.url(), "一号柜台").expect("connect");
        ledger
            .set_stock(&[item("瓜子", 450, None), item("西瓜", 200, None)])
            .unwrap();
        println!("synchronous_commit = {flush}");
        measure(&mut ledger);
    }
}

fn measure(ledger: &mut PgLedger) {
    for size in [1, 8, 64] {
        let batch: Vec<_> = (0..size)
            .map(|i| sale(if i % 2 == 0 { "瓜子" } else { "西瓜" }, i))
            .collect();
        let commits = (512 / size).clamp(20, 100);
        for round in 0..3 {
            for strategy in [Strategy::Batch, Strategy::PerSale] {
                ledger.set_strategy(strategy);
                let t = Instant::now();
                for _ in 0..commits {
                    assert!(
                        ledger
                            .commit(&batch)
                            .iter()
                            .all(|o| *o == Outcome::Recorded)
                    );
                }
                let per = t.elapsed() / commits as u32;
                println!(
                    "batch of {size:2}, round {round}, {strategy:?}: {:.3} ms per commit, {:.0} sales/s",
                    per.as_secs_f64() * 1e3,
                    size as f64 / per.as_secs_f64()
                );
            }
        }
    }
}

/// Two counters committing batches of the same two items at once, with the WAL flushed
/// at each commit: their transactions hold the item rows until the flush is done, so
/// they take turns. Run with
/// `cargo test --test pg_ledger -- --ignored --nocapture measure_two`.
#[test]
#[ignore]
fn measure_two_counters_on_the_same_items() {
    let Some(pg) = pg::start() else { return };
    for size in [1, 32] {
        let commits = if size == 1 { 200 } else { 60 };
        let barrier = Arc::new(Barrier::new(2));
        let start = Instant::now();
        let counters: Vec<_> = ["一号柜台", "二号柜台"]
            .into_iter()
            .map(|name| {
                let mut ledger = PgLedger::connect(&pg.url(), name).expect("connect");
                ledger
                    .set_stock(&[item("瓜子", 450, None), item("西瓜", 200, None)])
                    .unwrap();
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    let batch: Vec<_> = (0..size)
                        .map(|i| sale(if i % 2 == 0 { "瓜子" } else { "西瓜" }, i))
                        .collect();
                    barrier.wait();
                    for _ in 0..commits {
                        assert!(
                            ledger
                                .commit(&batch)
                                .iter()
                                .all(|o| *o == Outcome::Recorded)
                        );
                    }
                })
            })
            .collect();
        for c in counters {
            c.join().unwrap();
        }
        let took = start.elapsed().as_secs_f64();
        println!(
            "two counters, batches of {size}: {:.0} sales/s in all, {:.2} ms per commit per counter",
            (2 * commits * size) as f64 / took,
            took * 1e3 / commits as f64
        );
    }
}

/// A server that accepts connections but never answers (frozen): the start gives up
/// after the open timeout with one line, and a second attempt while the first still
/// waits fails at once. Needs no PostgreSQL.
#[test]
fn a_server_that_never_answers_is_given_up_on() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let holder = thread::spawn(move || {
        // Accepts the first connection and holds it, silent, until told to stop.
        let held = listener.accept();
        let _ = stop_rx.recv();
        drop(held);
    });
    let url = format!("postgres://shop:Mima-456@127.0.0.1:{port}/shop");
    let started = Instant::now();
    let text = PgLedger::connect(&url, "一号柜台")
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        text,
        format!(
            "ledger 127.0.0.1:{port}/shop: cannot connect: no answer within {} s \
             (the server accepts connections but does not answer)",
            snack_shop::postgres::OPEN_TIMEOUT.as_secs()
        )
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    let text = PgLedger::connect(&url, "一号柜台")
        .err()
        .unwrap()
        .to_string();
    assert!(
        text.ends_with("the database has not answered an earlier attempt yet"),
        "{text}"
    );
    stop_tx.send(()).unwrap();
    holder.join().unwrap();
    // Once the silent connection is closed, the abandoned attempt ends, and a new one
    // is refused by the closed port, not by the earlier attempt.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = PgLedger::connect(&url, "一号柜台")
            .err()
            .unwrap()
            .to_string();
        if !text.contains("earlier attempt") {
            assert!(!text.contains("Mima-456"), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// A TCP proxy in front of the database that can cut one connection: either just
/// after the server has answered (the answer is dropped: the commit is done, but the
/// counter never hears of it), or just before the counter's next message reaches the
/// server (nothing is done).
///
/// Only the commit's own messages are cut: its answer carries the command tag
/// `INSERT`, its request the counter's name (a parameter). The client also sends and
/// gets messages of its own accord (closing a statement it dropped, answered
/// asynchronously), and cutting one of those instead made this test flaky under load.
struct CutProxy {
    port: u16,
    cut_answer: Arc<AtomicBool>,
    cut_request: Arc<AtomicBool>,
}

fn cut_proxy(target: u16) -> CutProxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let cut_answer = Arc::new(AtomicBool::new(false));
    let cut_request = Arc::new(AtomicBool::new(false));
    let (answer, request) = (Arc::clone(&cut_answer), Arc::clone(&cut_request));
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let pipe =
                |from: TcpStream, to: TcpStream, cut: Arc<AtomicBool>, mark: &'static [u8]| {
                    thread::spawn(move || {
                        let (mut from, mut to) = (from, to);
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            let ours = buf[..n].windows(mark.len()).any(|w| w == mark);
                            if n == 0 || (ours && cut.swap(false, Ordering::SeqCst)) {
                                break;
                            }
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = from.shutdown(Shutdown::Both);
                        let _ = to.shutdown(Shutdown::Both);
                    })
                };
            pipe(
                client.try_clone().unwrap(),
                server.try_clone().unwrap(),
                Arc::clone(&request),
                "一号柜台".as_bytes(),
            );
            pipe(server, client, Arc::clone(&answer), b"INSERT");
        }
    });
    CutProxy {
        port,
        cut_answer,
        cut_request,
    }
}

/// The connection lost in the middle of a commit: the batch is looked up on a new
/// connection, so customers whose sale was committed hear `Recorded`, and those whose
/// sale never reached the database hear `Failed`, with nothing taken.
///
/// The lookup is bounded (the reconnect by `OPEN_TIMEOUT`, the old session's end by
/// `SETTLE_TIMEOUT`). On a loaded machine it may miss those bounds: then the customers
/// of a committed batch hear `Failed` at once, and the lookup must be done at the next
/// reconnect, logged as recorded after all. Either way is correct; what must never
/// happen is `Recorded` for a batch that is not in the database, or a committed batch
/// that is neither answered `Recorded` nor logged. (The test failed once under load
/// when it demanded the first way only.)
#[test]
fn a_commit_cut_off_with_the_connection_is_looked_up() {
    let Some(pg) = pg::start() else { return };
    capture_logs();
    let proxy = cut_proxy(pg.port());
    let url = format!("postgres://{}@127.0.0.1:{}/postgres", pg::USER, proxy.port);
    let mut link = Link::open(&url, "一号柜台").expect("connect");
    link.with(|l| l.set_stock(&[item("瓜子", 450, Some(10))]))
        .expect("set stock");
    let mut told_failed_but_recorded = 0;
    for (cut, size, committed) in [
        (&proxy.cut_answer, 2, true),
        (&proxy.cut_answer, 1, true),
        (&proxy.cut_request, 3, false),
    ] {
        let before = count(&pg, "SELECT count(*) FROM sales");
        let batch: Vec<_> = (0..size)
            .map(|i| sale("瓜子", before as usize * 10 + i))
            .collect();
        cut.store(true, Ordering::SeqCst);
        let got = link.commit(&batch);
        let added = count(&pg, "SELECT count(*) FROM sales") - before;
        assert_eq!(added, if committed { size as u64 } else { 0 });
        if committed && got != vec![Outcome::Recorded; size] {
            assert_eq!(got, vec![Outcome::Failed; size], "all or none");
            told_failed_but_recorded += size;
        } else if !committed {
            assert_eq!(got, vec![Outcome::Failed; size]);
        }
    }
    assert_eq!(count(&pg, "SELECT sold FROM items"), 3);
    // The next reconnect settles whatever was left in doubt (at once when all went
    // well; after the backoff otherwise).
    let deadline = Instant::now() + Duration::from_secs(120);
    while link.commit(&[sale("瓜子", 99)]) != [Outcome::Recorded] {
        assert!(Instant::now() < deadline, "the database never came back");
        thread::sleep(Duration::from_millis(200));
    }
    let logged: usize = lines_about(proxy.port)
        .iter()
        .filter(|l| l.contains("recorded after all"))
        .filter_map(|l| {
            let (n, _) = l.split_once(" of ")?;
            n.rsplit(' ').next()?.parse::<usize>().ok()
        })
        .sum();
    assert_eq!(
        logged, told_failed_but_recorded,
        "every committed sale told Failed is logged as recorded after all"
    );
}
