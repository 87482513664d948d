//! Clients that do not play along: sockets that send nothing, half a head,
//! half a body, or stop reading a stream. Each is closed on time and costs
//! the clients that do play along nothing.

use std::time::{Duration, Instant};

use belfry_e2e::{TestServer, WAIT};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (or resets it); returns
/// what arrived and when the connection ended.
async fn until_closed(mut tcp: TcpStream) -> (String, Instant) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(WAIT, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    (String::from_utf8_lossy(&seen).into_owned(), Instant::now())
}

#[tokio::test]
async fn idle_and_trickling_connections_are_closed_on_time_while_real_clients_are_served() {
    let app = TestServer::spawn_with(|c| {
        c.request_head_timeout = Duration::from_secs(1);
        c.request_body_timeout = Duration::from_secs(1);
    })
    .await;
    let host = app.addr;
    let kinds: [(&str, String); 4] = [
        ("nothing at all", String::new()),
        (
            "half a head",
            format!("POST /api/notifications HTTP/1.1\r\nHost: {host}\r\n"),
        ),
        (
            "half a body",
            format!(
                "POST /api/notifications HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"kind\""
            ),
        ),
        (
            "idle after a finished request",
            format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        ),
    ];
    const EACH: usize = 40;
    let opened = Instant::now();
    let mut held = Vec::new();
    for (kind, bytes) in &kinds {
        for _ in 0..EACH {
            let mut tcp = TcpStream::connect(app.addr).await.unwrap();
            tcp.write_all(bytes.as_bytes()).await.unwrap();
            held.push((*kind, tokio::spawn(until_closed(tcp))));
        }
    }

    // Meanwhile the real clients get everything done.
    let mut stream = app.connect(&app.admin_token("ann"), None, "").await;
    stream.ready().await;
    let n = app.publish_titled("still served").await;
    assert_eq!(stream.notifications(1).await, [n]);

    for (kind, task) in held {
        let (answer, closed) = task.await.unwrap();
        let took = closed - opened;
        assert!(
            took < Duration::from_secs(6),
            "{kind}: closed after {took:?}, deadline 1 s"
        );
        match kind {
            "half a body" => assert!(answer.starts_with("HTTP/1.1 408"), "{kind}: {answer}"),
            "idle after a finished request" => {
                assert!(answer.starts_with("HTTP/1.1 200"), "{kind}: {answer}")
            }
            _ => assert!(answer.is_empty(), "{kind}: {answer}"),
        }
    }
    // The stream was written to all along, so its deadline never fired.
    let n = app.publish_titled("and after").await;
    assert_eq!(stream.notifications(1).await, [n]);
}

/// Who writes a stream: the front door, when the stream request opens its
/// connection, or hyper, when it comes after another on a kept-alive one.
/// The rules for stalled streams hold on both.
#[derive(Debug, Clone, Copy)]
enum Path {
    FrontDoor,
    KeptAlive,
}

const PATHS: [Path; 2] = [Path::FrontDoor, Path::KeptAlive];

/// Opens a stream with `token` that replays the whole history, on a socket
/// with a small receive buffer, and never reads from it.
async fn stalled_stream(app: &TestServer, token: &str, path: Path) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut tcp = socket.connect(app.addr).await.unwrap();
    let host = app.addr;
    let first = match path {
        Path::FrontDoor => String::new(),
        Path::KeptAlive => format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n"),
    };
    let request = format!(
        "{first}GET /api/admin/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nLast-Event-ID: 0\r\n\r\n",
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    tcp
}

/// Publishes a history larger than the most a socket's send buffer can
/// grow to here (`tcp_wmem`'s maximum), so that a stream replaying it to
/// a client that does not read fills its socket at once.
async fn fill(app: &TestServer) {
    let wmem_max: usize = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20);
    let blob = "x".repeat(15 * 1024);
    let count = wmem_max * 3 / 2 / blob.len() + 20;
    let token = app.publish_token();
    let body =
        json!({"kind": "order.created", "title": "filler", "data": {"blob": blob}}).to_string();
    for _ in 0..count.div_ceil(8) {
        let batch = (0..8).map(|_| app.publish_raw(Some(&token), body.clone(), None));
        for res in futures_util::future::join_all(batch).await {
            assert_eq!(res.status(), 201);
        }
    }
}

