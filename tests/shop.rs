//! The shop's rules as customers see them through the real `shop-server`: running
//! totals, sold-out replies that name the item, the greeting, and where the catalog
//! comes from.

mod support;

use std::process::Command;

use snack_shop::codec::Charset;
use support::{Customer, GREETING, ShopServer, temp_dir};

const TWO_MELONS: &str = "[[goods]]\nname = \"瓜子\"\nprice = 4.5\n\n\
                          [[goods]]\nname = \"西瓜\"\nprice = 2\nstock = 2\n";

#[test]
fn running_totals_are_per_customer() {
    let server = ShopServer::start(&[]);
    let mut a = server.customer();
    let mut b = server.customer();
    assert_eq!(a.ask("西瓜"), "购买成功,余额 -2");
    assert_eq!(b.ask("瓜子"), "购买成功,余额 -4.5");
    assert_eq!(a.ask("瓜子"), "购买成功,余额 -6.5");
    assert_eq!(b.ask("矿泉水"), "购买成功,余额 -7");
}

#[test]
fn sold_out_names_the_item_and_the_greeting_drops_it() {
    let server = ShopServer::with_goods(TWO_MELONS, &[]);
    let mut a = Customer::connect(server.addr);
    assert_eq!(
        a.read_line(),
        "目前商店还有:瓜子(4.5),西瓜(2)。请问您需要什么?"
    );
    assert_eq!(a.ask("西瓜"), "购买成功,余额 -2");
    assert_eq!(a.ask("西瓜"), "购买成功,余额 -4");
    assert_eq!(a.ask("西瓜"), "抱歉,西瓜已经卖完了,请选购其他的。");
    assert_eq!(
        a.ask("瓜子"),
        "购买成功,余额 -8.5",
        "a failed purchase costs nothing"
    );
    let mut b = Customer::connect(server.addr);
    assert_eq!(b.read_line(), "目前商店还有:瓜子(4.5)。请问您需要什么?");
    assert_eq!(b.ask("菜单"), "菜单:瓜子 4.5元 不限量,西瓜 2元 已卖完");
}

#[test]
fn catalog_lookup_order() {
    let dir = temp_dir();
    // No --goods and no ./goods.toml: the embedded catalog.
    let server = ShopServer::start_in(&dir, &[], &[]);
    let mut c = Customer::connect(server.addr);
    assert_eq!(c.read_line(), GREETING);
    drop(server);

    // ./goods.toml in the working directory wins over the embedded one.
    std::fs::write(
        dir.join("goods.toml"),
        "[[goods]]\nname = \"辣条\"\nprice = 0.5\n",
    )
    .unwrap();
    let server = ShopServer::start_in(&dir, &[], &[]);
    let mut c = Customer::connect(server.addr);
    assert_eq!(c.read_line(), "目前商店还有:辣条(0.5)。请问您需要什么?");
    drop(server);

    // --goods wins over both, and SHOP_GOODS works like --goods.
    let other = dir.join("other.toml");
    std::fs::write(&other, "[[goods]]\nname = \"可乐\"\nprice = 3\n").unwrap();
    let other = other.to_str().unwrap();
    for (args, env) in [
        (vec!["--goods", other], vec![]),
        (vec![], vec![("SHOP_GOODS", other)]),
    ] {
        let server = ShopServer::start_in(&dir, &args, &env);
        let mut c = Customer::connect(server.addr);
        assert_eq!(c.read_line(), "目前商店还有:可乐(3)。请问您需要什么?");
    }
}

#[test]
fn environment_fallbacks() {
    let server = ShopServer::start_in(&temp_dir(), &[], &[("SHOP_ENCODING", "utf-8")]);
    let mut c = Customer::connect(server.addr);
    c.charset = Charset::Utf8;
    assert_eq!(c.read_line(), GREETING);
}

#[test]
fn help_describes_every_option() {
    let out = Command::new(env!("CARGO_BIN_EXE_shop-server"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for option in [
        "--host",
        "0.0.0.0",
        "--port",
        "--goods",
        "--encoding",
        "--max-clients",
        "--idle-timeout",
        "--thread-cache",
        "SHOP_PORT",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}
