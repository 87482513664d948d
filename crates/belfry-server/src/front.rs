//! The front door: event streams are written straight to their sockets.
//!
//! hyper keeps a read buffer and a write buffer (8 KiB each) and a
//! connection task for as long as a connection lives. An SSE stream reads
//! nothing after its request and lives for hours, so at ten thousand
//! streams those buffers were four fifths of the server's memory.
//!
//! Every accepted connection is therefore looked at first. When its first
//! request is a plain `GET /api/admin/events` over HTTP/1.1, its head is
//! parsed here (httparse) and the request goes through the same router as
//! any other, so authentication, limits, CORS and the security headers are
//! the same. The stream it opens is then written to the socket by one small
//! task, in chunked encoding. Everything else, including a stream request
//! with anything unusual about it (a body, HTTP/1.0, `Expect`, an upgrade,
//! a pipelined request, a head over [`MAX_HEAD`]), goes to hyper with the
//! bytes already read put back in front.

use std::io::{IoSlice, Write as _};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Method, Request, Version, header};
use bytes::{Buf as _, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::api::events::{EVENTS_PATH, Session, Takeover};

/// Longest request head taken here; longer ones go to hyper, which has its
/// own limit and error.
pub const MAX_HEAD: usize = 8 * 1024;
/// Headers in a stream request taken here.
const MAX_HEADERS: usize = 32;
/// A connection that has not sent a whole request head by then is closed.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest error body written here (they are small JSON documents).
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Connections handed to hyper that it has not yet taken.
const HANDOFF_QUEUE: usize = 1024;

/// The listener hyper serves from: connections the front door did not take.
pub struct FrontDoor {
    rx: mpsc::Receiver<(Rewind, SocketAddr)>,
    local: SocketAddr,
}

impl FrontDoor {
    /// Starts accepting on `listener`. Stream connections are served by
    /// tasks on `tracker`; the rest come out of [`axum::serve::Listener::accept`].
    pub fn open(
        listener: TcpListener,
        router: Router,
        tracker: TaskTracker,
        stop: CancellationToken,
    ) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(HANDOFF_QUEUE);
        let accepting = tracker.clone();
        accepting.spawn(accept_loop(listener, router, tracker, tx, stop));
        Ok(Self { rx, local })
    }
}

impl axum::serve::Listener for FrontDoor {
    type Io = Rewind;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Rewind, SocketAddr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            // Accepting stopped (shutdown); hyper is about to stop asking.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    tracker: TaskTracker,
    tx: mpsc::Sender<(Rewind, SocketAddr)>,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                // Nagle's algorithm would hold small SSE frames back for up to 40 ms.
                let _ = tcp.set_nodelay(true);
                tracker.spawn(first_request(
                    tcp,
                    peer,
                    router.clone(),
                    tracker.clone(),
                    tx.clone(),
                    stop.clone(),
                ));
            }
            Err(e) => {
                // Out of file descriptors or the like: new connections wait
                // in the backlog until some close.
                tracing::warn!(error = %e, "accept failed; pausing");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads the first request head and decides who serves the connection.
async fn first_request(
    mut tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    tracker: TaskTracker,
    tx: mpsc::Sender<(Rewind, SocketAddr)>,
    stop: CancellationToken,
) {
    let mut buf = BytesMut::with_capacity(1024);
    let read = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut tcp, &mut buf));
    let head = tokio::select! {
        () = stop.cancelled() => return,
        read = read => match read {
            Ok(Ok(head)) => head,
            Ok(Err(_)) | Err(_) => return,
        },
    };
    match head {
        Some(request) => serve_stream(tcp, peer, request, router, tracker).await,
        None => {
            let io = Rewind {
                prefix: buf.freeze(),
                inner: tcp,
            };
            let _ = tx.send((io, peer)).await;
        }
    }
}

