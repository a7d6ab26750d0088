//! The server's connection limits over real TCP on 127.0.0.1: a client trickling header
//! bytes, one stalling its body, and one more connection than the bound allows. Each
//! server runs with short limits so the tests take about a second each.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::json;

use caseledger_helpdesk as app;

/// A server on a fresh file store with `limits`, on a port of its own.
async fn server(name: &str, limits: app::Limits) -> (SocketAddr, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("caseledger-helpdesk-limits-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config: app::Config = serde_json::from_value(json!({
        "staff": [{"token": "ana-token-000000000000001", "id": "ana", "department": "software"}]
    }))
    .unwrap();
    let clock: app::Clock = std::sync::Arc::new(time::OffsetDateTime::now_utc);
    let shared = app::App::with_file_store(&config, &dir, clock).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app::serve(listener, app::router(shared), limits, std::future::pending()));
    (addr, dir)
}

/// Whether the server has closed `stream`: the read sees the end or a reset.
fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 512];
    match stream.read(&mut buf) {
        Ok(0) => true,
        // A response (hyper may answer 408 before closing); the end comes next.
        Ok(_) => closed(stream),
        Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(_) => true,
    }
}

/// One `GET /health` on a connection of its own: the status line.
fn health(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_header_bytes_is_disconnected_within_the_header_read_timeout() {
    let timeout = Duration::from_millis(500);
    let limits = app::Limits { header_read: timeout, idle: Duration::from_secs(30), ..app::Limits::default() };
    let (addr, dir) = server("slow-header", limits).await;
    let (elapsed, sent) = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let started = Instant::now();
        stream.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n").unwrap();
        // One header byte every 50 ms, never the blank line that ends the head: the idle
        // timeout (30 s) never fires, only the header-read one can end this.
        let mut sent = 0;
        while started.elapsed() < Duration::from_secs(10) {
            if stream.write_all(b"x").is_err() || closed(&mut stream) {
                break;
            }
            sent += 1;
        }
        (started.elapsed(), sent)
    })
    .await
    .unwrap();
    println!("slow header: {sent} bytes trickled, disconnected after {elapsed:?} (timeout {timeout:?})");
    assert!(sent >= 5, "the client was trickling ({sent} bytes)");
    assert!(elapsed >= timeout - Duration::from_millis(50), "not before the timeout: {elapsed:?}");
    assert!(elapsed < timeout + Duration::from_millis(1500), "disconnected within the timeout: {elapsed:?}");
    // The server goes on serving everyone else.
    let status = tokio::task::spawn_blocking(move || health(addr)).await.unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_stalls_its_body_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(400);
    let limits = app::Limits { header_read: Duration::from_secs(30), idle, ..app::Limits::default() };
    let (addr, dir) = server("stalled-body", limits).await;
    let elapsed = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        stream
            .write_all(
                b"POST /api/cases HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ana-token-000000000000001\r\n\
                  Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"cust",
            )
            .unwrap();
        let started = Instant::now();
        while !closed(&mut stream) {
            assert!(started.elapsed() < Duration::from_secs(10), "the stalled connection stays open");
        }
        started.elapsed()
    })
    .await
    .unwrap();
    println!("stalled body: closed after {elapsed:?} (idle timeout {idle:?})");
    assert!(elapsed >= idle - Duration::from_millis(100), "not before the idle timeout: {elapsed:?}");
    assert!(elapsed < idle + Duration::from_millis(1500), "closed within the idle timeout: {elapsed:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_bound_a_new_connection_waits_until_one_closes() {
    let timeout = Duration::from_millis(600);
    let limits = app::Limits { header_read: timeout, idle: Duration::from_secs(30), max_connections: 1 };
    let (addr, dir) = server("bound", limits).await;
    let (waited, status, first_closed) = tokio::task::spawn_blocking(move || {
        // The one slot, held by a client that sends nothing.
        let mut first = TcpStream::connect(addr).unwrap();
        first.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        let status = health(addr);
        let waited = started.elapsed();
        (waited, status, closed(&mut first))
    })
    .await
    .unwrap();
    println!("bound of 1: the second connection was answered after {waited:?} (header-read timeout {timeout:?})");
    assert!(first_closed, "the silent connection was closed by the header-read timeout");
    assert_eq!(status, "HTTP/1.1 200 OK", "the waiting connection is served, not refused");
    assert!(waited >= timeout - Duration::from_millis(200), "it waited for the slot: {waited:?}");
    assert!(waited < timeout + Duration::from_millis(2000), "and got it once the slot was free: {waited:?}");
    let _ = std::fs::remove_dir_all(dir);
}
