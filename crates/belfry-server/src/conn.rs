//! Connections on the main listener: how many may be open, how long a
//! client may take to send a request or to take a response, and the hyper
//! loop that serves every connection the front door does not keep.
//!
//! Every deadline here exists because an anonymous client can otherwise
//! hold a connection, and so a file descriptor, for ever:
//! - **first request head** ([`crate::config::Config::request_head_timeout`]):
//!   the whole head must arrive in time from the accept. The deadline is
//!   kept in the connection's [`HeadTicket`], so it is one deadline whether
//!   the front door reads the head, or starts to and hands the connection
//!   to hyper;
//! - **later heads**, and the idle time before them on a kept-alive
//!   connection: the same timeout, as hyper's `header_read_timeout` (it
//!   needs a timer, which `axum::serve` never sets, so this module drives
//!   hyper itself);
//! - **request body** ([`crate::config::Config::request_body_timeout`]):
//!   the whole body, checked in `api` before any handler runs;
//! - **writes** ([`crate::config::Config::stream_write_timeout`]): a socket
//!   that takes no bytes for that long is closed, and a stream that must
//!   end is not waited for ([`WriteDeadline`], on both paths).
//!
//! The number of open connections is capped below the process's
//! file-descriptor limit ([`connection_budget`]), so the store, the health
//! port and log files still get descriptors when clients take every
//! connection they can; further clients wait in the listen backlog.
//!
//! The head deadline alone would let a client hold the whole budget with
//! half-sent heads, renewed every deadline (slowloris). So connections
//! still sending their first head are counted ([`HeadsInProgress`]) and
//! capped at half the budget, and the oldest of them is closed to make
//! room: when a new connection would pass the cap, and when every slot is
//! taken and another client is waiting to be accepted. A real client sends
//! its head within a round trip of connecting, so the oldest unfinished
//! head is the likeliest to be an attacker's; and closing one only ever
//! makes room for a newer connection, never for nothing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::api::events::StreamEnd;
use crate::deadline::{CurrentResponse, Ending, WriteDeadline};
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
    budget: usize,
    metrics: Option<Arc<Metrics>>,
}

