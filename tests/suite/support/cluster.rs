//! A PostgreSQL cluster of a test's own, for what the shared test server must not be put
//! through: transaction ids moved across the 32-bit epoch with `pg_resetwal`, a server
//! stopped and started under the test's control.
//!
//! It uses the server binaries `bash .ci/test` installs (Debian's `postgresql`), listens
//! on 127.0.0.1 on a free port, keeps its data in a directory of its own under the
//! system's temporary directory, and is stopped and removed when dropped. Run as root,
//! the server runs as the `postgres` OS user (initdb refuses root). A machine without
//! the binaries fails the test: nothing here passes by skipping.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

/// Transactions one `pg_xact` page records (8 KiB, two bits each) and one segment file holds.
const XACTS_PER_PAGE: u64 = 8192 * 4;
const PAGES_PER_SEGMENT: u64 = 32;

pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    /// Creates (but does not start) a new cluster named for the test.
    pub fn create(name: &str) -> Self {
        let bin = server_bin();
        let as_postgres = run_plain(Command::new("id").arg("-u")).stdout.trim_ascii() == b"0";
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos();
        let dir = std::env::temp_dir().join(format!("caseledger-{name}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).expect("create the cluster's directory");
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let cluster = Self { dir, bin, port, as_postgres };
        cluster.give_to_server(&cluster.dir);
        let data = cluster.data();
        run_plain(cluster.server("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]));
        let mut conf = OpenOptions::new().append(true).open(data.join("postgresql.conf")).expect("postgresql.conf");
        writeln!(
            conf,
            "\n# a test's own cluster (tests/suite/support/cluster.rs)\nlisten_addresses = '127.0.0.1'\nport = {}\n\
             unix_socket_directories = '{}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off",
            cluster.port,
            cluster.dir.display()
        )
        .expect("write postgresql.conf");
        cluster
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn start(&self) {
        run_plain(
            self.server("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .args(["-w", "-t", "60", "start"]),
        );
    }

    pub fn stop(&self) {
        run_plain(self.server("pg_ctl").arg("-D").arg(self.data()).args(["-m", "fast", "-w", "stop"]));
    }

    /// Sets the stopped cluster's next transaction id (the full 64-bit `xid8`: epoch and
    /// 32-bit id) with `pg_resetwal`, and writes the commit-log page that id needs, which
    /// `pg_resetwal` leaves to the operator. Only ever moves ids forward, and only after
    /// `VACUUM FREEZE` in every database the test uses: an unfrozen row would then look
    /// written by a transaction of the future.
    pub fn set_next_xid(&self, full: u64) {
        let (epoch, xid) = (full >> 32, full & 0xffff_ffff);
        assert!(xid >= 3, "ids 0 to 2 of each epoch are reserved");
        let segment = xid / (XACTS_PER_PAGE * PAGES_PER_SEGMENT);
        let page = (xid / XACTS_PER_PAGE) % PAGES_PER_SEGMENT;
        let clog = self.data().join("pg_xact").join(format!("{segment:04X}"));
        let want = (page + 1) * 8192;
        let file = OpenOptions::new().create(true).append(true).open(&clog).expect("open the pg_xact segment");
        let have = file.metadata().expect("pg_xact segment metadata").len();
        if have < want {
            // Zero pages: no transaction of those ids has a status yet.
            file.set_len(want).expect("extend the pg_xact segment");
        }
        drop(file);
        self.give_to_server(&clog);
        run_plain(
            self.server("pg_resetwal").args(["-e", &epoch.to_string(), "-x", &xid.to_string(), "-D"]).arg(self.data()),
        );
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn give_to_server(&self, path: &Path) {
        if self.as_postgres {
            run_plain(Command::new("chown").arg("postgres:").arg(path));
        }
    }

    /// A command running one of the server's binaries, as `postgres` when the test runs
    /// as root.
    fn server(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.server("pg_ctl").arg("-D").arg(self.data()).args(["-m", "immediate", "-w", "stop"]).output();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed server's binaries (Debian keeps them per major version).
fn server_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_resetwal").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!("no PostgreSQL server under /usr/lib/postgresql: run the tests with `bash .ci/test`, which installs it")
    })
}

fn run_plain(command: &mut Command) -> Output {
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
