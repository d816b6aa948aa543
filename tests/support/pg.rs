//! A throwaway PostgreSQL server for the tests: Debian's postgresql-15 (or whichever
//! PostgreSQL is installed under /usr/lib/postgresql), in a fresh temporary data folder,
//! on a random free 127.0.0.1 port and a Unix socket in that folder, stopped and
//! removed when dropped, even when the test fails.
//!
//! `initdb` refuses to run as root, so when the tests run as root every PostgreSQL
//! program runs as the `postgres` user (`runuser`), in a folder that user owns.
//!
//! Without PostgreSQL, [`start`] prints one line saying the PostgreSQL tests were
//! skipped and how to run them, and returns `None`, so `cargo test` still passes. With
//! `CI=true` it never skips: it fails with a clear message. PostgreSQL that is installed
//! but does not start always fails the test.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The database superuser the tests connect as.
pub const USER: &str = "shop";

/// How long `pg_ctl` waits for the server to start or stop. Generous: a shared CI
/// machine compiling at the same time is slow.
const PG_CTL_WAIT_SECS: &str = "60";

/// A PostgreSQL server in its own temporary folder. Stopped (`-m immediate`) and its
/// folder removed when dropped.
pub struct Pg {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// Set for a server that asks for a password (scram-sha-256).
    password: Option<String>,
    as_postgres: bool,
    running: bool,
}

/// Starts a server that trusts every local connection (no password).
pub fn start() -> Option<Pg> {
    Pg::start(None)
}

/// Starts a server where `USER` must give `password` (scram-sha-256).
pub fn start_with_password(password: &str) -> Option<Pg> {
    Pg::start(Some(password))
}

