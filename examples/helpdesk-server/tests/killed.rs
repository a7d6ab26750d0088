//! The real server binary killed under keyed load and restarted on the same directory.
//!
//! Four clients add notes with an `Idempotency-Key` each, retrying a request with the
//! same key until the server acknowledges it (200), over whichever server is up. Meanwhile
//! the server is SIGKILLed at random moments (seeded: the seed is printed, and
//! `CASELEDGER_KILL_SEED` replays one) and started again on its file store. At the end
//! the log must hold every acknowledged note exactly once, under its key, and no note
//! nobody asked for. It has no test harness (`harness = false`), so its counts are printed
//! in every run: `cargo test --all-features -p caseledger-helpdesk --test killed`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use caseledger::{EventKind, FileStore, Store};

const ANA: &str = "ana-token-000000000000001";
const CLIENTS: usize = 4;
const CASES: usize = 2;
const KILLS: u32 = 10;

/// splitmix64: the kill schedule from one printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.next() % (to - from))
    }
}

/// The server binary on `dir`, on a port of its own; returns once it listens.
fn start(dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_caseledger-helpdesk"))
        .arg("--data")
        .arg(dir)
        .arg("--config")
        .arg(dir.join("staff.json"))
        .args(["--listen", "127.0.0.1:0"])
        // The file store, whatever the shell running the tests points at.
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the server says where it listens").unwrap();
        if let Some(rest) = line.strip_prefix("Helpdesk at http://") {
            break rest.split('/').next().unwrap().parse().unwrap();
        }
    };
    // Drained so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

/// One POST with `Connection: close`: the status and body, or the I/O error of a server
/// that went away.
fn post(addr: SocketAddr, path: &str, key: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {ANA}\r\nIdempotency-Key: {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok());
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    match status {
        Some(status) => Ok((status, body)),
        None => Err(std::io::Error::other("no status line: the server was killed mid-answer")),
    }
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    acknowledged: AtomicU64,
    retried: AtomicU64,
}

/// Sends one keyed request until a server acknowledges it; `expect` is the success status.
fn until_acknowledged(
    addr: &RwLock<SocketAddr>,
    counts: &Counts,
    path: &str,
    key: &str,
    body: &str,
    expect: &[u16],
) -> String {
    let started = Instant::now();
    loop {
        counts.requests.fetch_add(1, Ordering::Relaxed);
        let at = *addr.read().unwrap();
        match post(at, path, key, body) {
            Ok((status, body)) if expect.contains(&status) => return body,
            // Refusals would be a bug: only a missing server is retried.
            Ok((status, body)) => panic!("{key}: {status} {body}"),
            Err(_) => {
                counts.retried.fetch_add(1, Ordering::Relaxed);
                assert!(started.elapsed() < Duration::from_secs(60), "{key} never acknowledged");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn main() {
    let name = "the_server_killed_under_keyed_load_and_restarted_loses_and_doubles_no_note";
    println!("test {name} ...");
    the_server_killed_under_keyed_load_and_restarted_loses_and_doubles_no_note();
    println!("test {name} ... ok");
}

fn the_server_killed_under_keyed_load_and_restarted_loses_and_doubles_no_note() {
    let seed = std::env::var("CASELEDGER_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs() ^ u64::from(d.subsec_nanos()) << 32)
    });
    println!("kill schedule seed {seed} (CASELEDGER_KILL_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    let dir: PathBuf = std::env::temp_dir().join(format!("caseledger-helpdesk-killed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let staff = serde_json::json!({"staff": [{"token": ANA, "id": "ana", "department": "software"}]});
    std::fs::write(dir.join("staff.json"), staff.to_string()).unwrap();

    let started = Instant::now();
    let (mut child, first) = start(&dir);
    let addr = Arc::new(RwLock::new(first));
    let counts = Arc::new(Counts::default());
    let cases: Vec<String> = (0..CASES)
        .map(|i| {
            let body = format!(r#"{{"customer": "cust-{i}", "outcome": "it works"}}"#);
            let reply = until_acknowledged(&addr, &counts, "/api/cases", &format!("case-{i}"), &body, &[200, 201]);
            let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
            reply["case"]["id"].as_str().unwrap().to_owned()
        })
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (addr, counts, stop) = (Arc::clone(&addr), Arc::clone(&counts), Arc::clone(&stop));
            let path = format!("/api/cases/{}/commands", cases[client % CASES]);
            std::thread::spawn(move || {
                let mut keys = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("c{client}-n{}", keys.len());
                    let body = format!(r#"{{"type": "add_note", "text": "note {key}", "visibility": "internal"}}"#);
                    until_acknowledged(&addr, &counts, &path, &key, &body, &[200]);
                    counts.acknowledged.fetch_add(1, Ordering::Relaxed);
                    keys.push(key);
                }
                keys
            })
        })
        .collect();

    for _ in 0..KILLS {
        std::thread::sleep(rng.millis(300, 1500));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        std::thread::sleep(rng.millis(0, 200));
        let (next, at) = start(&dir);
        child = next;
        *addr.write().unwrap() = at;
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let acknowledged: BTreeSet<String> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    child.kill().unwrap();
    child.wait().unwrap();

    // What is on disk, read by the library itself.
    let store = FileStore::open(dir.join("cases")).unwrap();
    assert!(store.quarantined().is_empty(), "a kill damaged a case: {:?}", store.quarantined());
    let mut stored: BTreeMap<String, u32> = BTreeMap::new();
    for case in &cases {
        for event in store.read(case.parse().unwrap()).unwrap() {
            if let EventKind::NoteAdded { text, .. } = &event.what {
                let key = event.key.as_ref().map(|k| k.as_str().to_owned()).expect("every note was keyed");
                assert_eq!(text, &format!("note {key}"), "the note stored under its own key");
                *stored.entry(key).or_default() += 1;
            }
        }
    }
    let counts = &*counts;
    println!(
        "kills {KILLS}, requests {}, acknowledged {}, retried {}, stored {} ({} set aside at the last open), in {:.1?}",
        counts.requests.load(Ordering::Relaxed),
        counts.acknowledged.load(Ordering::Relaxed),
        counts.retried.load(Ordering::Relaxed),
        stored.values().sum::<u32>(),
        store.set_aside().len(),
        started.elapsed(),
    );
    let doubled: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "notes stored twice: {doubled:?}");
    let lost: Vec<_> = acknowledged.iter().filter(|k| !stored.contains_key(*k)).collect();
    assert!(lost.is_empty(), "acknowledged notes not stored: {lost:?}");
    let unasked: Vec<_> = stored.keys().filter(|k| !acknowledged.contains(*k)).collect();
    assert!(unasked.is_empty(), "notes stored that no acknowledged request asked for: {unasked:?}");
    assert!(acknowledged.len() as u64 >= 20, "the clients were loading the server: {}", acknowledged.len());
    assert!(counts.retried.load(Ordering::Relaxed) > 0, "the kills hit requests in flight");
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
