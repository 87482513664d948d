//! The front door under a slowloris: hundreds of connections that send half
//! a head and then nothing cannot keep real streams out. And the one stream
//! path: what the router answers is what the front door writes.
//!
//! The listener here is assembled as `Server::run` assembles its own (the
//! real `FrontDoor`, `conn::serve` and router, on the test server's state),
//! with a small connection budget, so that a few hundred sockets exceed it
//! without lowering the test process's descriptor limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use belfry_e2e::{SseStream, TestServer, WAIT, wait_until};
use belfry_server::conn::{ConnectionSlots, Deadlines, HeadsInProgress};
use belfry_server::front::FrontDoor;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Connection slots of the listener under attack.
const BUDGET: usize = 100;
/// Half-sent heads the attacker holds: well over the whole budget.
const HELD: usize = 300;

/// A listener served like the main one, with [`BUDGET`] connections and a
/// head deadline far longer than the test, so only the cap can help.
async fn small_front_door(app: &TestServer, stop: &CancellationToken) -> (String, TaskTracker) {
    front_door_for(belfry_server::api::router(app.state.clone()), stop).await
}

/// A listener served like the main one, for `router`.
async fn front_door_for(router: axum::Router, stop: &CancellationToken) -> (String, TaskTracker) {
    let deadlines = Deadlines {
        head: Duration::from_secs(300),
        write: Duration::from_secs(10),
    };
    front_door_with(router, deadlines, stop).await
}

/// A listener served like the main one, for `router`, with `deadlines`.
async fn front_door_with(
    router: axum::Router,
    deadlines: Deadlines,
    stop: &CancellationToken,
) -> (String, TaskTracker) {
    let listener = belfry_server::app::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let tracker = TaskTracker::new();
    let handoff = FrontDoor {
        router: router.clone(),
        slots: ConnectionSlots::new(BUDGET, None),
        deadlines,
    }
    .open(listener, tracker.clone(), stop.clone());
    tokio::spawn(belfry_server::conn::serve(
        handoff,
        router,
        deadlines,
        tracker.clone(),
        stop.clone(),
    ));
    (base, tracker)
}

async fn open_stream(app: &TestServer, base: &str, who: &str) -> SseStream {
    let res = app
        .http
        .get(format!("{base}/api/admin/events"))
        .bearer_auth(app.admin_token(who))
        .send()
        .await
        .expect("the stream request is answered");
    assert_eq!(res.status(), 200);
    SseStream::new(res)
}

/// Opens `count` sockets that each send half a head and then nothing:
/// half a stream head (kept by the front door's peek) or half of another
/// (handed to hyper). Returns how many of them the server has closed.
async fn hold_half_sent_heads(
    addr: &str,
    count: usize,
    held: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Arc<AtomicUsize> {
    let closed = Arc::new(AtomicUsize::new(0));
    for i in 0..count {
        let half = if i % 2 == 0 {
            "GET /api/admin/events HTTP/1.1\r\nHost: belfry.test\r\n"
        } else {
            "POST /api/notifications HTTP/1.1\r\nHost: belfry.test\r\n"
        };
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(half.as_bytes()).await.unwrap();
        let closed = closed.clone();
        held.push(tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok(n) = tcp.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            closed.fetch_add(1, Ordering::Relaxed);
        }));
    }
    closed
}

#[tokio::test]
async fn hundreds_of_half_sent_heads_do_not_keep_real_streams_out() {
    let app = TestServer::spawn().await;
    let stop = CancellationToken::new();
    let (base, tracker) = small_front_door(&app, &stop).await;
    let addr = base.trim_start_matches("http://").to_owned();

    let mut before = open_stream(&app, &base, "ann").await;
    before.ready().await;
    let mut held = Vec::new();

    let closed = hold_half_sent_heads(&addr, HELD, &mut held).await;

    // A real client still gets its stream, long before any head deadline.
    let mut after = tokio::time::timeout(WAIT, async {
        let mut stream = open_stream(&app, &base, "bob").await;
        stream.ready().await;
        stream
    })
    .await
    .expect("a real stream connects while half-sent heads hold the budget");

    // The stream opened before the attack kept going, and both receive.
    let n = app.publish_titled("through the flood").await;
    assert_eq!(before.notifications(1).await, std::slice::from_ref(&n));
    assert_eq!(after.notifications(1).await, [n]);

    // The oldest half-sent heads were closed to make room: no more than
    // the cap of them is left open.
    let cap = HeadsInProgress::for_budget(BUDGET, Duration::from_secs(300)).cap();
    wait_until("the oldest half-sent heads are closed", || {
        let closed = closed.load(Ordering::Relaxed);
        async move { closed >= HELD - cap }
    })
    .await;

    stop.cancel();
    tracker.close();
    drop((before, after));
    for task in held {
        task.abort();
    }
}

