//! Test helpers: notifications, acks and fixed moments.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use belfry_proto::{Ack, AckEvent, Actor, Notification, Severity};
use time::macros::datetime;

use crate::effect::Now;
use crate::settings::{LocalSettings, ServerChoice};
use crate::state::DesktopState;

static START: LazyLock<Instant> = LazyLock::new(Instant::now);

/// The fixed moment tests happen at.
pub fn now() -> Now {
    Now {
        instant: *START,
        wall: datetime!(2026-01-15 12:00 UTC),
    }
}

/// `secs` seconds after [`now`].
pub fn later(secs: u64) -> Now {
    let n = now();
    Now {
        instant: n.instant + Duration::from_secs(secs),
        wall: n.wall + Duration::from_secs(secs),
    }
}

pub fn notification(id: u64, severity: Severity) -> Notification {
    Notification {
        id,
        kind: "backup.failed".to_owned(),
        severity,
        title: format!("Notification {id}"),
        body: None,
        link: None,
        data: None,
        created_at: now().wall,
    }
}

/// An ack of `id` (`acked`), or its release.
pub fn ack_event(id: u64, acked: bool) -> AckEvent {
    AckEvent {
        id,
        ack: acked.then(|| Ack {
            by: Actor {
                sub: "u2".to_owned(),
                email: Some("other@shop.example".to_owned()),
            },
            at: now().wall,
            note: None,
        }),
    }
}

/// Settings for the remote server at `url`.
pub fn remote(url: &str) -> LocalSettings {
    LocalSettings {
        server: ServerChoice::Remote {
            url: url.to_owned(),
        },
        ..LocalSettings::default()
    }
}

/// Someone signed in, with a stream started; its generation.
pub fn signed_in(settings: LocalSettings) -> (DesktopState, u64) {
    let mut s = DesktopState::new(settings, true);
    s.signed_in("ops@shop.example".to_owned());
    let generation = s.start_stream().generation;
    (s, generation)
}
