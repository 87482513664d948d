//! The write deadline: every response on the main listener is written
//! through [`WriteDeadline`], whether the front door writes it (a stream
//! that opened its connection) or hyper does (everything else, and a stream
//! asked for on a kept-alive connection). One implementation, so the rules
//! below hold on both paths:
//!
//! - a write that waits on a client that takes no bytes fails after
//!   [`crate::config::Config::stream_write_timeout`] without progress; any
//!   progress, however slow, starts the wait again;
//! - while a stream is being written, a write that waits fails at once when
//!   the stream must end whatever its client does (its token expired, its
//!   sign-in was revoked, the server is shutting down: [`StreamEnd`]). The
//!   stream's body would end itself then too, but only once polled, and
//!   whoever writes a body does not poll it while the socket is full.
//!
//! A stream closed either way is counted in
//! `belfry_streams_dropped_total{reason}` and logged. The waiting state is
//! allocated only while a write waits, which is rare: an idle stream pays
//! for none of it.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::api::events::StreamEnd;

/// How a [`WriteDeadline`] learns that the stream it writes must end.
pub enum Ending {
    /// One response, known before writing starts (the front door's), and
    /// its [`StreamEnd`] when it is a stream.
    Known(Option<StreamEnd>),
    /// Whichever response the connection is writing now (hyper's, which
    /// writes several in turn on a kept-alive connection): set as each
    /// response starts, see [`CurrentResponse`].
    Current(CurrentResponse),
}

/// The [`StreamEnd`] of the response a hyper connection is writing now, if
/// it is a stream. HTTP/1.1 writes one response after another, so one slot
/// per connection is enough.
#[derive(Clone, Default)]
pub struct CurrentResponse(Arc<Mutex<Option<StreamEnd>>>);

impl CurrentResponse {
    /// A response starts: from now on it is the one being written.
    pub fn starts(&self, end: Option<StreamEnd>) {
        *self.0.lock().expect("current response") = end;
    }

    fn end(&self) -> Option<StreamEnd> {
        self.0.lock().expect("current response").clone()
    }
}

impl Ending {
    fn current(&self) -> Option<StreamEnd> {
        match self {
            Ending::Known(end) => end.clone(),
            Ending::Current(current) => current.end(),
        }
    }
}

/// Why a write gave up waiting, as counted in
/// `belfry_streams_dropped_total{reason}`.
const WRITE_TIMEOUT: &str = "write_timeout";

/// An I/O stream whose writes fail when they wait too long on the client
/// (see the module header). Reads pass through.
pub struct WriteDeadline<T> {
    inner: T,
    limit: Duration,
    ending: Ending,
    /// While a write waits: resolves with the reason to give up. Boxed, so
    /// that a connection that never waits carries only a pointer.
    stalled: Option<Stalled>,
}

struct Stalled {
    give_up: BoxFuture<'static, &'static str>,
    end: Option<StreamEnd>,
}

impl<T> WriteDeadline<T> {
    pub fn new(inner: T, limit: Duration, ending: Ending) -> Self {
        Self {
            inner,
            limit,
            ending,
            stalled: None,
        }
    }

    fn after_write<R>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<std::io::Result<R>>,
    ) -> Poll<std::io::Result<R>> {
        if result.is_ready() {
            // Written (or failed): the next wait starts afresh.
            self.stalled = None;
            return result;
        }
        let limit = self.limit;
        let ending = &self.ending;
        let stalled = self.stalled.get_or_insert_with(|| {
            let end = ending.current();
            let must_end = end.clone();
            let give_up = Box::pin(async move {
                let deadline = tokio::time::sleep(limit);
                match must_end {
                    Some(mut end) => tokio::select! {
                        () = deadline => WRITE_TIMEOUT,
                        reason = end.wait() => reason,
                    },
                    None => {
                        deadline.await;
                        WRITE_TIMEOUT
                    }
                }
            });
            Stalled { give_up, end }
        });
        let Poll::Ready(reason) = stalled.give_up.as_mut().poll(cx) else {
            return Poll::Pending;
        };
        if let Some(end) = &stalled.end {
            tracing::info!(
                reason,
                "stream closed without waiting for its client to read"
            );
            end.dropped(reason);
        }
        self.stalled = None;
        Poll::Ready(Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("gave up waiting for the client to take bytes: {reason}"),
        )))
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
        let result = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.after_write(cx, result)
    }
}

