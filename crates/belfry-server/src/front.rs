//! The front door: event streams are written straight to their sockets.
//!
//! hyper keeps a read buffer and a write buffer (8 KiB each) and a
//! connection task for as long as a connection lives. An SSE stream reads
//! nothing after its request and lives for hours, so at ten thousand
//! streams those buffers were four fifths of the server's memory.
//!
//! Every accepted connection is therefore looked at first ([`classify`]).
//! When its first request is a plain `GET /api/admin/events` over HTTP/1.1,
//! its head is parsed here (httparse) and the request goes through the same
//! router as any other, so authentication, limits, CORS and the security
//! headers are the same. The router answers with its own response; a body
//! of unknown length (the stream's) is then written to the socket by one
//! small task, in chunked encoding, and any other is written whole. The
//! handler knows nothing of which way its body is written, and any layer
//! the router has applies to both; so do the deadlines, which both paths
//! share: the first head's, kept in the connection's `HeadTicket` from the
//! accept, and the write deadline ([`crate::deadline`]). Everything else goes to hyper
//! with the bytes already read put back in front, including a stream
//! request with anything unusual about it: a body (`Transfer-Encoding`, a
//! `Content-Length` other than `0`), HTTP/1.0, `Expect`, `Upgrade`, a
//! pipelined request, more than [`MAX_HEADERS`] headers, a head over
//! [`MAX_HEAD`], a request-target that is not exactly the events path with
//! an optional query (absolute-form, percent-encoded, doubled or trailing
//! slashes), and anything malformed. hyper is the one place that answers
//! malformed HTTP, so nothing is refused here.
//!
//! A connection still sending its head holds a connection slot while
//! doing nothing useful, so those are capped ([`HeadsInProgress`], shared
//! with hyper until its first head is in): the oldest is closed when a new
//! connection would pass the cap, or when every slot is taken and another
//! client is waiting.

use std::io::{IoSlice, Write as _};
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, Version, header};
use bytes::BytesMut;
use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

/// The path served here (re-exported for the fuzz target).
pub use crate::api::events::EVENTS_PATH;
use crate::api::events::StreamEnd;
use crate::conn::{Conn, ConnectionSlot, ConnectionSlots, Deadlines, HeadTicket, HeadsInProgress};
use crate::deadline::{Ending, WriteDeadline};

/// Longest request head taken here; longer ones go to hyper, which has its
/// own limit and error.
pub const MAX_HEAD: usize = 8 * 1024;
/// Headers in a stream request taken here.
pub const MAX_HEADERS: usize = 32;
/// Largest error body written here (they are small JSON documents).
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Connections handed to hyper that it has not yet taken.
const HANDOFF_QUEUE: usize = 1024;
/// The chunk that ends a chunked body.
const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Connections the front door did not keep, for hyper (`conn::serve`).
pub type Handoff = mpsc::Receiver<(Conn, SocketAddr)>;

/// What the front door does with a connection, given the bytes it has sent
/// so far.
#[derive(Debug)]
pub enum Classification {
    /// A plain stream request, served here.
    Direct(StreamHead),
    /// Served by hyper, with the bytes read so far put back in front.
    ToHyper(Reason),
    /// Still possibly a plain stream request: read more.
    Incomplete,
}

/// Why a connection goes to hyper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Not `GET` of the events path in origin-form (another method or
    /// route, an absolute-form target, a path the router would not match
    /// to the stream). Decided on the first byte that differs.
    NotAStreamRequest,
    /// Not HTTP/1.1.
    Version,
    /// A body: `Transfer-Encoding`, or a `Content-Length` other than `0`.
    Body,
    /// `Expect` (hyper answers `100-continue`).
    Expect,
    /// `Upgrade`.
    Upgrade,
    /// Bytes after the head: a pipelined request.
    Pipelined,
    /// A head over [`MAX_HEAD`].
    TooLong,
    /// More than [`MAX_HEADERS`] headers.
    TooManyHeaders,
    /// Not valid HTTP, or a target or header the `http` types refuse:
    /// hyper answers with its error.
    Malformed,
}

