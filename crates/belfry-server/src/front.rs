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
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Method, Request, Version, header};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::api::events::{EVENTS_PATH, Session, Takeover};
use crate::conn::{Conn, ConnectionSlot, ConnectionSlots, Deadlines};

/// Longest request head taken here; longer ones go to hyper, which has its
/// own limit and error.
pub const MAX_HEAD: usize = 8 * 1024;
/// Headers in a stream request taken here.
const MAX_HEADERS: usize = 32;
/// Largest error body written here (they are small JSON documents).
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Connections handed to hyper that it has not yet taken.
const HANDOFF_QUEUE: usize = 1024;

/// Connections the front door did not keep, for hyper (`conn::serve`).
pub type Handoff = mpsc::Receiver<(Conn, SocketAddr)>;

/// How the front door treats a connection.
#[derive(Clone)]
pub struct FrontDoor {
    pub router: Router,
    pub slots: ConnectionSlots,
    pub deadlines: Deadlines,
}

impl FrontDoor {
    /// Starts accepting on `listener`. Stream connections are served by
    /// tasks on `tracker`; the rest come out of the returned receiver.
    pub fn open(
        self,
        listener: TcpListener,
        tracker: TaskTracker,
        stop: CancellationToken,
    ) -> Handoff {
        let (tx, rx) = mpsc::channel(HANDOFF_QUEUE);
        let accepting = tracker.clone();
        accepting.spawn(accept_loop(self, listener, tracker, tx, stop));
        rx
    }
}

async fn accept_loop(
    door: FrontDoor,
    listener: TcpListener,
    tracker: TaskTracker,
    tx: mpsc::Sender<(Conn, SocketAddr)>,
    stop: CancellationToken,
) {
    while let Some((tcp, peer, slot)) = door.slots.accept(&listener, &stop).await {
        // Nagle's algorithm would hold small SSE frames back for up to 40 ms.
        let _ = tcp.set_nodelay(true);
        tracker.spawn(first_request(
            tcp,
            peer,
            slot,
            door.clone(),
            tracker.clone(),
            tx.clone(),
            stop.clone(),
        ));
    }
}