impl ConnectionSlots {
    /// `metrics.open_connections`, when given, counts the slots taken.
    pub fn new(budget: usize, metrics: Option<Arc<Metrics>>) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(budget)),
            budget,
            metrics,
        }
    }

    /// How many slots there are in all.
    pub fn budget(&self) -> usize {
        self.budget
    }

    fn slot(&self, permit: OwnedSemaphorePermit) -> ConnectionSlot {
        if let Some(m) = &self.metrics {
            m.open_connections.inc();
        }
        ConnectionSlot {
            _permit: permit,
            metrics: self.metrics.clone(),
        }
    }

    /// Like [`ConnectionSlots::accept`], but with every slot taken, a
    /// client waiting to be accepted makes room: the oldest connection in
    /// `heads` is closed, and its slot goes to the new one. Only a waiting
    /// client does that, so unfinished heads are not closed for nothing.
    pub async fn accept_making_room(
        &self,
        listener: &TcpListener,
        stop: &CancellationToken,
        heads: &HeadsInProgress,
    ) -> Option<(TcpStream, SocketAddr, ConnectionSlot)> {
        loop {
            if self.slots.available_permits() > 0 || heads.is_empty() {
                return self.accept(listener, stop).await;
            }
            let accepted = tokio::select! {
                () = stop.cancelled() => return None,
                // A slot came free meanwhile: the usual way.
                _ = self.slots.acquire() => continue,
                accepted = listener.accept() => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; pausing");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if heads.close_oldest() {
                tracing::debug!(%peer, "every connection slot taken: closed the oldest connection still sending a head");
            }
            // The closed connection's task gives its slot back at once (or
            // another one ends first; or this waits like the backlog does).
            let permit = tokio::select! {
                () = stop.cancelled() => return None,
                permit = self.slots.clone().acquire_owned() => {
                    permit.expect("the connection semaphore is never closed")
                }
            };
            return Some((tcp, peer, self.slot(permit)));
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
                Ok((tcp, peer)) => return Some((tcp, peer, self.slot(permit))),
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; pausing");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// Connections that have not finished sending their first request head,
/// in the order they were accepted, at most a cap at once (see the module
/// header for why and which one is closed).
#[derive(Clone)]
pub struct HeadsInProgress {
    waiting: Arc<Mutex<Waiting>>,
    cap: usize,
    /// How long a connection may take to send its first head, from accept.
    deadline: Duration,
}

#[derive(Default)]
struct Waiting {
    next: u64,
    /// By accept order: the first entry is the oldest.
    open: BTreeMap<u64, CancellationToken>,
}

impl HeadsInProgress {
    /// At most `cap` (at least one) heads in progress, each closed if not
    /// in within `deadline` of its accept.
    pub fn new(cap: usize, deadline: Duration) -> Self {
        Self {
            waiting: Arc::default(),
            cap: cap.max(1),
            deadline,
        }
    }

    /// The cap for a connection budget: half of it. Unfinished heads can
    /// then never take more than half the slots, and the other half stays
    /// for connections that have sent a whole request (streams above all).
    /// Derived rather than configured: it only has to be far above the
    /// heads real clients have in flight at once (each is done within a
    /// round trip) and well below the budget.
    pub fn for_budget(budget: usize, deadline: Duration) -> Self {
        Self::new(budget / 2, deadline)
    }

    /// The most heads in progress at once.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Counts a new connection, closing the oldest one when this one would
    /// pass the cap.
    pub fn enter(&self) -> HeadTicket {
        let evicted = CancellationToken::new();
        let mut waiting = self.waiting.lock().expect("heads in progress");
        if waiting.open.len() >= self.cap
            && let Some((_, oldest)) = waiting.open.pop_first()
        {
            oldest.cancel();
            tracing::debug!(
                cap = self.cap,
                "too many connections still sending a head: closed the oldest"
            );
        }
        let id = waiting.next;
        waiting.next += 1;
        waiting.open.insert(id, evicted.clone());
        drop(waiting);
        HeadTicket {
            id,
            waiting: self.waiting.clone(),
            evicted,
            deadline: tokio::time::Instant::now() + self.deadline,
            done: AtomicBool::new(false),
        }
    }

    /// Closes the oldest connection still sending its head; `false` when
    /// there is none.
    pub fn close_oldest(&self) -> bool {
        let oldest = self
            .waiting
            .lock()
            .expect("heads in progress")
            .open
            .pop_first();
        oldest.map(|(_, token)| token.cancel()).is_some()
    }

    /// How many connections are still sending their head.
    pub fn len(&self) -> usize {
        self.waiting.lock().expect("heads in progress").open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One connection counted in [`HeadsInProgress`], until its head is done
/// ([`HeadTicket::done`]) or the ticket is dropped. The first head's
/// deadline is kept here, from the accept, whoever reads the head: the
/// front door, then hyper if the front door hands the connection over.
pub struct HeadTicket {
    id: u64,
    waiting: Arc<Mutex<Waiting>>,
    evicted: CancellationToken,
    deadline: tokio::time::Instant,
    done: AtomicBool,
}

/// Why a connection was closed before its first head was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadClosed {
    /// The oldest of too many connections still sending a head.
    Evicted,
    /// The head did not arrive within the deadline.
    TimedOut,
}

impl HeadTicket {
    /// Resolves when the connection is to be closed: to make room, or
    /// because its head is late. Never once the head is done.
    pub async fn closed(&self) -> HeadClosed {
        tokio::select! {
            () = self.evicted.cancelled() => HeadClosed::Evicted,
            () = tokio::time::sleep_until(self.deadline) => {
                if self.done.load(Ordering::Acquire) {
                    std::future::pending().await
                }
                HeadClosed::TimedOut
            }
        }
    }

    /// The head has arrived: no longer counted, and never closed by the
    /// cap or the deadline. Cheap after the first call.
    pub fn done(&self) {
        if !self.done.swap(true, Ordering::AcqRel) {
            self.waiting
                .lock()
                .expect("heads in progress")
                .open
                .remove(&self.id);
        }
    }
}

impl Drop for HeadTicket {
    fn drop(&mut self) {
        self.done();
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
/// closes. The connection tasks run on `tracker`. A connection still
/// counted in [`HeadsInProgress`] is counted until its first head is in,
/// and closed if its ticket closes it first (the cap, or the deadline that
/// started at its accept). Every response is written through
/// [`WriteDeadline`], which learns of each stream's [`StreamEnd`] as its
/// response starts.
pub async fn serve(
    mut incoming: tokio::sync::mpsc::Receiver<(Conn, SocketAddr)>,
    router: Router,
    deadlines: Deadlines,
    tracker: TaskTracker,
    stop: CancellationToken,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(deadlines.head)
        .keep_alive(true);
    loop {
        let (mut io, peer) = tokio::select! {
            () = stop.cancelled() => return,
            conn = incoming.recv() => match conn {
                Some(conn) => conn,
                None => return,
            },
        };
        let head = io.head.take().map(Arc::new);
        let current = CurrentResponse::default();
        let service = router
            .clone()
            .map_request({
                let head = head.clone();
                move |mut req: axum::http::Request<Incoming>| {
                    if let Some(head) = &head {
                        head.done();
                    }
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req
                }
            })
            .map_response({
                let current = current.clone();
                move |mut res: axum::response::Response| {
                    current.starts(res.extensions_mut().remove::<StreamEnd>());
                    res
                }
            });
        let io = WriteDeadline::new(io, deadlines.write, Ending::Current(current));
        let conn = http.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
        let stop = stop.clone();
        tracker.spawn(async move {
            tokio::pin!(conn);
            let closed = async {
                match &head {
                    Some(head) => head.closed().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                }
                why = closed => {
                    tracing::debug!(%peer, ?why, "closed before its first head was in");
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
    /// Set while its first head is still arriving (taken by [`serve`]).
    head: Option<HeadTicket>,
}

impl Conn {
    pub fn new(prefix: Bytes, inner: TcpStream, slot: ConnectionSlot) -> Self {
        Self {
            prefix,
            inner,
            _slot: slot,
            head: None,
        }
    }

    /// Counted in [`HeadsInProgress`] until [`serve`] has its first head.
    pub fn awaiting_head(mut self, ticket: HeadTicket) -> Self {
        self.head = Some(ticket);
        self
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

    #[tokio::test]
    async fn the_oldest_head_in_progress_is_closed_at_the_cap() {
        let heads = HeadsInProgress::new(2, Duration::from_secs(3600));
        let first = heads.enter();
        let second = heads.enter();
        assert_eq!(heads.len(), 2);
        let third = heads.enter();
        // The first is closed; the others are not.
        let closed = tokio::time::timeout(Duration::from_secs(1), first.closed()).await;
        assert_eq!(closed, Ok(HeadClosed::Evicted));
        assert!(!second.evicted.is_cancelled() && !third.evicted.is_cancelled());
        assert_eq!(heads.len(), 2);

        // A finished head no longer counts and is never closed.
        second.done();
        assert_eq!(heads.len(), 1);
        let _fourth = heads.enter();
        assert!(!second.evicted.is_cancelled() && !third.evicted.is_cancelled());
        drop(third);
        assert_eq!(heads.len(), 1);
        assert!(heads.close_oldest());
        assert!(heads.is_empty() && !heads.close_oldest());
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_not_in_by_the_deadline_is_closed_and_one_in_time_never_is() {
        let heads = HeadsInProgress::new(10, Duration::from_secs(5));
        let late = heads.enter();
        let started = tokio::time::Instant::now();
        assert_eq!(late.closed().await, HeadClosed::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(5));

        // Done 1 s before its deadline: still open long after it.
        let prompt = heads.enter();
        tokio::time::sleep(Duration::from_secs(4)).await;
        prompt.done();
        let closed = tokio::time::timeout(Duration::from_secs(3600), prompt.closed()).await;
        assert!(closed.is_err(), "a finished head was closed: {closed:?}");
    }

    #[test]
    fn the_cap_on_heads_in_progress_is_half_the_budget() {
        let cap = |budget| HeadsInProgress::for_budget(budget, Duration::from_secs(1)).cap();
        assert_eq!(cap(396), 198);
        assert_eq!(cap(1), 1);
        assert_eq!(cap(0), 1);
    }
}