/// A plain stream request's head: `GET` [`EVENTS_PATH`] over HTTP/1.1,
/// without a body.
#[derive(Debug)]
pub struct StreamHead {
    /// The request-target, in origin-form; its path is [`EVENTS_PATH`].
    pub uri: Uri,
    pub headers: HeaderMap,
}

impl StreamHead {
    fn into_request(self) -> Request<Body> {
        let mut request = Request::new(Body::empty());
        *request.method_mut() = Method::GET;
        *request.uri_mut() = self.uri;
        *request.version_mut() = Version::HTTP_11;
        *request.headers_mut() = self.headers;
        request
    }
}

/// Decides who serves a connection from the bytes it has sent so far (its
/// first request head, whole or in part). Pure, so it can be tested and
/// fuzzed on its own: [`Classification::Direct`] only for a complete head,
/// exactly the bytes given, of `GET` [`EVENTS_PATH`] (optionally with a
/// query) over HTTP/1.1 without a body, `Expect` or `Upgrade`;
/// [`Classification::Incomplete`] only while httparse finds the head
/// partial, under [`MAX_HEAD`], and it could still be one. Once anything
/// else is certain it is [`Classification::ToHyper`], without waiting for
/// the rest of the head, and more bytes never change that.
pub fn classify(buf: &[u8]) -> Classification {
    use Classification::{Direct, Incomplete, ToHyper};

    // `GET /api/admin/events`, then a space or a query, as far as it has
    // arrived. The router matches the raw path (no percent-decoding, no
    // slash merging), so any other byte here is another route or none.
    let target = b"GET ".len();
    let path_end = target + EVENTS_PATH.len();
    let expected = b"GET ".iter().chain(EVENTS_PATH.as_bytes());
    if !buf.iter().zip(expected).all(|(got, want)| got == want)
        || buf.get(path_end).is_some_and(|b| !matches!(b, b' ' | b'?'))
    {
        return ToHyper(Reason::NotAStreamRequest);
    }

    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Incomplete,
        Ok(httparse::Status::Partial) => return ToHyper(Reason::TooLong),
        Err(httparse::Error::TooManyHeaders) => return ToHyper(Reason::TooManyHeaders),
        Err(_) => return ToHyper(Reason::Malformed),
    };
    if len > MAX_HEAD {
        return ToHyper(Reason::TooLong);
    }
    if parsed.version != Some(1) {
        return ToHyper(Reason::Version);
    }
    if len != buf.len() {
        return ToHyper(Reason::Pipelined);
    }
    let (Some("GET"), Some(path)) = (parsed.method, parsed.path) else {
        return ToHyper(Reason::NotAStreamRequest);
    };
    // The same parser hyper uses, so the router sees the same URI either way.
    let Ok(uri) = Uri::try_from(path) else {
        return ToHyper(Reason::Malformed);
    };
    let only_path_and_query = uri.scheme().is_none() && uri.authority().is_none();
    let raw_path = path.split_once('?').map_or(path, |(p, _)| p);
    if !only_path_and_query || raw_path != EVENTS_PATH || uri.path() != EVENTS_PATH {
        return ToHyper(Reason::NotAStreamRequest);
    }

    let mut map = HeaderMap::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let Ok(name) = HeaderName::from_bytes(h.name.as_bytes()) else {
            return ToHyper(Reason::Malformed);
        };
        if name == header::TRANSFER_ENCODING || name == header::CONTENT_LENGTH && h.value != b"0" {
            return ToHyper(Reason::Body);
        }
        if name == header::EXPECT {
            return ToHyper(Reason::Expect);
        }
        if name == header::UPGRADE {
            return ToHyper(Reason::Upgrade);
        }
        let Ok(value) = HeaderValue::from_bytes(h.value) else {
            return ToHyper(Reason::Malformed);
        };
        map.append(name, value);
    }
    Direct(StreamHead { uri, headers: map })
}

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
        let heads = HeadsInProgress::for_budget(self.slots.budget(), self.deadlines.head);
        let accepting = tracker.clone();
        accepting.spawn(accept_loop(self, heads, listener, tracker, tx, stop));
        rx
    }
}