async fn wait_for_metric(app: &TestServer, name: &str, value: f64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = app.metric(name).await;
        if now == value {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} stayed at {now}, expected {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `count` streams in all were closed for `reason` without
/// waiting for their clients, and none is left open.
async fn wait_dropped(app: &TestServer, reason: &str, count: usize) {
    let dropped = format!(r#"belfry_streams_dropped_total{{reason="{reason}"}}"#);
    wait_for_metric(app, &dropped, count as f64).await;
    wait_for_metric(app, "belfry_connected_streams", 0.0).await;
}

#[tokio::test]
async fn a_stream_whose_client_stops_reading_is_closed_after_the_write_deadline() {
    let app = TestServer::spawn_with(|c| c.stream_write_timeout = Duration::from_secs(1)).await;
    fill(&app).await;
    for (i, path) in PATHS.into_iter().enumerate() {
        let _tcp = stalled_stream(&app, &app.admin_token("ann"), path).await;
        wait_dropped(&app, "write_timeout", i + 1).await;
    }
}

#[tokio::test]
async fn token_expiry_ends_a_stream_whose_client_stops_reading_without_waiting_for_it() {
    // The write deadline is far away: only the expiry can end the stream.
    let app = TestServer::spawn_with(|c| c.stream_write_timeout = Duration::from_secs(600)).await;
    fill(&app).await;
    for (i, path) in PATHS.into_iter().enumerate() {
        let exp = belfry_e2e::now() + 2;
        let token = app.sign(json!({"sub": "ann", "role": "admin", "exp": exp}));
        let _tcp = stalled_stream(&app, &token, path).await;
        wait_dropped(&app, "token_expired", i + 1).await;
    }
}

#[tokio::test]
async fn signing_out_ends_a_stream_whose_client_stops_reading_without_waiting_for_it() {
    let app = TestServer::spawn_with(|c| c.stream_write_timeout = Duration::from_secs(600)).await;
    fill(&app).await;
    app.create_user("ann@shop.example", "correct horse battery", true)
        .await;
    for (i, path) in PATHS.into_iter().enumerate() {
        let tokens: belfry_proto::TokenResponse = app
            .login("ann@shop.example", "correct horse battery")
            .await
            .json()
            .await
            .unwrap();
        let _tcp = stalled_stream(&app, &tokens.access_token, path).await;
        wait_for_metric(&app, "belfry_connected_streams", 1.0).await;
        let res = app
            .http
            .post(app.url("/api/auth/logout"))
            .json(&json!({"refresh_token": tokens.refresh_token}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "{path:?}");
        wait_dropped(&app, "revoked", i + 1).await;
    }
}

#[tokio::test]
async fn a_stream_served_on_a_kept_alive_connection_outlives_the_head_deadline() {
    let app = TestServer::spawn_with(|c| {
        c.request_head_timeout = Duration::from_secs(1);
        c.keepalive = Duration::from_secs(1);
    })
    .await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    // A first request, so the stream is served by hyper, not the front door.
    let host = app.addr;
    let token = app.admin_token("ann");
    tcp.write_all(
        format!(
            "GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\nGET /api/admin/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let mut read_until = async |needle: &str, seen: &mut String| {
        tokio::time::timeout(WAIT, async {
            while !seen.contains(needle) {
                let n = tcp.read(&mut buf).await.unwrap();
                assert!(n > 0, "closed before {needle:?}: {seen}");
                seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {needle:?} in {seen}"));
    };
    read_until("event: ready", &mut seen).await;
    // Three keepalives, so three head deadlines, later it is still open.
    seen.clear();
    for _ in 0..3 {
        read_until(": keepalive\n", &mut seen).await;
        seen = seen.replacen(": keepalive\n", "", 1);
    }
    let n = app.publish_titled("three seconds on").await;
    read_until(&format!("id: {}\n", n.id), &mut seen).await;
}