#[tokio::test]
async fn with_every_slot_taken_a_new_client_replaces_the_oldest_half_sent_head() {
    let app = TestServer::spawn().await;
    let stop = CancellationToken::new();
    let (base, tracker) = small_front_door(&app, &stop).await;
    let addr = base.trim_start_matches("http://").to_owned();

    // Kept-alive connections idle after a whole request take more slots
    // than the cap leaves (they are not heads in progress)...
    let cap = HeadsInProgress::for_budget(BUDGET, Duration::from_secs(300)).cap();
    let mut idle = Vec::new();
    for _ in 0..BUDGET - cap + 10 {
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: belfry.test\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        idle.push(tcp);
    }
    // ...and half-sent heads take the rest, and more wait to be accepted.
    let mut held = Vec::new();
    let closed = hold_half_sent_heads(&addr, 2 * BUDGET, &mut held).await;

    let mut stream = tokio::time::timeout(WAIT, async {
        let mut stream = open_stream(&app, &base, "ann").await;
        stream.ready().await;
        stream
    })
    .await
    .expect("a real stream connects with every slot taken");
    let n = app.publish_titled("room was made").await;
    assert_eq!(stream.notifications(1).await, [n]);
    wait_until("half-sent heads are closed to make room", || {
        let closed = closed.load(Ordering::Relaxed);
        async move { closed >= BUDGET }
    })
    .await;

    stop.cancel();
    tracker.close();
    drop((stream, idle));
    for task in held {
        task.abort();
    }
}

/// A layer on the router that touches bodies sees a stream's body too when
/// the front door writes it (a stream that opened its connection): the
/// handler's response is the one written, not a side channel around it.
#[tokio::test]
async fn a_layer_on_the_router_sees_the_body_of_a_stream_the_front_door_writes() {
    use axum::body::Body;
    use axum::response::Response;
    use futures_util::StreamExt as _;

    let app = TestServer::spawn().await;
    let stop = CancellationToken::new();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let router = belfry_server::api::router(app.state.clone()).layer(
        axum::middleware::map_response(move |response: Response| {
            let counter = counter.clone();
            async move {
                response.map(|body| {
                    Body::from_stream(body.into_data_stream().inspect(move |chunk| {
                        if let Ok(bytes) = chunk {
                            counter.fetch_add(bytes.len(), Ordering::Relaxed);
                        }
                    }))
                })
            }
        }),
    );
    let (base, tracker) = front_door_for(router, &stop).await;

    // A new connection whose first request is the stream: the front door's.
    let mut stream = open_stream(&app, &base, "ann").await;
    stream.ready().await;
    let n = app.publish_titled("through the layer").await;
    assert_eq!(stream.notifications(1).await, [n]);
    let through_layer = seen.load(Ordering::Relaxed);
    assert!(
        through_layer > 0,
        "the stream's bytes reached the client without passing the router's layer"
    );
    stop.cancel();
    tracker.close();
}

/// Reads until the server closes the connection; what arrived.
async fn read_to_close(tcp: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = tcp.read(&mut buf).await {
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    seen
}

/// The first head has one deadline, from the accept, whoever reads it: a
/// client that starts like a stream request (so the front door reads) and
/// turns into another late (so hyper reads the rest) does not get a second
/// deadline from hyper. On tokio's paused clock, so the times are exact
/// and the test takes none.
#[tokio::test(start_paused = true)]
async fn the_first_heads_deadline_runs_from_the_accept_whoever_reads_the_head() {
    use tokio::time::Instant;

    let head = Duration::from_secs(10);
    let deadlines = Deadlines {
        head,
        write: Duration::from_secs(10),
    };
    let router = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
    let stop = CancellationToken::new();
    let (base, _tracker) = front_door_with(router, deadlines, &stop).await;
    let addr = base.trim_start_matches("http://");

    // A stream request's first bytes, then, 8 s later, another request's.
    let mut late = TcpStream::connect(addr).await.unwrap();
    let accepted = Instant::now();
    late.write_all(b"GET /api/admin/events").await.unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    late.write_all(b"/elsewhere HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert_eq!(read_to_close(&mut late).await, b"");
    let took = accepted.elapsed();
    assert!(
        took >= head && took < head + Duration::from_secs(1),
        "closed {took:?} after the accept; the deadline is {head:?}"
    );

    // A whole head in time is served, and the connection then idles under
    // hyper's deadline for later heads.
    let mut prompt = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    prompt
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut prompt).await;
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    stop.cancel();
}
