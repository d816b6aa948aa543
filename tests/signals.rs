//! SIGHUP, against the real `shop-server`. It arrives when the teacher closes the
//! terminal or the SSH session; it used to kill the server at once, with no goodbye and
//! no summary. Now it is logged and the shop keeps serving; SIGTERM still closes it.

// Signals are how these tests stop or poke the server: Unix only.
#![cfg(unix)]

mod support;

use std::time::Duration;

use support::{ShopServer, assert_quiet_log, sales_summary};

#[test]
fn sighup_is_logged_and_the_shop_keeps_serving() {
    let mut server = ShopServer::start(&[]);
    let mut before = server.customer();
    assert_eq!(before.ask("西瓜"), "购买成功,余额 -2");

    for _ in 0..2 {
        server.send_signal("HUP");
        assert!(
            server.wait_for_log(
                "SIGHUP received: the shop keeps serving",
                Duration::from_secs(5)
            ),
            "{}",
            server.stderr()
        );
    }
    // Give a signal that would kill a moment to do so.
    std::thread::sleep(Duration::from_millis(200));
    assert!(server.is_running(), "SIGHUP ended the server");
    assert_eq!(
        server
            .stderr()
            .matches("SIGHUP received: the shop keeps serving")
            .count(),
        2
    );

    // The customer from before goes on, and a fresh one is served.
    assert_eq!(before.ask("瓜子"), "购买成功,余额 -6.5");
    let mut fresh = server.customer();
    assert_eq!(fresh.ask("矿泉水"), "购买成功,余额 -2.5");
    assert_eq!(fresh.ask("拜拜"), "欢迎下次光临");
    fresh.expect_closed();

    // SIGTERM still closes the shop, and the summary counts every purchase.
    server.send_signal("TERM");
    server.assert_exits_cleanly(Duration::from_secs(10), "SIGTERM after SIGHUP");
    let log = server.stderr();
    let (_, pieces, takings) = sales_summary(&log).expect("a sales summary");
    assert_eq!((pieces, takings.as_str()), (3, "9"));
    assert_quiet_log(&log, "SIGHUP");
}