/// Reads the first request head and decides who serves the connection.
async fn first_request(
    mut tcp: TcpStream,
    peer: SocketAddr,
    slot: ConnectionSlot,
    door: FrontDoor,
    tracker: TaskTracker,
    tx: mpsc::Sender<(Conn, SocketAddr)>,
    stop: CancellationToken,
) {
    let mut buf = BytesMut::with_capacity(1024);
    let read = tokio::time::timeout(door.deadlines.head, read_head(&mut tcp, &mut buf));
    let head = tokio::select! {
        () = stop.cancelled() => return,
        read = read => match read {
            Ok(Ok(head)) => head,
            Ok(Err(_)) | Err(_) => return,
        },
    };
    match head {
        Some(request) => serve_stream(tcp, peer, slot, request, door, tracker).await,
        None => {
            let _ = tx.send((Conn::new(buf.freeze(), tcp, slot), peer)).await;
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
    connection: ConnectionSlot,
    mut request: Request<Body>,
    door: FrontDoor,
    tracker: TaskTracker,
) {
    let slot = Takeover(Arc::new(Mutex::new(None)));
    request.extensions_mut().insert(ConnectInfo(peer));
    request.extensions_mut().insert(slot.clone());
    let Ok(response) = door.router.oneshot(request).await;
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
            // A new connection's empty send buffer takes a head this size
            // at once, so this does not wait on the client.
            if tcp.write_all(&head).await.is_ok() {
                // A task of its own, so the stream's life costs only what
                // the stream needs, not the router's future as well.
                tracker.spawn(stream(tcp, session, connection, door.deadlines.write));
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
            let _ = tokio::time::timeout(door.deadlines.write, async {
                tcp.write_all(&head).await?;
                tcp.shutdown().await
            })
            .await;
        }
    }
}

/// Writes the stream's chunks until it ends or the client goes away.
async fn stream(
    tcp: TcpStream,
    mut session: Session,
    _slot: ConnectionSlot,
    write_timeout: Duration,
) {
    // Registered once for the stream's life, not again per chunk.
    let closed = client_closed(&tcp);
    tokio::pin!(closed);
    loop {
        let chunk = tokio::select! {
            biased;
            chunk = session.next_chunk() => chunk,
            () = &mut closed => return,
        };
        let written = match chunk {
            Some(chunk) => write_chunk(&tcp, &chunk, &mut session, write_timeout).await,
            // The stream ended on the server's side: end the body properly.
            None => {
                let end = &mut [IoSlice::new(b"0\r\n\r\n")];
                let _ = write_all(&tcp, end, &mut session, write_timeout).await;
                return;
            }
        };
        match written {
            Ok(()) => {}
            Err(Stop::Broken) => return,
            Err(Stop::Dropped(reason)) => {
                session.dropped(reason);
                return;
            }
        }
    }
}

/// Why writing stopped.
enum Stop {
    /// The connection failed.
    Broken,
    /// The client took no bytes while the stream had to end (or for too
    /// long): closed without waiting for it.
    Dropped(&'static str),
}

/// Resolves when the client closes its side. A stream's client sends
/// nothing after its request; anything it does send is dropped, a little
/// at a time (the buffer lives in every stream's task, so it is small).
async fn client_closed(tcp: &TcpStream) {
    let mut scratch = [0u8; 32];
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
async fn write_chunk(
    tcp: &TcpStream,
    data: &Bytes,
    session: &mut Session,
    write_timeout: Duration,
) -> Result<(), Stop> {
    let mut size = [0u8; 20];
    let n = {
        let mut cursor = &mut size[..];
        write!(cursor, "{:x}\r\n", data.len()).map_err(|_| Stop::Broken)?;
        20 - cursor.len()
    };
    write_all(
        tcp,
        &mut [
            IoSlice::new(&size[..n]),
            IoSlice::new(data),
            IoSlice::new(b"\r\n"),
        ],
        session,
        write_timeout,
    )
    .await
}

/// Writes every slice. Only when the socket is full does it wait, and then
/// not past `write_timeout` without progress, nor past the moment the
/// stream must end (token expiry, revocation, shutdown): those never wait
/// for a client that stopped reading.
async fn write_all(
    tcp: &TcpStream,
    mut slices: &mut [IoSlice<'_>],
    session: &mut Session,
    write_timeout: Duration,
) -> Result<(), Stop> {
    // The usual case: the socket takes it all at once.
    if write_now(tcp, &mut slices)? {
        return Ok(());
    }
    // Boxed: every stream's task is as large as its largest state, and
    // the waiting below is rare, so it gets its memory only when it waits.
    Box::pin(wait_and_write(tcp, slices, session, write_timeout)).await
}

async fn wait_and_write(
    tcp: &TcpStream,
    mut slices: &mut [IoSlice<'_>],
    session: &mut Session,
    write_timeout: Duration,
) -> Result<(), Stop> {
    let mut deadline = Box::pin(tokio::time::sleep(write_timeout));
    loop {
        tokio::select! {
            writable = tcp.writable() => writable.map_err(|_| Stop::Broken)?,
            () = deadline.as_mut() => return Err(Stop::Dropped("write_timeout")),
            reason = session.must_end() => return Err(Stop::Dropped(reason)),
        }
        let left = remaining(slices);
        if write_now(tcp, &mut slices)? {
            return Ok(());
        }
        if remaining(slices) < left {
            // Progress: the client is reading, however slowly.
            deadline
                .as_mut()
                .reset(tokio::time::Instant::now() + write_timeout);
        }
    }
}

/// Writes what the socket takes now: `true` once every slice is written,
/// `false` when the socket is full first.
fn write_now(tcp: &TcpStream, slices: &mut &mut [IoSlice<'_>]) -> Result<bool, Stop> {
    loop {
        match tcp.try_write_vectored(slices) {
            Ok(0) => return Err(Stop::Broken),
            Ok(n) => {
                IoSlice::advance_slices(slices, n);
                if slices.is_empty() {
                    return Ok(true);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
            Err(_) => return Err(Stop::Broken),
        }
    }
}

fn remaining(slices: &[IoSlice<'_>]) -> usize {
    slices.iter().map(|s| s.len()).sum()
}