async fn accept_loop(
    door: FrontDoor,
    heads: HeadsInProgress,
    listener: TcpListener,
    tracker: TaskTracker,
    tx: mpsc::Sender<(Conn, SocketAddr)>,
    stop: CancellationToken,
) {
    while let Some((tcp, peer, slot)) = door
        .slots
        .accept_making_room(&listener, &stop, &heads)
        .await
    {
        // Counted from the accept, so that "oldest" is in accept order.
        let ticket = heads.enter();
        // Nagle's algorithm would hold small SSE frames back for up to 40 ms.
        let _ = tcp.set_nodelay(true);
        tracker.spawn(first_request(
            tcp,
            peer,
            slot,
            ticket,
            door.clone(),
            tracker.clone(),
            tx.clone(),
            stop.clone(),
        ));
    }
}

/// Reads the first request head and decides who serves the connection.
#[allow(clippy::too_many_arguments)]
async fn first_request(
    mut tcp: TcpStream,
    peer: SocketAddr,
    slot: ConnectionSlot,
    ticket: HeadTicket,
    door: FrontDoor,
    tracker: TaskTracker,
    tx: mpsc::Sender<(Conn, SocketAddr)>,
    stop: CancellationToken,
) {
    let mut buf = BytesMut::with_capacity(1024);
    let head = tokio::select! {
        () = stop.cancelled() => return,
        why = ticket.closed() => {
            tracing::debug!(%peer, ?why, "closed before its first head was in");
            return;
        }
        read = read_head(&mut tcp, &mut buf) => match read {
            Ok(head) => head,
            Err(_) => return,
        },
    };
    match head {
        Some(head) => {
            drop(ticket);
            serve_stream(tcp, peer, slot, head.into_request(), door, tracker).await;
        }
        None => {
            // Still counted until hyper has the head (it may have it already).
            let conn = Conn::new(buf.freeze(), tcp, slot).awaiting_head(ticket);
            let _ = tx.send((conn, peer)).await;
        }
    }
}

