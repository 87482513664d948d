//! Connections on the main listener: how many may be open, how long a
//! client may take to send a request or to take a response, and the hyper
//! loop that serves every connection the front door does not keep.
//!
//! Every deadline here exists because an anonymous client can otherwise
//! hold a connection, and so a file descriptor, for ever:
//! - **request head** ([`crate::config::Config::request_head_timeout`]):
//!   the whole head must arrive in time, on a new connection and again
//!   between requests on a kept-alive one (hyper's `header_read_timeout`
//!   covers both; it needs a timer, which `axum::serve` never sets, so this
//!   module drives hyper itself);
//! - **request body** ([`crate::config::Config::request_body_timeout`]):
//!   the whole body, checked in `api` before any handler runs;
//! - **writes** ([`crate::config::Config::stream_write_timeout`]): a socket
//!   that takes no bytes for that long is closed ([`WriteDeadline`]).
//!
//! The number of open connections is capped below the process's
//! file-descriptor limit ([`connection_budget`]), so the store, the health
//! port and log files still get descriptors when clients take every
//! connection they can; further clients wait in the listen backlog.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use bytes::{Buf as _, Bytes};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::metrics::Metrics;

/// Descriptors kept back from connections, as a share of the limit...
const RESERVE_SHARE: u64 = 10;
/// ...at most this many...
const MAX_RESERVE: u64 = 1024;
/// ...and never fewer than the health port's connections, the store's
/// pool (twice, for reconnects), and this many for the listeners, the
/// lock file, Redis, the runtime and log files.
const FIXED_RESERVE: u64 = 32;

/// The process's open-file limit (soft), when it can be read.
pub fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Raises the soft open-file limit to the hard one, as Go's runtime and
/// nginx's `worker_rlimit_nofile` do: every stream is a descriptor, and
/// Debian's default soft limit of 1,024 is far below what a server needs.
/// Returns the limit in force afterwards. For binaries only.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        if let (Some(soft), Some(hard)) = (limit.current, limit.maximum)
            && soft < hard
        {
            let raised = Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                return Some(hard);
            }
        }
        limit.current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// How many connections the main listener may hold open with `limit` file
/// descriptors and a store pool of `store_pool`: the limit less a reserve
/// for everything else.
pub fn connection_budget(limit: Option<u64>, store_pool: u32) -> usize {
    let Some(limit) = limit else {
        return Semaphore::MAX_PERMITS;
    };
    let needed = crate::health_port::CONNECTIONS as u64 + 2 * u64::from(store_pool) + FIXED_RESERVE;
    let reserve = (limit / RESERVE_SHARE).min(MAX_RESERVE).max(needed);
    usize::try_from(limit.saturating_sub(reserve))
        .unwrap_or(usize::MAX)
        .clamp(1, Semaphore::MAX_PERMITS)
}

/// The right to keep one connection open; given back when dropped.
pub struct ConnectionSlot {
    _permit: OwnedSemaphorePermit,
    /// Set once the connection is accepted and counted.
    metrics: Option<Arc<Metrics>>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Some(m) = &self.metrics {
            m.open_connections.dec();
        }
    }
}

/// Hands out [`ConnectionSlot`]s, at most a budget at once.
#[derive(Clone)]
pub struct ConnectionSlots {
    slots: Arc<Semaphore>,
    metrics: Option<Arc<Metrics>>,
}

impl ConnectionSlots {
    /// `metrics.open_connections`, when given, counts the slots taken.
    pub fn new(budget: usize, metrics: Option<Arc<Metrics>>) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(budget)),
            metrics,
        }
    }

    /// The next connection on `listener`, once a slot is free (at the
    /// budget, new clients wait in the listen backlog); `None` once `stop`
    /// fires. Failed accepts (out of descriptors, say) pause briefly.
    pub async fn accept(
        &self,
        listener: &TcpListener,
        stop: &CancellationToken,
    ) -> Option<(TcpStream, SocketAddr, ConnectionSlot)> {
        let permit = tokio::select! {
            () = stop.cancelled() => return None,
            permit = self.slots.clone().acquire_owned() => {
                permit.expect("the connection semaphore is never closed")
            }
        };
        loop {
            let accepted = tokio::select! {
                () = stop.cancelled() => return None,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((tcp, peer)) => {
                    if let Some(m) = &self.metrics {
                        m.open_connections.inc();
                    }
                    let slot = ConnectionSlot {
                        _permit: permit,
                        metrics: self.metrics.clone(),
                    };
                    return Some((tcp, peer, slot));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; pausing");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// An I/O stream whose writes fail once the peer has taken no bytes for
/// `limit`: a client that stops reading cannot hold a connection (and the
/// memory queued for it) for ever.
pub struct WriteDeadline<T> {
    inner: T,
    limit: Duration,
    /// Running while a write is waiting for the peer.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> WriteDeadline<T> {
    pub fn new(inner: T, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            stalled: None,
        }
    }

    fn after_write<R>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<std::io::Result<R>>,
    ) -> Poll<std::io::Result<R>> {
        match result {
            Poll::Pending => {
                let limit = self.limit;
                let timer = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client took no bytes within the write deadline",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.after_write(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.after_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.after_write(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Deadlines for one listener's connections.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// A whole request head, and the idle time between requests.
    pub head: Duration,
    /// A socket that takes no bytes of a response.
    pub write: Duration,
}

/// Serves HTTP/1.1 on every connection that arrives on `incoming` until
/// `stop` fires; then each connection finishes its request in flight and
/// closes. The connection tasks run on `tracker`.
pub async fn serve<I>(
    mut incoming: tokio::sync::mpsc::Receiver<(I, SocketAddr)>,
    router: Router,
    deadlines: Deadlines,
    tracker: TaskTracker,
    stop: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(deadlines.head)
        .keep_alive(true);
    loop {
        let (io, peer) = tokio::select! {
            () = stop.cancelled() => return,
            conn = incoming.recv() => match conn {
                Some(conn) => conn,
                None => return,
            },
        };
        let service = router
            .clone()
            .map_request(move |mut req: axum::http::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let conn = http.serve_connection(
            TokioIo::new(WriteDeadline::new(io, deadlines.write)),
            TowerToHyperService::new(service),
        );
        let stop = stop.clone();
        tracker.spawn(async move {
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                }
                () = stop.cancelled() => {
                    // Finish the request in flight, then close.
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}

/// An accepted connection: the bytes already read from it put back in
/// front, and its slot, given back when the connection is dropped.
pub struct Conn {
    prefix: Bytes,
    inner: TcpStream,
    _slot: ConnectionSlot,
}

impl Conn {
    pub fn new(prefix: Bytes, inner: TcpStream, slot: ConnectionSlot) -> Self {
        Self {
            prefix,
            inner,
            _slot: slot,
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            if self.prefix.is_empty() {
                // Let the head buffer go for the connection's remaining life.
                self.prefix = Bytes::new();
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_keeps_a_reserve_below_the_descriptor_limit() {
        // 64 for the health port, 20 for a pool of 10, 32 more.
        assert_eq!(connection_budget(Some(1024), 10), 1024 - 116);
        assert_eq!(connection_budget(Some(4096), 10), 4096 - 409);
        assert_eq!(connection_budget(Some(256), 10), 256 - 116);
        // Nothing left after the reserve: one connection at a time.
        assert_eq!(connection_budget(Some(256), 100), 1);
        assert_eq!(connection_budget(Some(1_048_576), 10), 1_048_576 - 1024);
        assert_eq!(connection_budget(None, 10), Semaphore::MAX_PERMITS);
    }
}
