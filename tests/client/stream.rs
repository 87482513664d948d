//! The reconnecting event stream of `belfry_client`.

use std::time::{Duration, Instant};

use belfry_client::policy;
use belfry_client::{ClientEvent, StreamConfig};
use belfry_e2e::{TestServer, WAIT, now};
use belfry_proto::{Preferences, Severity};
use serde_json::json;

use crate::fake::{self, FakeServer, Reply};
use crate::helpers::{client, drain, fast, live, notifications, until};

#[tokio::test]
async fn a_published_notification_is_delivered_live() {
    let app = TestServer::spawn().await;
    let mut events = client(&app.base, &app.admin_token("ann"))
        .events(fast())
        .unwrap();
    live(&mut events).await;
    let published = app
        .publish(json!({"kind": "fraud.detected", "title": "Card testing on #77"}))
        .await;
    assert_eq!(notifications(&mut events, 1).await, [(published, false)]);
}

#[tokio::test]
async fn after_a_restart_the_client_reconnects_and_delivers_missed_notifications_once_in_order() {
    let mut app = TestServer::spawn().await;
    let mut events = client(&app.base, &app.admin_token("ann"))
        .events(StreamConfig::default())
        .unwrap();
    live(&mut events).await;
    let first = app.publish_titled("before the restart").await;
    assert_eq!(notifications(&mut events, 1).await[0].0, first);

    let stopped = Instant::now();
    app.restart().await;
    let mut published = Vec::new();
    for i in 0..3 {
        published.push(app.publish_titled(&format!("after the restart {i}")).await);
    }
    let mut delays = Vec::new();
    until(&mut events, |e| match e {
        ClientEvent::Reconnecting { retry_in, .. } => {
            delays.push(retry_in);
            None
        }
        ClientEvent::Live { .. } => Some(()),
        _ => None,
    })
    .await;
    let reconnected_after = stopped.elapsed();
    // Default backoff: the first retries wait at most 0.5 s, 1 s, 2 s, ...
    for (attempt, d) in delays.iter().enumerate() {
        let ceiling = Duration::from_millis(500) * 2u32.pow(attempt as u32);
        assert!(*d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
    }
    assert!(reconnected_after < WAIT, "{reconnected_after:?}");
    eprintln!("reconnected {reconnected_after:?} after the stop; delays {delays:?}");

    let got = notifications(&mut events, 3).await;
    // They were published while the client waited to reconnect, so they
    // normally arrive as the replay; on a slow machine the client may
    // already be back, and then they arrive live: either way once, in order.
    let replayed = got.iter().filter(|(_, r)| *r).count();
    eprintln!("{replayed} of 3 arrived as a replay");
    let got: Vec<_> = got.into_iter().map(|(n, _)| n).collect();
    assert_eq!(got, published, "each missed notification once, in order");
    let live_one = app.publish_titled("live again").await;
    assert_eq!(
        notifications(&mut events, 1).await,
        [(live_one, false)],
        "nothing repeated before it"
    );
}

#[tokio::test]
async fn a_replayed_backlog_is_flagged_and_coalesces_into_one_popup() {
    let app = TestServer::spawn().await;
    let mut backlog = Vec::new();
    for (i, kind) in ["stock.low"; 5]
        .into_iter()
        .chain(["fraud.detected", "system.error"])
        .enumerate()
    {
        backlog.push(
            app.publish(json!({"kind": kind, "title": format!("missed {i}")}))
                .await,
        );
    }
    // Resume as a client whose last notification was before all of them.
    let config = StreamConfig {
        last_event_id: Some(0),
        ..fast()
    };
    let mut events = client(&app.base, &app.admin_token("ann"))
        .events(config)
        .unwrap();
    let got = notifications(&mut events, 7).await;
    assert!(got.iter().all(|(_, replayed)| *replayed), "{got:?}");
    let replayed = until(&mut events, |e| match e {
        ClientEvent::CaughtUp { replayed } => Some(replayed),
        _ => None,
    })
    .await;
    assert_eq!(replayed, 7);

    let batch: Vec<_> = got.into_iter().map(|(n, _)| n).collect();
    assert_eq!(batch, backlog);
    let popups = policy::plan(
        &batch,
        &Preferences::default(),
        time::OffsetDateTime::now_utc(),
    );
    assert_eq!(popups.len(), 1);
    assert_eq!(popups[0].title, "7 new notifications, 2 critical");
    assert_eq!(popups[0].urgency, policy::Urgency::Critical);

    let fresh = app
        .publish(json!({"kind": "stock.low", "title": "live", "severity": "warning"}))
        .await;
    let (n, replayed) = notifications(&mut events, 1).await.remove(0);
    assert_eq!((n.id, replayed), (fresh.id, false));
    assert_eq!(n.severity, Severity::Warning);
}

#[tokio::test]
async fn an_expired_token_without_a_refresh_token_asks_for_authentication() {
    let app = TestServer::spawn().await;
    let token = app.sign(json!({"sub": "ann", "role": "admin", "exp": now() + 2}));
    let mut events = client(&app.base, &token).events(fast()).unwrap();
    live(&mut events).await;
    let all = drain(&mut events).await;
    assert!(
        matches!(all.last(), Some(ClientEvent::AuthRequired { reason }) if reason.contains("expired")),
        "{all:?}"
    );
}

#[tokio::test]
async fn a_token_that_is_not_an_admin_is_forbidden_and_not_retried() {
    let app = TestServer::spawn().await;
    let mut events = client(&app.base, &app.publish_token())
        .events(fast())
        .unwrap();
    let all = drain(&mut events).await;
    assert!(
        matches!(all.as_slice(), [ClientEvent::Connecting, ClientEvent::AuthRequired { reason }] if reason.starts_with("forbidden")),
        "{all:?}"
    );
}

#[tokio::test]
async fn a_401_without_a_refresh_token_makes_exactly_one_request() {
    let fake = FakeServer::start(|_| {
        Reply::Close(fake::error(
            "401 Unauthorized",
            "www-authenticate: Bearer error=\"invalid_token\"\r\n",
            "invalid_token",
        ))
    })
    .await;
    let mut events = client(&fake.base, "expired-token").events(fast()).unwrap();
    let all = drain(&mut events).await;
    assert!(
        matches!(all.last(), Some(ClientEvent::AuthRequired { .. })),
        "{all:?}"
    );
    assert_eq!(fake.requests().len(), 1, "no retry loop");
    let req = &fake.requests()[0];
    assert_eq!(
        req.header("authorization").as_deref(),
        Some("Bearer expired-token")
    );
}

#[tokio::test]
async fn a_503_with_retry_after_is_retried_no_sooner_than_asked() {
    let fake = FakeServer::start(|n| match n {
        0 => Reply::Close(fake::error(
            "503 Service Unavailable",
            "retry-after: 2\r\n",
            "unavailable",
        )),
        _ => Reply::Hold(format!("{}{}", fake::stream_head(), fake::opening(100, 0))),
    })
    .await;
    let mut events = client(&fake.base, "t").events(fast()).unwrap();
    let retry_in = until(&mut events, |e| match e {
        ClientEvent::Reconnecting { retry_in, .. } => Some(retry_in),
        _ => None,
    })
    .await;
    assert!(retry_in >= Duration::from_secs(2), "{retry_in:?}");
    live(&mut events).await;
    let r = fake.requests();
    let gap = r[1].at - r[0].at;
    eprintln!("503 Retry-After: 2 -> next request after {gap:?}");
    assert!(gap >= Duration::from_secs(2), "{gap:?}");
    assert!(gap < Duration::from_secs(5), "{gap:?}");
}

#[tokio::test]
async fn a_silent_connection_is_replaced_by_the_watchdog() {
    // Headers and `ready`, then nothing: no event, no keepalive.
    let fake = FakeServer::start(|_| {
        Reply::Hold(format!("{}{}", fake::stream_head(), fake::opening(20, 0)))
    })
    .await;
    let config = StreamConfig {
        keepalive: Duration::from_millis(200),
        ..StreamConfig::default()
    };
    let mut events = client(&fake.base, "t").events(config).unwrap();
    live(&mut events).await;
    let (reason, retry_in) = until(&mut events, |e| match e {
        ClientEvent::Reconnecting {
            reason, retry_in, ..
        } => Some((reason, retry_in)),
        _ => None,
    })
    .await;
    assert!(reason.contains("presumed dead"), "{reason}");
    assert!(
        retry_in <= Duration::from_millis(20),
        "the server's retry: 20 is the base, not the default 500 ms: {retry_in:?}"
    );
    live(&mut events).await;
    let r = fake.requests();
    assert_eq!(r.len(), 2);
    let gap = r[1].at - r[0].at;
    eprintln!("silent stream replaced after {gap:?} (watchdog 500 ms)");
    assert!(gap >= Duration::from_millis(500), "{gap:?}");
}

#[tokio::test]
async fn notifications_are_deduplicated_across_reconnects() {
    // A server (or proxy) that replays more than it should: the second
    // connection starts over at 2 although the client asked after 3.
    let fake = FakeServer::start(|n| {
        let body = match n {
            0 => format!(
                "{}{}{}{}",
                fake::opening(50, 0),
                fake::notification(1),
                fake::notification(2),
                fake::notification(3)
            ),
            _ => format!(
                "{}{}{}{}",
                fake::opening(50, 4),
                fake::notification(2),
                fake::notification(3),
                fake::notification(4)
            ),
        };
        match n {
            0 => Reply::Close(format!("{}{body}", fake::stream_head())),
            _ => Reply::Hold(format!("{}{body}", fake::stream_head())),
        }
    })
    .await;
    let mut events = client(&fake.base, "t").events(fast()).unwrap();
    let ids: Vec<u64> = notifications(&mut events, 4)
        .await
        .into_iter()
        .map(|(n, _)| n.id)
        .collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    let r = fake.requests();
    assert_eq!(r[0].header("last-event-id"), None);
    assert_eq!(r[1].header("last-event-id").as_deref(), Some("3"));
}

#[tokio::test]
async fn answers_that_cannot_improve_stop_the_stream_without_retrying() {
    for (reply, what) in [
        (fake::error("404 Not Found", "", "not_found"), "404"),
        (fake::error("400 Bad Request", "", "invalid_last_event_id"), "400"),
        (
            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi"
                .to_owned(),
            "content type",
        ),
    ] {
        let fake = FakeServer::start(move |_| Reply::Close(reply.clone())).await;
        let mut events = client(&fake.base, "t").events(fast()).unwrap();
        let all = drain(&mut events).await;
        match all.last() {
            Some(ClientEvent::Stopped { error }) => {
                assert!(!error.is_retryable(), "{what}: {error}");
                assert!(error.to_string().contains(what), "{what}: {error}");
            }
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(fake.requests().len(), 1, "{what}");
    }
}

#[tokio::test]
async fn an_unknown_resume_point_is_reported_as_a_reset_and_the_stream_goes_on() {
    let app = TestServer::spawn().await;
    let existing = app.publish_titled("already there").await;
    let config = StreamConfig {
        last_event_id: Some(existing.id + 1000),
        ..fast()
    };
    let mut events = client(&app.base, &app.admin_token("ann"))
        .events(config)
        .unwrap();
    let reason = until(&mut events, |e| match e {
        ClientEvent::Reset { reason } => Some(reason),
        ClientEvent::Notification { notification, .. } => {
            panic!("nothing to replay after a reset: {notification:?}")
        }
        _ => None,
    })
    .await;
    assert!(reason.contains("newer"), "{reason}");
    let next = app.publish_titled("after the reset").await;
    assert_eq!(notifications(&mut events, 1).await, [(next, false)]);
}

#[tokio::test]
async fn read_ack_and_preference_changes_are_passed_on() {
    let fake = FakeServer::start(|_| {
        Reply::Hold(format!(
            "{}{}{}{}{}",
            fake::stream_head(),
            fake::opening(100, 0),
            "event: read\ndata: {\"up_to\":7,\"unread\":{\"total\":2,\"info\":0,\"warning\":1,\"critical\":1}}\n\n",
            "event: ack\ndata: {\"id\":7,\"ack\":null}\n\n",
            "event: preferences\ndata: {\"popup_min_severity\":\"critical\"}\n\n",
        ))
    })
    .await;
    let mut events = client(&fake.base, "t").events(fast()).unwrap();
    let read = until(&mut events, |e| match e {
        ClientEvent::Read(r) => Some(r),
        _ => None,
    })
    .await;
    assert_eq!((read.up_to, read.unread.total), (Some(7), 2));
    let ack = until(&mut events, |e| match e {
        ClientEvent::Ack(a) => Some(a),
        _ => None,
    })
    .await;
    assert_eq!((ack.id, ack.ack), (7, None));
    let prefs = until(&mut events, |e| match e {
        ClientEvent::Preferences(p) => Some(p),
        _ => None,
    })
    .await;
    assert_eq!(prefs.popup_min_severity, Severity::Critical);
}
