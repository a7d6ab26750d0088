//! Serving the router over TCP with limits a slow or stalled client cannot get around:
//! a header-read timeout, an idle timeout and a bound on open connections.
//!
//! `axum::serve` has no header-read timeout, so a client trickling header bytes kept its
//! connection (and a file descriptor) forever. Here each connection is served by hyper's
//! HTTP/1 connection builder directly:
//!
//! - **Header-read timeout** ([`Limits::header_read`]): the whole request head (request
//!   line and headers) must arrive within it, or hyper closes the connection. hyper runs
//!   this timer whenever it waits for a request head, so it also ends a kept-alive
//!   connection that sends no next request.
//! - **Idle timeout** ([`Limits::idle`]): a connection on which no byte moves either way
//!   for this long is closed: a request body that stops arriving, a client that stops
//!   reading its response. The handlers answer in milliseconds; one that took longer
//!   than the idle timeout would be cut too (a keyed client retries it safely).
//! - **Connection bound** ([`Limits::max_connections`]): at the bound the server stops
//!   accepting; further connections wait in the kernel's listen backlog (they are neither
//!   answered nor refused) until an open one closes. The two timeouts bound how long a
//!   slow client holds its place, so a waiting client is served after at most about one
//!   header-read timeout, and the process never holds more descriptors than the bound.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

/// The server's limits on what a connection may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How long a client has to send a whole request head (`--header-read-timeout`).
    pub header_read: Duration,
    /// How long a connection may move no byte either way (`--idle-timeout`).
    pub idle: Duration,
    /// How many connections are open at most (`--max-connections`).
    pub max_connections: usize,
}

impl Default for Limits {
    /// 10 s to send a request head, 60 s of silence, 512 connections (well under the usual
    /// 1024 descriptors a process may open, leaving room for the store's files).
    fn default() -> Self {
        Self { header_read: Duration::from_secs(10), idle: Duration::from_secs(60), max_connections: 512 }
    }
}

/// When a connection last moved a byte, shared by its socket and its watchdog.
struct Activity {
    start: Instant,
    /// Milliseconds after `start` that a byte last moved.
    last: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self { start: Instant::now(), last: AtomicU64::new(0) }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    /// When the connection counts as idle if nothing happens before.
    fn idle_at(&self, idle: Duration) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed)) + idle
    }
}

/// A socket that records each byte read or written in its connection's [`Activity`].
struct Watched<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes; then stops
/// accepting, lets each open connection finish the request it is on, and returns once
/// all are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A slot first, then the connection: at the bound, nothing is accepted.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => slot.map_err(io::Error::other)?,
        };
        let (socket, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors, or the peer gave up before the accept: not the
                // listener's end. A short pause keeps a descriptor shortage from spinning.
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let router = router.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move {
            connection(socket, router, limits, stopped).await;
            tracing::debug!(%peer, "connection closed");
            drop(slot);
        });
    }
    drop(stop);
    // Every connection holds a slot until it closes.
    let _all = slots.acquire_many(u32::try_from(max).unwrap_or(u32::MAX)).await.map_err(io::Error::other)?;
    Ok(())
}

/// Serves one connection until the client closes it, a limit ends it, or the server
/// shuts down (then after the request in progress).
async fn connection(socket: tokio::net::TcpStream, router: Router, limits: Limits, mut stopped: watch::Receiver<bool>) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched { io: socket, activity: Arc::clone(&activity) });
    let service = TowerToHyperService::new(router);
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut stopping = false;
    loop {
        let idle_at = activity.idle_at(limits.idle);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    // A header-read timeout lands here too; the client is simply gone.
                    tracing::debug!(error = %err, "connection ended");
                }
                return;
            }
            () = tokio::time::sleep_until(idle_at) => {
                if activity.idle_at(limits.idle) <= Instant::now() {
                    tracing::debug!("idle connection closed");
                    return;
                }
            }
            changed = stopped.changed(), if !stopping => {
                // The sender is dropped when the server stops accepting.
                let _ = changed;
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
