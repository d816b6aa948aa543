//! 第 1 步 · 一位顾客:教程「零食销售系统」参考答案的逐行移植。它一次只服务一位顾客,
//! 把每次 `recv(1024)` 收到的字节当成一条消息,用 GBK 编码。第一位顾客离开后服务器就关门,
//! 排在后面的顾客一直等,最后什么也没收到。
//!
//! Step 1 · One customer: the tutorial's reference answer, ported line for line. It
//! serves one customer, takes each `recv(1024)` as one message and speaks GBK. When that
//! customer leaves the server closes; whoever connected meanwhile waited for nothing.
//!
//! 运行 · Run: `cargo run --example step1_one_customer -- --port 9999`
//! (`--host 0.0.0.0` 让别的电脑也能连 · lets other PCs connect). docs/学习路线.md

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};

use encoding_rs::GBK;

/// `goods = {'瓜子': 4.5, '西瓜': 2, '矿泉水': 2.5}`; prices as Python prints them.
pub const GOODS: [(&str, &str); 3] = [("瓜子", "4.5"), ("西瓜", "2"), ("矿泉水", "2.5")];

/// The greeting. (The tutorial's own says 瓜子(2.5), a slip: its goods say 4.5.)
pub const GREETING: &str = "目前商店还有:瓜子(4.5),西瓜(2),矿泉水(2.5)。请问您需要什么?";
pub const UNKNOWN: &str = "抱歉,您购买的商品目前没有,请选购其他的。";
pub const GOODBYE: &str = "欢迎下次光临";

/// `text.encode('gbk')`. Every text of these steps can be written in GBK.
pub fn gbk(text: &str) -> Vec<u8> {
    GBK.encode(text).0.into_owned()
}

/// The bytes as the debug assistant's hex view shows them: `CE F7 B9 CF`.
pub fn hex(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
    hex.join(" ")
}

/// `tcp_client, tcp_client_addr = tcp_server.accept()`, then one customer, then done.
pub fn serve_one(listener: &TcpListener) -> io::Result<()> {
    let (client, addr) = listener.accept()?;
    println!("顾客 {addr} 来了 · customer connected");
    serve_customer(client)
}

/// The reference answer's `while True` loop, for one connected customer.
pub fn serve_customer(mut client: TcpStream) -> io::Result<()> {
    client.write_all(&gbk(GREETING))?;
    let mut recv_data = [0u8; 1024];
    loop {
        // recv_data = tcp_client.recv(1024): whatever has arrived, taken as one message.
        let n = client.read(&mut recv_data)?;
        if n == 0 {
            // The customer hung up. (The Python does not check this: it answers b'' with
            // 抱歉 again and again until the send fails.)
            return Ok(());
        }
        // good = recv_data.decode('gbk'). Python raises on bytes that are not GBK;
        // encoding_rs puts U+FFFD in their place, silently (step 5 is about that).
        let good = GBK.decode_without_bom_handling(&recv_data[..n]).0;
        println!(
            "收到 {n} 字节 · got {n} bytes: {} = {good:?}",
            hex(&recv_data[..n])
        );
        if good == "拜拜" {
            client.write_all(&gbk(GOODBYE))?;
            return Ok(()); // break, then tcp_client.close() when `client` drops
        }
        let reply = match GOODS.iter().find(|(name, _)| *name == good) {
            Some((_, price)) => format!("购买成功,余额 -{price}"),
            None => UNKNOWN.to_string(),
        };
        client.write_all(&gbk(&reply))?;
    }
}

/// `--host H` (default 127.0.0.1) and `--port N` (default 9999) as `H:N`, and which of
/// the step's own switches (`flags`) were given. `--help` prints the usage and exits.
pub fn parse_args(usage: &str, flags: &[&str]) -> (String, Vec<String>) {
    let (mut host, mut port, mut given) = ("127.0.0.1".to_string(), 9999u16, Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = |v: Option<String>| v.unwrap_or_default();
        match arg.as_str() {
            "--host" => host = value(args.next()),
            "--port" => match value(args.next()).parse() {
                Ok(p) => port = p,
                Err(_) => fail("--port 要一个 0 到 65535 的数 · needs a number", usage),
            },
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0);
            }
            _ if flags.contains(&arg.as_str()) => given.push(arg),
            _ => fail(&format!("不认识的参数 · unknown argument: {arg}"), usage),
        }
    }
    (format!("{host}:{port}"), given)
}

/// Listens on `address`, or says in one line why not and exits.
pub fn listen(address: &str) -> TcpListener {
    match TcpListener::bind(address) {
        Ok(listener) => {
            println!("listening on {address}");
            listener
        }
        Err(e) => {
            eprintln!("无法监听 · cannot listen on {address}: {e}");
            std::process::exit(1)
        }
    }
}

fn fail(why: &str, usage: &str) -> ! {
    eprintln!("{why}\n{usage}");
    std::process::exit(2)
}

fn main() -> io::Result<()> {
    let usage = "用法 · usage: step1_one_customer [--host 127.0.0.1] [--port 9999]";
    let (address, _) = parse_args(usage, &[]);
    let tcp_server = listen(&address);
    serve_one(&tcp_server)
}
