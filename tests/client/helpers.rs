//! Clients of test servers, and waiting on their events.

use std::time::Duration;

use belfry_client::backoff::Backoff;
use belfry_client::{Client, ClientEvent, Events, StreamConfig, Tokens};
use belfry_e2e::WAIT;
use belfry_proto::Notification;

/// A client of `base` using `token`, without a refresh token.
pub fn client(base: &str, token: &str) -> Client {
    Client::new(base).expect("valid URL").with_tokens(Tokens {
        access: token.to_owned().into(),
        refresh: None,
    })
}

/// Quick reconnects, so tests that reconnect stay short.
pub fn fast() -> StreamConfig {
    StreamConfig {
        backoff: Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            ..Backoff::default()
        },
        ..StreamConfig::default()
    }
}

/// Waits (up to [`WAIT`]) for the first event `pick` accepts; panics if
/// the stream stops first.
pub async fn until<T>(events: &mut Events, mut pick: impl FnMut(ClientEvent) -> Option<T>) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let e = events.recv().await.expect("the stream is still running");
            if let Some(t) = pick(e) {
                return t;
            }
        }
    })
    .await
    .expect("the expected event arrives in time")
}

pub async fn live(events: &mut Events) {
    until(events, |e| {
        matches!(e, ClientEvent::Live { .. }).then_some(())
    })
    .await;
}

/// The next `count` notifications with their `replayed` flag.
pub async fn notifications(events: &mut Events, count: usize) -> Vec<(Notification, bool)> {
    let mut out = Vec::new();
    while out.len() < count {
        out.push(
            until(events, |e| match e {
                ClientEvent::Notification {
                    notification,
                    replayed,
                } => Some((notification, replayed)),
                _ => None,
            })
            .await,
        );
    }
    out
}

/// Events until the stream task ends, which it must do in time.
pub async fn drain(events: &mut Events) -> Vec<ClientEvent> {
    tokio::time::timeout(WAIT, async {
        let mut all = Vec::new();
        while let Some(e) = events.recv().await {
            all.push(e);
        }
        all
    })
    .await
    .expect("the stream stops in time")
}