/// Reads until [`classify`] decides. `Ok(None)` hands the connection, with
/// what was read, to hyper.
async fn read_head(tcp: &mut TcpStream, buf: &mut BytesMut) -> std::io::Result<Option<StreamHead>> {
    loop {
        if tcp.read_buf(buf).await? == 0 {
            // Closed before a whole head: hyper answers or drops it.
            return Ok(None);
        }
        match classify(buf) {
            Classification::Incomplete => buf.reserve(1024),
            Classification::Direct(head) => return Ok(Some(head)),
            Classification::ToHyper(reason) => {
                tracing::trace!(?reason, "connection handed to hyper");
                return Ok(None);
            }
        }
    }
}
/// Runs the request through the router and writes its response: a body of
/// unknown length (an opened stream) chunked, on a task of its own; any
/// other whole, then the connection is closed.
async fn serve_stream(
    mut tcp: TcpStream,
    peer: SocketAddr,
    connection: ConnectionSlot,
    mut request: Request<Body>,
    door: FrontDoor,
    tracker: TaskTracker,
) {
    request.extensions_mut().insert(ConnectInfo(peer));
    let Ok(response) = door.router.oneshot(request).await;
    let (mut parts, body) = response.into_parts();
    let end = parts.extensions.remove::<StreamEnd>();

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
    match axum::body::HttpBody::size_hint(&body).exact() {
        None => {
            // No further request is read on this connection.
            head.extend_from_slice(b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n");
            // A new connection's empty send buffer takes a head this size
            // at once, so this does not wait on the client.
            let written = WriteDeadline::new(&mut tcp, door.deadlines.write, Ending::Known(None))
                .write_all(&head)
                .await;
            if written.is_ok() {
                // How an operator sees that a proxy opens streams on new
                // connections (docs/operations.md); hyper's have no such line.
                tracing::info!(client = %peer, direct = true, "stream written by the front door");
                // A task of its own, so the stream's life costs only what
                // the stream needs, not the router's future as well.
                tracker.spawn(stream(tcp, body, end, connection, door.deadlines.write));
            }
        }
        Some(_) => {
            let body = axum::body::to_bytes(body, MAX_ERROR_BODY)
                .await
                .unwrap_or_default();
            let _ = write!(
                head,
                "content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            head.extend_from_slice(&body);
            let mut out = WriteDeadline::new(&mut tcp, door.deadlines.write, Ending::Known(None));
            if out.write_all(&head).await.is_ok() {
                let _ = out.shutdown().await;
            }
        }
    }
}

/// Writes the body's chunks until it ends or the client goes away, through
/// the same [`WriteDeadline`] as hyper's connections, which also honours
/// the stream's [`StreamEnd`].
async fn stream(
    mut tcp: TcpStream,
    body: Body,
    end: Option<StreamEnd>,
    _slot: ConnectionSlot,
    write_timeout: Duration,
) {
    let (reader, writer) = tcp.split();
    let mut out = WriteDeadline::new(writer, write_timeout, Ending::Known(end));
    let mut body = body.into_data_stream();
    // Registered once for the stream's life, not again per chunk.
    let closed = client_closed(reader.as_ref());
    tokio::pin!(closed);
    loop {
        let chunk = tokio::select! {
            biased;
            chunk = body.next() => chunk,
            () = &mut closed => return,
        };
        let written = match chunk {
            Some(Ok(data)) => match DataChunk::new(&data) {
                Some(chunk) => write_all(&mut out, &mut chunk.slices()).await,
                None => Ok(()),
            },
            // No last chunk: the client must not take a failed body for a
            // whole one.
            Some(Err(e)) => {
                tracing::warn!(error = %e, "stream body failed; closing the connection");
                return;
            }
            // The stream ended on the server's side: end the body properly.
            None => {
                let _ = write_all(&mut out, &mut [IoSlice::new(LAST_CHUNK)]).await;
                return;
            }
        };
        if written.is_err() {
            // Gone, or given up on (`WriteDeadline` logged and counted it).
            return;
        }
    }
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

/// Writes every slice, in as few vectored writes as the socket allows.
async fn write_all<W: AsyncWrite + Unpin>(
    out: &mut W,
    mut slices: &mut [IoSlice<'_>],
) -> std::io::Result<()> {
    while !slices.is_empty() {
        let n =
            std::future::poll_fn(|cx| Pin::new(&mut *out).poll_write_vectored(cx, slices)).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, n);
    }
    Ok(())
}

/// One data chunk of `Transfer-Encoding: chunked`: size line, data, CRLF,
/// written in one vectored write (the shared frame bytes are not copied).
/// Never empty: a chunk of size zero is the last chunk, `0\r\n\r\n`, and
/// would end the stream's body where the client sees a clean end.
struct DataChunk<'a> {
    /// The size in hex and CRLF: at most 16 digits and 2 bytes.
    size: [u8; 18],
    size_len: usize,
    data: &'a [u8],
}

impl<'a> DataChunk<'a> {
    /// `None` for empty data, which has no data chunk.
    fn new(data: &'a [u8]) -> Option<Self> {
        if data.is_empty() {
            return None;
        }
        let mut size = [0u8; 18];
        let mut cursor = &mut size[..];
        write!(cursor, "{:x}\r\n", data.len()).expect("a usize in hex fits");
        let size_len = 18 - cursor.len();
        Some(Self {
            size,
            size_len,
            data,
        })
    }

    fn slices(&self) -> [IoSlice<'_>; 3] {
        [
            IoSlice::new(&self.size[..self.size_len]),
            IoSlice::new(self.data),
            IoSlice::new(b"\r\n"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`classify`] decided, comparable.
    #[derive(Debug, PartialEq, Eq)]
    enum Decision {
        Direct,
        ToHyper(Reason),
        Incomplete,
    }
    use Decision::{Direct, Incomplete, ToHyper};

    fn decide(head: &[u8]) -> Decision {
        match classify(head) {
            Classification::Direct(_) => Direct,
            Classification::ToHyper(reason) => ToHyper(reason),
            Classification::Incomplete => Incomplete,
        }
    }

    /// A stream request with `target` and `extra` header lines.
    fn get(target: &str, extra: &str) -> Vec<u8> {
        format!(
            "GET {target} HTTP/1.1\r\nHost: belfry.test\r\nAuthorization: Bearer t\r\n{extra}\r\n"
        )
        .into_bytes()
    }

    fn many_headers(n: usize) -> String {
        (0..n).map(|i| format!("X-{i}: v\r\n")).collect()
    }

    /// Every case the module header lists, and more. `router` is whether
    /// the router would serve the stream for this request-target (checked
    /// against axum below), where the row is about the target.
    #[allow(clippy::type_complexity)]
    fn table() -> Vec<(&'static str, Vec<u8>, Decision, Option<bool>)> {
        let long_value = "v".repeat(MAX_HEAD);
        let nearly_long = "v".repeat(MAX_HEAD - 200);
        vec![
            ("a normal request", get(EVENTS_PATH, ""), Direct, Some(true)),
            (
                "a query string",
                get("/api/admin/events?min_severity=warning&x=%20", ""),
                Direct,
                Some(true),
            ),
            (
                "an empty query",
                get("/api/admin/events?", ""),
                Direct,
                Some(true),
            ),
            (
                "Content-Length: 0",
                get(EVENTS_PATH, "Content-Length: 0\r\n"),
                Direct,
                None,
            ),
            (
                "no Host (hyper does not require one either)",
                b"GET /api/admin/events HTTP/1.1\r\n\r\n".to_vec(),
                Direct,
                None,
            ),
            (
                "bare LF line ends (httparse, so hyper, takes them)",
                b"GET /api/admin/events HTTP/1.1\nHost: x\n\n".to_vec(),
                Direct,
                None,
            ),
            (
                "32 headers",
                get(EVENTS_PATH, &many_headers(30)),
                Direct,
                None,
            ),
            (
                "a long head under the limit",
                get(EVENTS_PATH, &format!("X-Long: {nearly_long}\r\n")),
                Direct,
                None,
            ),
            (
                "obs-text in a value",
                get(EVENTS_PATH, "X-Name: caf\u{e9}\r\n"),
                Direct,
                None,
            ),
            // Bodies.
            (
                "Content-Length: 5",
                get(EVENTS_PATH, "Content-Length: 5\r\n"),
                ToHyper(Reason::Body),
                None,
            ),
            (
                "Content-Length: 00",
                get(EVENTS_PATH, "Content-Length: 00\r\n"),
                ToHyper(Reason::Body),
                None,
            ),
            (
                "Content-Length 0 and 1",
                get(EVENTS_PATH, "Content-Length: 0\r\nContent-Length: 1\r\n"),
                ToHyper(Reason::Body),
                None,
            ),
            (
                "Transfer-Encoding",
                get(EVENTS_PATH, "Transfer-Encoding: chunked\r\n"),
                ToHyper(Reason::Body),
                None,
            ),
            (
                "transfer-encoding in lower case",
                get(EVENTS_PATH, "transfer-encoding: identity\r\n"),
                ToHyper(Reason::Body),
                None,
            ),
            // Protocol.
            (
                "HTTP/1.0",
                b"GET /api/admin/events HTTP/1.0\r\nHost: x\r\n\r\n".to_vec(),
                ToHyper(Reason::Version),
                None,
            ),
            (
                "Expect",
                get(EVENTS_PATH, "Expect: 100-continue\r\n"),
                ToHyper(Reason::Expect),
                None,
            ),
            (
                "Upgrade",
                get(EVENTS_PATH, "Connection: Upgrade\r\nUpgrade: websocket\r\n"),
                ToHyper(Reason::Upgrade),
                None,
            ),
            (
                "the HTTP/2 preface",
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
                ToHyper(Reason::NotAStreamRequest),
                None,
            ),
            // Other requests, decided on the first byte that differs.
            (
                "HEAD",
                b"HEAD /api/admin/events HTTP/1.1\r\n\r\n".to_vec(),
                ToHyper(Reason::NotAStreamRequest),
                None,
            ),
            (
                "HEAD, first byte only",
                b"H".to_vec(),
                ToHyper(Reason::NotAStreamRequest),
                None,
            ),
            (
                "a lower-case method",
                b"get /api/admin/events HTTP/1.1\r\n\r\n".to_vec(),
                ToHyper(Reason::NotAStreamRequest),
                None,
            ),
            (
                "POST",
                b"POST /api/admin/events HTTP/1.1\r\n".to_vec(),
                ToHyper(Reason::NotAStreamRequest),
                None,
            ),
            (
                "another route, half sent",
                b"GET /api/notif".to_vec(),
                ToHyper(Reason::NotAStreamRequest),
                Some(false),
            ),
            (
                "an absolute-form target",
                get("http://belfry.test/api/admin/events", ""),
                ToHyper(Reason::NotAStreamRequest),
                // The router would take it (from hyper, which is fine).
                Some(true),
            ),
            (
                "a leading empty line",
                [b"\r\n".as_slice(), &get(EVENTS_PATH, "")].concat(),
                ToHyper(Reason::NotAStreamRequest),
                None,
            ),
            // Paths the router matches byte for byte.
            (
                "a percent-encoded letter",
                get("/api/admin/%65vents", ""),
                ToHyper(Reason::NotAStreamRequest),
                Some(false),
            ),
            (
                "a percent-encoded letter at the end",
                get("/api/admin/event%73", ""),
                ToHyper(Reason::NotAStreamRequest),
                Some(false),
            ),
            (
                "a percent-encoded question mark",
                get("/api/admin/events%3Fx=1", ""),
                ToHyper(Reason::NotAStreamRequest),
                Some(false),
            ),
            (
                "a leading doubled slash",
                get("//api/admin/events", ""),
                ToHyper(Reason::NotAStreamRequest),
                Some(false),
            ),
            (
                "a doubled slash inside",
                get("/api//admin/events", ""),
                ToHyper(Reason::NotAStreamRequest),
                Some(false),
            ),
            (
                "a trailing slash",
                get("/api/admin/events/", ""),
                ToHyper(Reason::NotAStreamRequest),
                Some(false),
            ),
            (
                "a longer last segment",
                get("/api/admin/eventsource", ""),
                ToHyper(Reason::NotAStreamRequest),
                Some(false),
            ),
            (
                "a longer last segment, half sent",
                b"GET /api/admin/eventsource".to_vec(),
                ToHyper(Reason::NotAStreamRequest),
                Some(false),
            ),
            (
                "a fragment",
                get("/api/admin/events#x", ""),
                ToHyper(Reason::NotAStreamRequest),
                None,
            ),
            // Sizes.
            (
                "33 headers",
                get(EVENTS_PATH, &many_headers(31)),
                ToHyper(Reason::TooManyHeaders),
                None,
            ),
            (
                "a whole head over 8 KiB",
                get(EVENTS_PATH, &format!("X-Long: {long_value}\r\n")),
                ToHyper(Reason::TooLong),
                None,
            ),
            (
                "half a head over 8 KiB",
                format!("GET /api/admin/events HTTP/1.1\r\nX-Long: {long_value}").into_bytes(),
                ToHyper(Reason::TooLong),
                None,
            ),
            // Pipelining.
            (
                "a pipelined request",
                [
                    get(EVENTS_PATH, ""),
                    b"GET /healthz HTTP/1.1\r\n\r\n".to_vec(),
                ]
                .concat(),
                ToHyper(Reason::Pipelined),
                None,
            ),
            (
                "one byte after the head",
                [get(EVENTS_PATH, ""), b"G".to_vec()].concat(),
                ToHyper(Reason::Pipelined),
                None,
            ),
            // Malformed.
            (
                "a space in a header name",
                get(EVENTS_PATH, "Bad Name: x\r\n"),
                ToHyper(Reason::Malformed),
                None,
            ),
            (
                "two spaces after the target",
                b"GET /api/admin/events  HTTP/1.1\r\n\r\n".to_vec(),
                ToHyper(Reason::Malformed),
                None,
            ),
            (
                "no version",
                b"GET /api/admin/events\r\n\r\n".to_vec(),
                ToHyper(Reason::NotAStreamRequest),
                None,
            ),
            // Not there yet.
            ("nothing yet", Vec::new(), Incomplete, None),
            (
                "part of the path",
                b"GET /api/ad".to_vec(),
                Incomplete,
                None,
            ),
            (
                "the whole path",
                b"GET /api/admin/events".to_vec(),
                Incomplete,
                None,
            ),
            (
                "half a head",
                b"GET /api/admin/events HTTP/1.1\r\nHost: x\r\n".to_vec(),
                Incomplete,
                None,
            ),
            (
                "all but the last LF",
                b"GET /api/admin/events HTTP/1.1\r\nHost: x\r\n\r".to_vec(),
                Incomplete,
                None,
            ),
        ]
    }

    #[test]
    fn every_kind_of_first_request_is_served_by_the_right_side() {
        let mut wrong = Vec::new();
        for (name, head, expected, _) in table() {
            let got = decide(&head);
            if got != expected {
                wrong.push(format!("{name}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn a_direct_request_keeps_its_target_and_headers() {
        let head = get(
            "/api/admin/events?min_severity=warning",
            "Last-Event-ID: 7\r\n",
        );
        let Classification::Direct(head) = classify(&head) else {
            panic!("a plain stream request is served here");
        };
        let request = head.into_request();
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.version(), Version::HTTP_11);
        assert_eq!(request.uri().path(), EVENTS_PATH);
        assert_eq!(request.uri().query(), Some("min_severity=warning"));
        assert_eq!(request.headers()["last-event-id"], "7");
        assert_eq!(request.headers()[header::AUTHORIZATION], "Bearer t");
    }

    #[test]
    fn no_prefix_of_a_direct_head_is_decided_early() {
        let head = get("/api/admin/events?x=1", "Last-Event-ID: 7\r\n");
        for end in 0..head.len() {
            assert_eq!(decide(&head[..end]), Incomplete, "{end} bytes");
        }
        assert_eq!(decide(&head), Direct);
    }

    /// The router's own matching (axum, on the same route path) agrees
    /// with the decision on every row about the request-target: what is
    /// served here is what the router serves as the stream, and the
    /// variants it would not match go to hyper, which answers 404 as the
    /// router does.
    #[tokio::test]
    async fn the_decision_agrees_with_the_router_on_every_target() {
        use axum::routing::get as route_get;
        let router: Router = Router::new()
            .route(EVENTS_PATH, route_get(|| async { "stream" }))
            .fallback(|| async { "elsewhere" });
        for (name, head, decision, router_streams) in table() {
            let Some(router_streams) = router_streams else {
                continue;
            };
            let line = head.split(|b| *b == b'\n').next().unwrap();
            let target = std::str::from_utf8(line)
                .unwrap()
                .split(' ')
                .nth(1)
                .unwrap_or("/");
            let request = Request::get(target).body(Body::empty()).unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            let body = axum::body::to_bytes(response.into_body(), 64)
                .await
                .unwrap();
            let streams = body == "stream";
            assert_eq!(streams, router_streams, "{name}: the router's match");
            if decision == Direct {
                assert!(streams, "{name}: served here but not the router's stream");
            }
        }
    }

    #[test]
    fn an_empty_chunk_is_never_framed() {
        // `0\r\n\r\n` would end the body: there is no data chunk for nothing.
        assert!(DataChunk::new(b"").is_none());
        let frame = |data: &[u8]| {
            let chunk = DataChunk::new(data).expect("data");
            chunk
                .slices()
                .iter()
                .flat_map(|s| s.to_vec())
                .collect::<Vec<u8>>()
        };
        assert_eq!(frame(b"hello"), b"5\r\nhello\r\n");
        assert_eq!(frame(b"x"), b"1\r\nx\r\n");
        let big = vec![b'a'; 0x1000];
        let framed = frame(&big);
        assert!(framed.starts_with(b"1000\r\naaa"));
        assert!(framed.ends_with(b"a\r\n"));
        assert_eq!(framed.len(), 6 + 0x1000 + 2);
    }
}
