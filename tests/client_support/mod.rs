//! Helpers for the shop-client tests: run the real `shop-client` binary with piped
//! stdin and stdout, and look at it from outside.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub const CLIENT: &str = env!("CARGO_BIN_EXE_shop-client");

/// Runs shop-client with `args`, feeds it `stdin`, and waits (at most a minute).
pub fn client(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = spawn(args);
    let mut input = child.stdin.take().expect("stdin piped");
    let stdin = stdin.to_vec();
    // A separate thread, so a client that stops reading stdin cannot block the test.
    thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    wait_output(child, Duration::from_secs(60))
}

/// Starts shop-client with all three standard streams piped.
pub fn spawn(args: &[&str]) -> Child {
    Command::new(CLIENT)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start shop-client")
}

/// Waits for `child` to exit, collecting its output; kills it after `within`.
pub fn wait_output(mut child: Child, within: Duration) -> Output {
    let mut stdout = child.stdout.take().expect("stdout piped");
    let mut stderr = child.stderr.take().expect("stderr piped");
    let out = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let status = wait(&mut child, within).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("shop-client did not exit within {within:?}");
    });
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Waits up to `within` for `child` to exit.
pub fn wait(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Standard output as text (it must be UTF-8).
pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// CPU time (user + system) of a running process, from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here (0-based 11, 12).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Linux reports in USER_HZ, which is 100 on every architecture it runs on.
    Duration::from_millis(ticks * 10)
}
