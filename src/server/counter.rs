//! The counter's name (`--counter`), recorded with each of its sales so that a shop
//! with several counters on one ledger can tell their takings apart.

/// The default name: this machine's host name and the port, such as `pc-07:9999`, so
/// that two counters on one PC still differ.
pub fn default_name(port: u16) -> String {
    format!("{}:{port}", host_name())
}

/// The machine's name: the kernel's on Linux, `COMPUTERNAME` on Windows, `HOSTNAME`
/// elsewhere; `shop` if none can be read.
fn host_name() -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
    kernel
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "shop".to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_name_ends_with_the_port() {
        let name = super::default_name(9999);
        assert!(name.ends_with(":9999") && name.len() > 5, "{name}");
    }
}
