//! The block `shop-server --banner` prints for the classroom: the addresses to give
//! students, in big lines a teacher can read out or project, and the debug assistant's
//! settings. The log line "students connect to" says the same for a log; this is for
//! people, so it is Chinese first and set apart from the log.

use crate::live::Reachable;
use crate::wire::WireEncoding;

/// The banner's frame line. Every line of the banner fits the 80 columns of a
/// Windows console window (a Chinese character takes two), so none wraps.
const RULE: &str = "==============================================================";

/// The banner for a shop reachable at `addresses` and speaking `wire`.
pub fn students(addresses: &[Reachable], wire: WireEncoding) -> String {
    let mut out = format!("\n{RULE}\n  请告诉学生 · Tell the students:\n\n");
    for r in addresses {
        let ip = r.addr.ip();
        let port = r.addr.port();
        out.push_str(&format!("      IP: {ip:<18}  端口 port: {port}\n"));
    }
    let (zh, en) = match wire {
        WireEncoding::Gbk => ("GBK", "GBK"),
        WireEncoding::Utf8 => ("UTF-8", "UTF-8"),
        WireEncoding::Auto => ("GBK 或 UTF-8", "GBK or UTF-8"),
    };
    out.push_str(&format!(
        "\n  网络调试助手:TCP Client,填上面的 IP 和端口,编码 {zh},不用加换行。\n  \
         Debug assistant: TCP Client, the IP and port above,\n  \
         encoding {en}, no newline needed.\n{RULE}\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_address_with_its_port_and_the_settings() {
        let addresses = [
            Reachable {
                addr: "192.168.1.23:9999".parse().unwrap(),
                interface: "WLAN".into(),
            },
            Reachable {
                addr: "10.0.0.5:9999".parse().unwrap(),
                interface: String::new(),
            },
        ];
        let text = students(&addresses, WireEncoding::Gbk);
        assert!(text.contains("IP: 192.168.1.23 "), "{text}");
        assert!(text.contains("IP: 10.0.0.5 "), "{text}");
        assert_eq!(text.matches("端口 port: 9999").count(), 2, "{text}");
        assert!(text.contains("编码 GBK"), "{text}");
        let auto = students(&addresses, WireEncoding::Auto);
        for line in text.lines().chain(auto.lines()) {
            let columns: usize = line.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
            assert!(columns <= 80, "{columns} columns: {line}");
        }
        assert!(auto.contains("GBK 或 UTF-8"), "{auto}");
    }
}