/// Reads until the head is complete or is clearly not one taken here.
/// `Ok(None)` hands the connection, with what was read, to hyper.
async fn read_head(
    tcp: &mut TcpStream,
    buf: &mut BytesMut,
) -> std::io::Result<Option<Request<Body>>> {
    loop {
        if tcp.read_buf(buf).await? == 0 {
            // Closed before a whole head: hyper answers or drops it.
            return Ok(None);
        }
        // `GET /api/admin/events`, as far as it has arrived.
        let expected = b"GET ".iter().chain(EVENTS_PATH.as_bytes());
        if !buf.iter().zip(expected).all(|(got, want)| got == want) {
            return Ok(None);
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(buf) {
            Ok(httparse::Status::Complete(len)) => {
                // Anything after the head is a pipelined request: hyper's.
                return Ok((len == buf.len())
                    .then(|| stream_request(&parsed))
                    .flatten());
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {
                buf.reserve(1024);
            }
            _ => return Ok(None),
        }
    }
}

/// The parsed head as a request for the router, when it is a plain stream
/// request.
fn stream_request(parsed: &httparse::Request<'_, '_>) -> Option<Request<Body>> {
    let path = parsed.path?;
    let rest = path.strip_prefix(EVENTS_PATH)?;
    if !(rest.is_empty() || rest.starts_with('?')) || parsed.version != Some(1) {
        return None;
    }
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .version(Version::HTTP_11);
    let map = request.headers_mut()?;
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        let body_or_upgrade = name == header::CONTENT_LENGTH && h.value != b"0"
            || name == header::TRANSFER_ENCODING
            || name == header::EXPECT
            || name == header::UPGRADE;
        if body_or_upgrade {
            return None;
        }
        map.append(name, HeaderValue::from_bytes(h.value).ok()?);
    }
    request.body(Body::empty()).ok()
}

/// Runs the request through the router. An opened stream continues on its
/// own task; any other answer is written whole and the connection closed.
async fn serve_stream(
    mut tcp: TcpStream,
    peer: SocketAddr,
    mut request: Request<Body>,
    router: Router,
    tracker: TaskTracker,
) {
    let slot = Takeover(Arc::new(Mutex::new(None)));
    request.extensions_mut().insert(ConnectInfo(peer));
    request.extensions_mut().insert(slot.clone());
    let Ok(response) = router.oneshot(request).await;
    let (parts, body) = response.into_parts();
    let session = slot.0.lock().expect("takeover slot").take();

    let mut head = Vec::with_capacity(512);
    let _ = write!(head, "HTTP/1.1 {}\r\n", parts.status);
    for (name, value) in &parts.headers {
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    let _ = write!(
        head,
        "date: {}\r\n",
        httpdate::fmt_http_date(std::time::SystemTime::now())
    );
    match session {
        Some(session) => {
            // No further request is read on this connection.
            head.extend_from_slice(b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n");
            if tcp.write_all(&head).await.is_ok() {
                // A task of its own, so the stream's life costs only what
                // the stream needs, not the router's future as well.
                tracker.spawn(stream(tcp, session));
            }
        }
        None => {
            let body = axum::body::to_bytes(body, MAX_ERROR_BODY)
                .await
                .unwrap_or_default();
            let _ = write!(
                head,
                "content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            head.extend_from_slice(&body);
            let _ = tcp.write_all(&head).await;
            let _ = tcp.shutdown().await;
        }
    }
}

/// Writes the stream's chunks until it ends or the client goes away.
async fn stream(tcp: TcpStream, mut session: Session) {
    // Registered once for the stream's life, not again per chunk.
    let closed = client_closed(&tcp);
    tokio::pin!(closed);
    loop {
        let chunk = tokio::select! {
            biased;
            chunk = session.next_chunk() => chunk,
            () = &mut closed => return,
        };
        let Some(chunk) = chunk else {
            // The stream ended on the server's side: end the body properly.
            let _ = write_all(&tcp, &mut [IoSlice::new(b"0\r\n\r\n")]).await;
            return;
        };
        if write_chunk(&tcp, &chunk).await.is_err() {
            return;
        }
    }
}

/// Resolves when the client closes its side. A stream's client sends
/// nothing after its request; anything it does send is dropped.
async fn client_closed(tcp: &TcpStream) {
    let mut scratch = [0u8; 256];
    loop {
        if tcp.readable().await.is_err() {
            return;
        }
        match tcp.try_read(&mut scratch) {
            Ok(0) => return,
            Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => return,
            _ => {}
        }
    }
}

/// One chunk of `Transfer-Encoding: chunked`: size line, data, CRLF, in one
/// vectored write (the shared frame bytes are not copied).
async fn write_chunk(tcp: &TcpStream, data: &Bytes) -> std::io::Result<()> {
    let mut size = [0u8; 20];
    let n = {
        let mut cursor = &mut size[..];
        write!(cursor, "{:x}\r\n", data.len())?;
        20 - cursor.len()
    };
    write_all(
        tcp,
        &mut [
            IoSlice::new(&size[..n]),
            IoSlice::new(data),
            IoSlice::new(b"\r\n"),
        ],
    )
    .await
}

/// Writes every slice, waiting for the socket only when it is full.
async fn write_all(tcp: &TcpStream, mut slices: &mut [IoSlice<'_>]) -> std::io::Result<()> {
    while !slices.is_empty() {
        match tcp.try_write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => tcp.writable().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A connection with the bytes already read from it put back in front.
pub struct Rewind {
    prefix: Bytes,
    inner: TcpStream,
}

impl AsyncRead for Rewind {
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

impl AsyncWrite for Rewind {
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
