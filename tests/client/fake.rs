//! A scripted HTTP server on a plain `TcpListener`.
//!
//! The real server is well-behaved by design: it never goes silent while
//! holding a stream open, never answers 503 on demand, and never replays a
//! notification the client already has. A fake is needed to see how the
//! client copes when a peer (a proxy, a dead NAT mapping, an overloaded or
//! older server) does. It records every request it gets.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// What the fake does with a connection.
pub enum Reply {
    /// Writes these bytes and closes the connection.
    Close(String),
    /// Writes these bytes and then holds the connection open, silent.
    Hold(String),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    /// Request line and headers.
    pub head: String,
    pub body: String,
    pub at: Instant,
}

impl Request {
    /// A header's value (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

pub struct FakeServer {
    pub base: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    /// Answers the `n`th connection (from 0) with `script(n)`.
    pub async fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_with(move |n, _| script(n)).await
    }

    /// Answers the `n`th connection (from 0) with `script(n, request)`.
    pub async fn start_with(
        script: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let script = Arc::new(script);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            let mut n = 0;
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let index = n;
                n += 1;
                let seen = seen.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => head.extend_from_slice(&buf[..k]),
                        }
                    }
                    let mut request = Request {
                        head: String::from_utf8_lossy(&head).into_owned(),
                        body: String::new(),
                        at: Instant::now(),
                    };
                    // The body: what came with the head, then the rest.
                    let end = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    let mut body = head.split_off(end);
                    let length: usize = request
                        .header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    while body.len() < length {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(k) => body.extend_from_slice(&buf[..k]),
                        }
                    }
                    request.head = String::from_utf8_lossy(&head).into_owned();
                    request.body = String::from_utf8_lossy(&body).into_owned();
                    let reply = script(index, &request);
                    seen.lock().unwrap().push(request);
                    match reply {
                        Reply::Close(bytes) => {
                            let _ = sock.write_all(bytes.as_bytes()).await;
                            let _ = sock.shutdown().await;
                        }
                        Reply::Hold(bytes) => {
                            let _ = sock.write_all(bytes.as_bytes()).await;
                            // Silent until the client gives up on it.
                            let _ = sock.read(&mut buf).await;
                        }
                    }
                });
            }
        });
        Self {
            base,
            requests,
            task,
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Headers of a 200 event stream whose body runs until the connection closes.
pub fn stream_head() -> String {
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n".to_owned()
}

/// The opening block of a stream: `retry:`, `id:` and `event: ready`.
pub fn opening(retry_ms: u64, last_id: u64) -> String {
    format!(
        "retry: {retry_ms}\nid: {last_id}\nevent: ready\ndata: {{\"last_id\":{last_id},\"unread\":{{\"total\":0,\"info\":0,\"warning\":0,\"critical\":0}}}}\n\n"
    )
}

/// A notification frame.
pub fn notification(id: u64) -> String {
    format!(
        "id: {id}\nevent: notification\ndata: {{\"id\":{id},\"kind\":\"order.created\",\"severity\":\"info\",\"title\":\"Order {id}\",\"created_at\":\"2026-11-29T10:00:00Z\"}}\n\n"
    )
}

/// A complete JSON answer.
pub fn json(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A complete error answer.
pub fn error(status: &str, extra_headers: &str, code: &str) -> String {
    let body = format!(r#"{{"error":{{"code":"{code}","message":"{code} from the fake"}}}}"#);
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    )
}
