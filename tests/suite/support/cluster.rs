//! A PostgreSQL cluster of a test's own, for what the shared test server must not be put
//! through: transaction ids moved across the 32-bit epoch with `pg_resetwal`, a server
//! stopped and started under the test's control, a postmaster killed with SIGKILL and
//! restarted into crash recovery.
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
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Transactions one `pg_xact` page records (8 KiB, two bits each) and one segment file holds.
const XACTS_PER_PAGE: u64 = 8192 * 4;
const PAGES_PER_SEGMENT: u64 = 32;

pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    /// The last postmaster [`Cluster::kill`] killed, and its children.
    orphans: Mutex<Vec<u32>>,
}

/// What survives a crash: the default trades it for speed, which tests that never crash
/// the server can afford.
const FAST: &str = "fsync = off\nsynchronous_commit = off\nfull_page_writes = off";
/// PostgreSQL's own defaults, spelled out: a commit is acknowledged only once its WAL is
/// flushed, so a crashed server's recovery brings back every acknowledged transaction.
const DURABLE: &str = "fsync = on\nsynchronous_commit = on\nfull_page_writes = on";

/// How long a killed postmaster's orphaned children get to notice and exit by themselves.
const ORPHANS_EXIT: Duration = Duration::from_secs(10);

impl Cluster {
    /// Creates (but does not start) a new cluster named for the test, with durability off.
    pub fn create(name: &str) -> Self {
        Self::create_with(name, FAST)
    }

    /// Creates (but does not start) a new cluster with `fsync`, `synchronous_commit` and
    /// `full_page_writes` on, for tests that crash it.
    pub fn create_durable(name: &str) -> Self {
        Self::create_with(name, DURABLE)
    }

    fn create_with(name: &str, durability: &str) -> Self {
        let bin = server_bin();
        let as_postgres = run_plain(Command::new("id").arg("-u")).stdout.trim_ascii() == b"0";
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos();
        let dir = std::env::temp_dir().join(format!("caseledger-{name}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).expect("create the cluster's directory");
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let cluster = Self { dir, bin, port, as_postgres, orphans: Mutex::new(Vec::new()) };
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
             unix_socket_directories = '{}'\n{durability}",
            cluster.port,
            cluster.dir.display()
        )
        .expect("write postgresql.conf");
        cluster
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it accepts connections; a server that does not
    /// start fails the test with the end of its log (the directory goes when dropped).
    pub fn start(&self) {
        let log = self.dir.join("server.log");
        let mut pg_ctl = self.server("pg_ctl");
        pg_ctl.arg("-D").arg(self.data()).arg("-l").arg(&log).args(["-w", "-t", "60", "start"]);
        let output = pg_ctl.output().unwrap_or_else(|e| panic!("cannot run {pg_ctl:?}: {e}"));
        if !output.status.success() {
            let text = fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
            panic!("{pg_ctl:?} failed ({}); the end of server.log:\n{}", output.status, tail.join("\n"));
        }
    }

    pub fn stop(&self) {
        run_plain(self.server("pg_ctl").arg("-D").arg(self.data()).args(["-m", "fast", "-w", "stop"]));
    }

    /// Kills the postmaster with SIGKILL, as a crash would: no shutdown checkpoint, so the
    /// next [`Cluster::start_after_crash`] runs crash recovery from the WAL. With
    /// `backends_too`, every child process (backends in the middle of a statement or a
    /// commit, the WAL writer, the checkpointer) is killed at the same moment; without, they
    /// are left to notice the postmaster's death and exit on their own, as PostgreSQL's
    /// children do, finishing what they were in the middle of. Returns how many children
    /// the postmaster had.
    pub fn kill(&self, backends_too: bool) -> usize {
        let pid = self.postmaster_pid();
        // Stopped, the postmaster forks no new backend and its children keep it as their
        // parent while they are listed (a dead parent's children move to init at once).
        signal("STOP", &[pid]);
        let children = children_of(pid);
        let mut doomed = vec![pid];
        if backends_too {
            doomed.extend(&children);
        }
        signal("KILL", &doomed);
        let n = children.len();
        doomed.truncate(1);
        doomed.extend(children);
        *self.orphans.lock().expect("orphans") = doomed;
        n
    }

    /// Starts the cluster after [`Cluster::kill`]: waits for the old children to be gone
    /// (PostgreSQL refuses to start while a process still holds the old shared memory),
    /// killing those that outstay [`ORPHANS_EXIT`], then starts it, which recovers.
    pub fn start_after_crash(&self) {
        let orphans = std::mem::take(&mut *self.orphans.lock().expect("orphans"));
        let deadline = Instant::now() + ORPHANS_EXIT;
        while orphans.iter().any(|&pid| alive(pid)) {
            if Instant::now() > deadline {
                let stuck: Vec<u32> = orphans.iter().copied().filter(|&pid| alive(pid)).collect();
                signal("KILL", &stuck);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // The old postmaster is dead, but while nobody has reaped it, it still answers
        // `kill -0`, which the new one would take for a running server holding the data
        // directory's and the socket's lock files. Dead, it holds nothing: they can go.
        let _ = fs::remove_file(self.data().join("postmaster.pid"));
        let _ = fs::remove_file(self.dir.join(format!(".s.PGSQL.{}.lock", self.port)));
        self.start();
    }

    fn postmaster_pid(&self) -> u32 {
        let lock = fs::read_to_string(self.data().join("postmaster.pid")).expect("postmaster.pid: is the server up?");
        lock.lines().next().and_then(|line| line.trim().parse().ok()).expect("postmaster.pid starts with the pid")
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

/// Sends `SIGname` to `pids` (root may signal the `postgres` user's processes).
fn signal(name: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    // A process that exited meanwhile makes `kill` fail for that pid only: not an error.
    let _ = Command::new("kill").arg(format!("-{name}")).args(&pids).output();
}

/// The pids whose parent is `parent`, read from `/proc`.
fn children_of(parent: u32) -> Vec<u32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let (state, ppid) = stat(pid)?;
            (ppid == parent && state != 'Z').then_some(pid)
        })
        .collect()
}

/// Whether `pid` runs (a zombie holds no shared memory any more).
fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, _)| state != 'Z')
}

/// State and parent of `pid` from `/proc/PID/stat` (the command name before them is in
/// parentheses and may itself hold spaces and parentheses: read after the last `)`).
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, tail) = text.rsplit_once(')')?;
    let mut fields = tail.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
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
