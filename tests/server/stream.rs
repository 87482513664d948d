//! `GET /api/admin/events`: delivery, resume, limits of a stream's life.

use std::sync::Arc;
use std::time::Duration;

use belfry_e2e::{TestServer, error_body, now};
use belfry_proto::Severity;
use serde_json::json;

#[tokio::test]
async fn a_stream_opens_with_sse_headers_and_one_block_of_retry_id_and_ready() {
    let app = TestServer::spawn_with(|c| c.retry = Duration::from_millis(1500)).await;
    let before = app.publish_titled("before").await;
    let mut s = app.connect(&app.admin_token("ann"), None, "").await;
    assert_eq!(s.headers["content-type"], "text/event-stream");
    assert_eq!(s.headers["cache-control"], "no-cache");
    assert_eq!(s.headers["x-accel-buffering"], "no");
    let first = s.next_frame().await.unwrap();
    assert_eq!(first.retry, Some(1500), "{first:?}");
    assert_eq!(first.event.as_deref(), Some("ready"), "{first:?}");
    assert_eq!(first.id, Some(before.id.to_string()), "{first:?}");
    let ready: serde_json::Value = first.json();
    assert_eq!(ready["last_id"], before.id);
    assert!(ready["unread"]["total"].is_u64(), "{ready}");
}

#[tokio::test]
async fn the_ready_id_is_where_the_stream_resumes_so_a_client_dropped_before_any_notification_loses_nothing()
 {
    let app = TestServer::spawn().await;
    let token = app.admin_token("ann");
    let first = app.publish_titled("one").await;
    let _second = app.publish_titled("two").await;

    // Resuming from the first: the ready id is the first, not the head, so
    // a client that drops during the replay asks for the second again.
    let mut s = app.connect(&token, Some(first.id), "").await;
    let ready = s.ready_frame().await;
    assert_eq!(ready.id, Some(first.id.to_string()));
    drop(s);

    // A fresh stream: the ready id is the head. Three are published while
    // the client is away; resuming with that id (as every SSE client does
    // with the last id it saw) brings exactly those three.
    let mut s = app.connect(&token, None, "").await;
    let ready_id: u64 = s.ready_frame().await.id.unwrap().parse().unwrap();
    drop(s);
    let mut missed = Vec::new();
    for title in ["a", "b", "c"] {
        missed.push(app.publish_titled(title).await);
    }
    let mut s = app.connect(&token, Some(ready_id), "").await;
    s.ready().await;
    assert_eq!(s.notifications(3).await, missed);
}

#[tokio::test]
async fn a_published_notification_reaches_every_connected_admin() {
    let app = TestServer::spawn().await;
    let mut streams = Vec::new();
    for who in ["ann", "bob", "cyd"] {
        let mut s = app.connect(&app.admin_token(who), None, "").await;
        s.ready().await;
        streams.push(s);
    }
    let published = app
        .publish(json!({"kind": "fraud.detected", "title": "Card testing on #77", "data": {"order": 77}}))
        .await;
    for s in &mut streams {
        let got = s.notifications(1).await;
        assert_eq!(got, std::slice::from_ref(&published));
    }
}

#[tokio::test]
async fn an_idle_stream_gets_keepalive_comments() {
    let app = TestServer::spawn_with(|c| c.keepalive = Duration::from_secs(1)).await;
    let mut s = app.connect(&app.admin_token("ann"), None, "").await;
    s.ready().await;
    let f = s.next_frame().await.unwrap();
    assert_eq!(f.comments, ["keepalive"], "{f:?}");
    assert_eq!(f.event, None);
}

#[tokio::test]
async fn resume_after_a_disconnect_replays_only_what_was_missed() {
    let app = TestServer::spawn().await;
    let token = app.admin_token("ann");
    let mut s = app.connect(&token, None, "").await;
    s.ready().await;
    let seen = app.publish_titled("seen").await;
    assert_eq!(s.notifications(1).await[0].id, seen.id);
    drop(s);

    let missed = [
        app.publish_titled("missed 1").await,
        app.publish_titled("missed 2").await,
    ];
    let mut s = app.connect(&token, Some(seen.id), "").await;
    assert_eq!(s.ready().await, missed[1].id);
    assert_eq!(s.notifications(2).await, missed);
    let live = app.publish_titled("live").await;
    assert_eq!(s.notifications(1).await, [live]);
}