impl Pg {
    fn start(password: Option<&str>) -> Option<Pg> {
        if cfg!(windows) {
            // Under Wine the Linux server's files are visible, but not runnable.
            return skipped("a Windows build cannot run Debian's PostgreSQL");
        }
        let Some(bin) = find_bin() else {
            let why = match std::env::var("PG_BIN") {
                Ok(dir) => format!("PG_BIN={dir} holds no initdb and pg_ctl"),
                Err(_) => "PostgreSQL (initdb, pg_ctl) is not installed".into(),
            };
            return skipped(&why);
        };
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("snack-shop-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the PostgreSQL temp folder");
        let as_postgres = is_root();
        let mut pg = Pg {
            bin,
            dir,
            port: 0,
            password: password.map(str::to_string),
            as_postgres,
            running: false,
        };
        if as_postgres {
            let status = Command::new("chown")
                .args(["postgres:", pg.dir.to_str().expect("utf-8 temp dir")])
                .status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "cannot give {} to the postgres user (chown); PostgreSQL's initdb refuses to run as root",
                pg.dir.display()
            );
        }
        pg.initdb();
        pg.start_server();
        Some(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A PostgreSQL program as a command, as the `postgres` user when we are root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        };
        // The postgres user may not enter the folder the tests run from.
        cmd.current_dir(&self.dir);
        cmd.env_remove("PGPASSWORD").env("LC_ALL", "C");
        cmd
    }

    fn initdb(&self) {
        let mut cmd = self.command("initdb");
        cmd.arg("-D")
            .arg(self.data())
            .args(["-U", USER, "-E", "UTF8", "--no-sync"]);
        match &self.password {
            Some(password) => {
                let file = self.dir.join("pwfile");
                std::fs::write(&file, password).expect("write the password file");
                if self.as_postgres {
                    let _ = Command::new("chown")
                        .args(["postgres:", file.to_str().expect("utf-8")])
                        .status();
                }
                cmd.arg("--auth=scram-sha-256").arg("--pwfile").arg(&file);
            }
            None => {
                cmd.arg("--auth=trust");
            }
        }
        check(cmd.output(), "initdb");
    }

    fn start_server(&mut self) {
        // A free port now; another program could take it before the server binds it,
        // so a failed start retries with another.
        let mut last = String::new();
        for _ in 0..3 {
            self.port = free_port();
            let out = self.pg_ctl_start();
            match out {
                Ok(o) if o.status.success() => {
                    self.running = true;
                    return;
                }
                Ok(o) => last = String::from_utf8_lossy(&o.stderr).into_owned(),
                Err(e) => last = e.to_string(),
            }
        }
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        panic!("PostgreSQL did not start: {last}\nserver log:\n{log}");
    }

    /// The server's 127.0.0.1 port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://shop@127.0.0.1:PORT/postgres`: no password in it.
    pub fn url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/postgres", self.port)
    }

    /// The same server with a password in the URL.
    pub fn url_with_password(&self, password: &str) -> String {
        format!(
            "postgresql://{USER}:{password}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// The key=value form, through the Unix socket in the temporary folder.
    pub fn key_value(&self) -> String {
        format!(
            "host={} port={} user={USER} dbname=postgres",
            self.dir.display(),
            self.port
        )
    }

    /// Runs SQL with psql and returns its output (unaligned, tuples only). Panics
    /// with psql's message if it fails.
    pub fn psql(&self, sql: &str) -> String {
        let mut cmd = Command::new(self.bin.join("psql"));
        cmd.args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.key_value())
            .args(["-c", sql]);
        if let Some(password) = &self.password {
            cmd.env("PGPASSWORD", password);
        }
        String::from_utf8_lossy(&check(cmd.output(), "psql").stdout).into_owned()
    }

    /// The psql program of this PostgreSQL.
    pub fn psql_command(&self) -> PathBuf {
        self.bin.join("psql")
    }

    /// Stops the server (fast shutdown: connections are cut), keeping its data.
    pub fn stop(&mut self) {
        self.pg_ctl_stop("fast");
    }

    /// Starts the stopped server again on the same data folder and port.
    pub fn start_again(&mut self) {
        check(self.pg_ctl_start(), "pg_ctl start (again)");
        self.running = true;
    }

    fn pg_ctl_start(&self) -> std::io::Result<Output> {
        let options = format!(
            "-p {} -h 127.0.0.1 -k {} -c max_connections=30 -c shared_buffers=16MB",
            self.port,
            self.dir.display()
        );
        self.command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", PG_CTL_WAIT_SECS, "-o", &options, "start"])
            .output()
    }

    fn pg_ctl_stop(&mut self, mode: &str) {
        if !self.running {
            return;
        }
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-t", PG_CTL_WAIT_SECS, "-m", mode, "stop"])
            .output();
        self.running = false;
        check(out, "pg_ctl stop");
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if self.running {
            let _ = self
                .command("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .args(["-w", "-m", "immediate", "stop"])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where `initdb` and `pg_ctl` are: `$PG_BIN`, the newest /usr/lib/postgresql/N/bin
/// (Debian keeps them off PATH), or PATH.
fn find_bin() -> Option<PathBuf> {
    let has = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("PG_BIN").map(PathBuf::from) {
        return has(&dir).then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, bin)| has(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|dir| has(dir))
}

/// Outside CI: one line on stderr (once per test binary, past the test harness's
/// capture) and `None`. In CI: a failure.
fn skipped(why: &str) -> Option<Pg> {
    let how = "to run them: apt-get install postgresql-15 (Debian), or set PG_BIN to PostgreSQL's bin folder";
    if std::env::var("CI").is_ok_and(|v| v == "true") && cfg!(unix) {
        panic!("PostgreSQL tests cannot run in CI: {why}; {how}");
    }
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if first_binary_of_this_run() {
            let _ = writeln!(std::io::stderr(), "PostgreSQL tests skipped: {why}; {how}");
        }
    });
    None
}

/// True for the first test binary of one `cargo test` that asks: several binaries use
/// PostgreSQL, and `cargo test` should say it skipped them once, not once each. The
/// binaries of one run share their parent (cargo), so a marker file named after it
/// tells; without a parent id every binary says it.
fn first_binary_of_this_run() -> bool {
    #[cfg(unix)]
    {
        let marker = std::env::temp_dir().join(format!(
            "snack-shop-pg-skipped-{}",
            std::os::unix::process::parent_id()
        ));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(marker)
            .is_ok()
    }
    #[cfg(not(unix))]
    {
        true
    }
}

#[cfg(unix)]
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(not(unix))]
fn is_root() -> bool {
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0 to find a free port")
        .port()
}

/// The output of a command that must succeed; panics with its stderr otherwise.
fn check(out: std::io::Result<Output>, what: &str) -> Output {
    match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => panic!(
            "{what} failed ({}): {}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("{what} could not run: {e}"),
    }
}