#[cfg(test)]
mod tests {
    //! On tokio's paused clock: time moves only when every task waits, so
    //! the figures below are exact, and the tests take no real time.
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};
    use tokio::sync::watch;
    use tokio::time::Instant;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::metrics::Metrics;
    use crate::store::Revocation;

    const LIMIT: Duration = Duration::from_secs(10);
    /// More than the pipe below holds.
    const RESPONSE: [u8; 1000] = [b'x'; 1000];

    /// A writer into a pipe that holds 64 bytes, and the pipe's other end.
    fn pipe(ending: Ending) -> (WriteDeadline<DuplexStream>, DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(64);
        (WriteDeadline::new(ours, LIMIT, ending), theirs)
    }

    struct Stream {
        end: StreamEnd,
        shutdown: CancellationToken,
        revoke: watch::Sender<Arc<[Revocation]>>,
        metrics: Arc<Metrics>,
    }

    /// Ann's stream, whose token expires in `expires_in`.
    fn stream(expires_in: Duration) -> Stream {
        let shutdown = CancellationToken::new();
        let (revoke, revoked) = watch::channel(Arc::from([]));
        let metrics = Arc::new(Metrics::new());
        let end = StreamEnd::for_test(
            "ann",
            Instant::now() + expires_in,
            shutdown.clone(),
            revoked,
            metrics.clone(),
        );
        Stream {
            end,
            shutdown,
            revoke,
            metrics,
        }
    }

    /// Writes more than the pipe takes to a reader that never reads: how
    /// long until the write gives up.
    async fn gives_up_after(writer: &mut WriteDeadline<DuplexStream>) -> Duration {
        let started = Instant::now();
        let e = writer.write_all(&RESPONSE).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        started.elapsed()
    }

    fn dropped(metrics: &Metrics, reason: &'static str) -> u64 {
        metrics
            .streams_dropped
            .get_or_create(&[("reason", reason)])
            .get()
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_the_client_never_takes_fails_after_the_limit() {
        let (mut writer, _unread) = pipe(Ending::Known(None));
        assert_eq!(gives_up_after(&mut writer).await, LIMIT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_reads_slowly_is_waited_for() {
        let (mut writer, mut reader) = pipe(Ending::Known(None));
        // 64 bytes every 6 s: far slower than the write, never 10 s idle.
        let slow = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            while got.len() < RESPONSE.len() {
                tokio::time::sleep(Duration::from_secs(6)).await;
                let n = reader.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            (got, reader)
        });
        let started = Instant::now();
        writer.write_all(&RESPONSE).await.unwrap();
        assert!(started.elapsed() > 2 * LIMIT, "{:?}", started.elapsed());
        let (got, _reader) = slow.await.unwrap();
        assert_eq!(got, RESPONSE);
        // And once it stops reading, the limit applies again.
        assert_eq!(gives_up_after(&mut writer).await, LIMIT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_must_end_does_not_wait_for_the_limit() {
        // Token expiry, 3 s into a wait of at most 10.
        let s = stream(Duration::from_secs(3));
        let (mut writer, _unread) = pipe(Ending::Known(Some(s.end.clone())));
        assert_eq!(gives_up_after(&mut writer).await, Duration::from_secs(3));
        assert_eq!(dropped(&s.metrics, "token_expired"), 1);

        // Shutdown.
        let s = stream(Duration::from_secs(3600));
        let (mut writer, _unread) = pipe(Ending::Known(Some(s.end.clone())));
        let shutdown = s.shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            shutdown.cancel();
        });
        assert_eq!(gives_up_after(&mut writer).await, Duration::from_secs(2));
        assert_eq!(dropped(&s.metrics, "shutdown"), 1);

        // A revocation of someone else's sign-in does not end it; Ann's does.
        let s = stream(Duration::from_secs(3600));
        let (mut writer, _unread) = pipe(Ending::Known(Some(s.end.clone())));
        let revoke = s.revoke;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            revoke.send_replace(Arc::from([Revocation::User("bob".into())]));
            tokio::time::sleep(Duration::from_secs(1)).await;
            revoke.send_replace(Arc::from([Revocation::User("ann".into())]));
            revoke
        });
        assert_eq!(gives_up_after(&mut writer).await, Duration::from_secs(2));
        assert_eq!(dropped(&s.metrics, "revoked"), 1);
        assert_eq!(dropped(&s.metrics, "write_timeout"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_stops_being_read_is_counted_at_the_limit() {
        let s = stream(Duration::from_secs(3600));
        let (mut writer, _unread) = pipe(Ending::Known(Some(s.end.clone())));
        assert_eq!(gives_up_after(&mut writer).await, LIMIT);
        assert_eq!(dropped(&s.metrics, "write_timeout"), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn on_a_kept_alive_connection_only_the_stream_being_written_ends_a_wait() {
        let current = CurrentResponse::default();
        let s = stream(Duration::from_secs(3));
        let (mut writer, _unread) = pipe(Ending::Current(current.clone()));

        // Another response: its writes wait the whole limit.
        current.starts(None);
        assert_eq!(gives_up_after(&mut writer).await, LIMIT);

        // Now a stream whose token has expired meanwhile: at once.
        current.starts(Some(s.end.clone()));
        assert_eq!(gives_up_after(&mut writer).await, Duration::ZERO);
        assert_eq!(dropped(&s.metrics, "token_expired"), 1);
    }
}
