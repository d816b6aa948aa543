//! Many customers at once: the question the tutorial ends with.

mod support;

use support::{Customer, ShopServer, all_at_once};

#[test]
fn a_hundred_customers_connected_at_once_each_complete_a_session() {
    let server = ShopServer::start(&[]);
    // Everyone connects and is greeted before anyone buys: the server must be holding
    // 100 conversations at the same time, not serving them one after another.
    let mut customers: Vec<Customer> = (0..100).map(|_| server.customer()).collect();
    for (i, c) in customers.iter_mut().enumerate() {
        let item = ["瓜子", "矿泉水"][i % 2];
        c.send(item);
    }
    for (i, c) in customers.iter_mut().enumerate() {
        let want = ["购买成功,余额 -4.5", "购买成功,余额 -2.5"][i % 2];
        assert_eq!(c.read_line(), want, "customer {i}");
        assert_eq!(c.ask("拜拜"), "欢迎下次光临");
        c.expect_closed();
    }
}

#[test]
fn thirty_buyers_race_for_ten_watermelons() {
    let goods = "[[goods]]\nname = \"西瓜\"\nprice = 2\nstock = 10\n";
    let server = ShopServer::with_goods(goods, &[]);
    let addr = server.addr;
    let replies = all_at_once(30, move |_| {
        let mut c = Customer::connect(addr);
        c.read_line();
        c.ask("西瓜")
    });
    let sold = replies.iter().filter(|r| *r == "购买成功,余额 -2").count();
    let refused = replies
        .iter()
        .filter(|r| *r == "抱歉,西瓜已经卖完了,请选购其他的。")
        .count();
    assert_eq!((sold, refused), (10, 20), "{replies:?}");
    let mut late = server.customer();
    assert_eq!(late.ask("菜单"), "菜单:西瓜 2元 已卖完");
}