#[tokio::test]
async fn resume_after_a_restart_on_the_same_data_dir_loses_and_repeats_nothing() {
    let mut app = TestServer::spawn().await;
    let token = app.admin_token("ann");
    let mut s = app.connect(&token, None, "").await;
    s.ready().await;
    let first = app.publish_titled("first").await;
    assert_eq!(s.notifications(1).await[0].id, first.id);

    let before_stop = app.publish_titled("published before the restart").await;
    app.restart().await;
    // The stream was ended by the shutdown, after what it had already sent.
    let rest = s.until_end().await;
    assert!(rest.iter().all(|f| f.event.as_deref() != Some("ready")));
    let after_restart = app.publish_titled("published after the restart").await;

    let mut s = app.connect(&token, Some(first.id), "").await;
    s.ready().await;
    let got = s.notifications(2).await;
    assert_eq!(got, [before_stop, after_restart.clone()]);
    assert!(
        after_restart.id > first.id + 1,
        "ids keep increasing across restarts"
    );
    let next = app.publish_titled("next").await;
    assert_eq!(s.notifications(1).await, [next]);
}

#[tokio::test]
async fn resuming_while_publishing_continuously_has_no_gap_and_no_duplicate() {
    const TOTAL: u64 = 300;
    let app = Arc::new(TestServer::spawn().await);
    let publisher = {
        let app = app.clone();
        tokio::spawn(async move {
            // Four concurrent publishers, so commits batch and interleave.
            let tasks: Vec<_> = (0..4)
                .map(|p| {
                    let app = app.clone();
                    tokio::spawn(async move {
                        for i in 0..TOTAL / 4 {
                            app.publish_titled(&format!("p{p} #{i}")).await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        })
    };

    let token = app.admin_token("ann");
    let mut seen: Vec<u64> = Vec::new();
    let mut last: Option<u64> = Some(0);
    let mut reconnects = 0;
    while seen.len() < TOTAL as usize {
        let mut s = app.connect(&token, last, "").await;
        s.ready().await;
        // Read a few, then drop the connection mid-stream and resume.
        let take = 1 + (reconnects % 17);
        let take = take.min(TOTAL as usize - seen.len());
        for n in s.notifications(take).await {
            seen.push(n.id);
            last = Some(n.id);
        }
        reconnects += 1;
    }
    publisher.await.unwrap();
    assert_eq!(
        seen,
        (1..=TOTAL).collect::<Vec<_>>(),
        "after {reconnects} reconnects"
    );
    assert!(reconnects > 10);
}

#[tokio::test]
async fn a_last_event_id_the_server_never_issued_gets_a_reset() {
    let app = TestServer::spawn().await;
    let n = app.publish_titled("only one").await;
    let mut s = app
        .connect(&app.admin_token("ann"), Some(n.id + 50), "")
        .await;
    s.ready().await;
    let reset = s.next_event().await;
    assert_eq!(reset.event.as_deref(), Some("reset"), "{reset:?}");
    let live = app.publish_titled("after reset").await;
    assert_eq!(s.notifications(1).await, [live]);
}

#[tokio::test]
async fn a_non_numeric_last_event_id_is_a_400() {
    let app = TestServer::spawn().await;
    let res = app
        .events_request("")
        .bearer_auth(app.admin_token("ann"))
        .header("last-event-id", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(error_body(res).await["code"], "invalid_last_event_id");
}

#[tokio::test]
async fn filters_limit_a_stream_to_a_severity_and_kinds() {
    let app = TestServer::spawn().await;
    let token = app.admin_token("ann");
    let mut severe = app.connect(&token, None, "?min_severity=warning").await;
    severe.ready().await;
    let mut stock = app
        .connect(&token, None, "?kinds=stock.low,order.created")
        .await;
    stock.ready().await;

    let info = app
        .publish(json!({"kind": "order.created", "title": "info"}))
        .await;
    let warning = app
        .publish(json!({"kind": "stock.low", "title": "warning"}))
        .await;
    let critical = app
        .publish(json!({"kind": "fraud.detected", "title": "critical"}))
        .await;

    let got = severe.notifications(2).await;
    assert_eq!(got, [warning.clone(), critical.clone()]);
    assert!(got.iter().all(|n| n.severity >= Severity::Warning));
    assert_eq!(stock.notifications(2).await, [info, warning]);

    // Filters apply to replay too.
    let mut replay = app.connect(&token, Some(0), "?min_severity=critical").await;
    replay.ready().await;
    assert_eq!(replay.notifications(1).await, [critical]);

    for bad in ["?min_severity=urgent", "?kinds=Not A Kind"] {
        let res = app
            .events_request(bad)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{bad}");
        let err = error_body(res).await;
        assert_eq!(err["code"], "invalid_parameter");
    }
}

#[tokio::test]
async fn the_stream_ends_with_an_expired_event_when_the_token_expires() {
    let app = TestServer::spawn().await;
    let token = app.sign(json!({"sub": "ann", "role": "admin", "exp": now() + 2}));
    let mut s = app.connect(&token, None, "").await;
    s.ready().await;
    let rest = s.until_end().await;
    let last = rest
        .iter()
        .rev()
        .find(|f| f.event.is_some())
        .expect("an event before the end");
    assert_eq!(last.event.as_deref(), Some("expired"), "{rest:?}");
}

#[tokio::test]
async fn graceful_shutdown_ends_open_streams() {
    let mut app = TestServer::spawn().await;
    let mut s = app.connect(&app.admin_token("ann"), None, "").await;
    s.ready().await;
    // stop() itself fails the test if an open stream holds shutdown up.
    app.stop().await;
    assert!(s.until_end().await.iter().all(|f| f.event.is_none()));
}

#[tokio::test]
async fn a_stalled_client_delays_no_one_and_catches_up_from_the_store() {
    const COUNT: usize = 800;
    // A small live buffer, so the stalled stream falls behind it for sure.
    let app = Arc::new(TestServer::spawn_with(|c| c.broadcast_capacity = 32).await);
    let token = app.admin_token("ann");

    // The stalled client: headers read, body never polled, so its socket
    // buffers fill and the server cannot write to it.
    let stalled = app
        .events_request("")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stalled.status(), 200);
    let mut active = app.connect(&app.admin_token("bob"), None, "").await;
    active.ready().await;

    // ~10 MB in all: far more than loopback socket buffers hold.
    let blob = "x".repeat(12 * 1024);
    let tasks: Vec<_> = (0..8)
        .map(|p| {
            let app = app.clone();
            let blob = blob.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..COUNT / 8 {
                    let n = app
                        .publish(json!({"kind": "order.created", "title": format!("p{p} #{i}"), "data": {"blob": blob}}))
                        .await;
                    ids.push(n.id);
                }
                ids
            })
        })
        .collect();
    let mut published = Vec::new();
    for t in tasks {
        published.extend(t.await.unwrap());
    }
    published.sort_unstable();

    // It may fall behind the small buffer too (and catch up the same way).
    let (got, _) = active.notifications_and_resets(COUNT).await;
    let got: Vec<u64> = got.iter().map(|n| n.id).collect();
    assert_eq!(got, published, "the active client got everything, in order");

    let mut stalled = belfry_e2e::SseStream::new(stalled);
    stalled.ready().await;
    // Falling behind also skipped any read/ack events: the client is told
    // to refetch its inbox state.
    let (got, resets) = stalled.notifications_and_resets(COUNT).await;
    let got: Vec<u64> = got.iter().map(|n| n.id).collect();
    assert_eq!(
        got, published,
        "the stalled client caught up with everything, once, in order"
    );
    assert!(
        resets >= 1,
        "the stalled client was told its inbox state may be stale"
    );
    assert!(app.metric("belfry_subscribers_fell_behind_total").await >= 1.0);
}

/// A raw HTTP/1.1 connection, to choose exactly which requests share it.
struct Raw {
    tcp: tokio::net::TcpStream,
    seen: Vec<u8>,
}

impl Raw {
    async fn open(app: &TestServer) -> Self {
        let tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        Self {
            tcp,
            seen: Vec::new(),
        }
    }

    async fn send(&mut self, head: &str) {
        use tokio::io::AsyncWriteExt as _;
        self.tcp.write_all(head.as_bytes()).await.unwrap();
    }

    /// Reads until `needle` has arrived; returns everything read so far.
    async fn until(&mut self, needle: &str) -> String {
        use tokio::io::AsyncReadExt as _;
        let found = tokio::time::timeout(belfry_e2e::WAIT, async {
            while !String::from_utf8_lossy(&self.seen).contains(needle) {
                let mut buf = [0u8; 4096];
                let n = self.tcp.read(&mut buf).await.unwrap();
                assert!(
                    n > 0,
                    "closed before {needle:?}: {}",
                    String::from_utf8_lossy(&self.seen)
                );
                self.seen.extend_from_slice(&buf[..n]);
            }
        })
        .await;
        let text = String::from_utf8_lossy(&self.seen).into_owned();
        assert!(found.is_ok(), "no {needle:?} in {text:?}");
        text
    }
}

fn stream_request(token: &str) -> String {
    format!(
        "GET /api/admin/events HTTP/1.1\r\nHost: belfry\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
}

/// A stream opened as a connection's first request is written by the front
/// door, outside hyper; one opened after another request on a kept-alive
/// connection is served by hyper. Both must look and behave the same.
#[tokio::test]
async fn streams_behave_the_same_on_new_and_kept_alive_connections() {
    let app = TestServer::spawn().await;
    let token = app.admin_token("ann");

    let mut fresh = Raw::open(&app).await;
    fresh.send(&stream_request(&token)).await;
    let head = fresh.until("event: ready").await.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    for h in [
        "content-type: text/event-stream",
        "cache-control: no-cache",
        "x-accel-buffering: no",
        "x-content-type-options: nosniff",
        "transfer-encoding: chunked",
        // Only the front door closes after the stream.
        "connection: close",
    ] {
        assert!(head.contains(h), "{h} missing in {head}");
    }

    let mut reused = Raw::open(&app).await;
    reused
        .send("GET /healthz HTTP/1.1\r\nHost: belfry\r\n\r\n")
        .await;
    reused.until("\"ok\"").await;
    reused.send(&stream_request(&token)).await;
    let text = reused.until("event: ready").await.to_ascii_lowercase();
    assert!(text.contains("content-type: text/event-stream"), "{text}");
    assert!(!text.contains("connection: close"), "{text}");

    let n = app.publish_titled("to both").await;
    for raw in [&mut fresh, &mut reused] {
        raw.until(&format!("id: {}\nevent: notification", n.id))
            .await;
    }
    assert_eq!(app.metric("belfry_connected_streams").await, 2.0);

    // Closing the front door's connection frees its stream promptly.
    drop(fresh);
    belfry_e2e::wait_until("the closed stream is counted out", || async {
        app.metric("belfry_connected_streams").await == 1.0
    })
    .await;
}

/// Errors from the front door are whole HTTP answers with a JSON body,
/// like hyper's, and the connection is closed after them.
#[tokio::test]
async fn a_refused_stream_on_a_new_connection_gets_a_json_error() {
    use tokio::io::AsyncReadExt as _;
    let app = TestServer::spawn().await;
    let mut raw = Raw::open(&app).await;
    raw.send("GET /api/admin/events?min_severity=loud HTTP/1.1\r\nHost: belfry\r\n\r\n")
        .await;
    raw.until("}").await;
    let mut rest = Vec::new();
    raw.tcp.read_to_end(&mut rest).await.unwrap();
    raw.seen.extend_from_slice(&rest);
    let text = String::from_utf8(raw.seen).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(
        head.contains(&format!("content-length: {}", body.len())),
        "{head}"
    );
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["error"]["code"], "invalid_token", "{body}");
    assert!(head.contains("www-authenticate: bearer"), "{head}");

    let mut raw = Raw::open(&app).await;
    let token = app.admin_token("ann");
    raw.send(&format!(
        "GET /api/admin/events?min_severity=loud HTTP/1.1\r\nHost: belfry\r\nAuthorization: Bearer {token}\r\n\r\n"
    ))
    .await;
    let text = raw.until("}").await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("min_severity"), "{text}");
}
