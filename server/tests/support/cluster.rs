//! A private Postgres cluster on its own port, for tests that stop the
//! database or change how it listens (never the machine's shared server).
//! Needs the Postgres server binaries (`initdb`, `pg_ctl`) and, as root,
//! `runuser` to run them as `postgres`. Stopped and deleted on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::db::{postgres_required, unique_suffix};

/// A running private cluster.
pub struct Cluster {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

fn skip(test: &str, why: &str) -> Option<Cluster> {
    if postgres_required() {
        panic!("FLAGYARD_REQUIRE_POSTGRES=1 but a private cluster cannot be started ({why}): {test}");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED (no private Postgres cluster: {why}): {test}");
    None
}

/// The directory of `initdb` and `pg_ctl` (the newest installed version).
fn server_binaries() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> =
        std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten().map(|e| e.path()).collect();
    versions.sort();
    versions.into_iter().rev().map(|v| v.join("bin")).find(|b| b.join("initdb").exists())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs a Postgres binary (as `postgres` when we are root).
fn pg(bin: &Path, tool: &str, args: &[&str]) -> std::io::Result<std::process::Output> {
    let path = bin.join(tool);
    if is_root() {
        Command::new("runuser").arg("-u").arg("postgres").arg("--").arg(path).args(args).output()
    } else {
        Command::new(path).args(args).output()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Cluster {
    /// Initializes and starts a cluster with `settings` appended to its
    /// `postgresql.conf` and `hba` as its whole `pg_hba.conf` (trust for
    /// local TCP when `None`); `prepare` may write files into its directory
    /// first (e.g. TLS keys). `None` (said on stderr) when it cannot be
    /// started and Postgres is not required.
    pub fn start(test: &str, settings: &str, hba: Option<&str>, prepare: impl FnOnce(&Path)) -> Option<Cluster> {
        let Some(bin) = server_binaries() else { return skip(test, "no /usr/lib/postgresql/*/bin/initdb") };
        let dir = std::env::temp_dir().join(format!("flagyard_pg_{}", unique_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        let data = dir.join("data");
        if is_root() {
            let _ = Command::new("chown").arg("-R").arg("postgres:postgres").arg(&dir).status();
        }
        let data_s = data.to_str().unwrap();
        match pg(&bin, "initdb", &["-D", data_s, "-A", "trust", "-U", "postgres", "--no-sync"]) {
            Ok(o) if o.status.success() => {}
            Ok(o) => return skip(test, &format!("initdb failed: {}", String::from_utf8_lossy(&o.stderr))),
            Err(e) => return skip(test, &format!("initdb: {e}")),
        }
        let port = free_port();
        let conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\n{settings}\n",
            dir.display()
        );
        let mut existing = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        existing.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), existing).unwrap();
        let hba = hba.unwrap_or("local all all trust\nhost all all 127.0.0.1/32 trust\n");
        std::fs::write(data.join("pg_hba.conf"), hba).unwrap();
        prepare(&data);
        if is_root() {
            let _ = Command::new("chown").arg("-R").arg("postgres:postgres").arg(&dir).status();
        }
        let cluster = Cluster { port, dir, bin };
        if let Err(e) = cluster.pg_ctl("start") {
            return skip(test, &e);
        }
        Some(cluster)
    }

    fn pg_ctl(&self, what: &str) -> Result<(), String> {
        let data = self.dir.join("data");
        let log = self.dir.join("log");
        let args = ["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-w", "-t", "30", "-m", "fast", what];
        match pg(&self.bin, "pg_ctl", &args) {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(format!(
                "pg_ctl {what}: {}{}",
                String::from_utf8_lossy(&o.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            )),
            Err(e) => Err(format!("pg_ctl {what}: {e}")),
        }
    }

    /// Stops the server (fast shutdown: connections are cut).
    pub fn stop(&self) {
        self.pg_ctl("stop").expect("stop the private cluster");
    }

    /// Starts it again.
    pub fn restart(&self) {
        self.pg_ctl("start").expect("start the private cluster again");
    }

    /// A URL to database `postgres` on it, with `query` appended (e.g. `sslmode=require`).
    pub fn url(&self, query: &str) -> String {
        let q = if query.is_empty() { String::new() } else { format!("?{query}") };
        format!("postgres://postgres@127.0.0.1:{}/postgres{q}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl("stop");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
