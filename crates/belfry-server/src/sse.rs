//! SSE frame encoding. Each frame is built once into `Bytes`; a notification
//! frame is shared by every stream that delivers it.

use std::time::Duration;

use belfry_proto::sse::{
    EVENT_EXPIRED, EVENT_NOTIFICATION, EVENT_READY, EVENT_RESET, Expired, Ready, Reset,
};
use belfry_proto::{Notification, UnreadCounts};
use bytes::Bytes;
use serde::Serialize;

/// The comment line sent on idle streams.
pub const KEEPALIVE: Bytes = Bytes::from_static(b": keepalive\n\n");

fn event_frame(id: Option<u64>, event: &str, data: &impl Serialize) -> Bytes {
    // serde_json escapes every newline inside strings, so the JSON is one
    // line and can never end the `data:` field early or inject a field.
    let json = serde_json::to_string(data).expect("wire types always serialize");
    let mut out = String::with_capacity(json.len() + 48);
    if let Some(id) = id {
        out.push_str("id: ");
        out.push_str(&id.to_string());
        out.push('\n');
    }
    out.push_str("event: ");
    out.push_str(event);
    out.push_str("\ndata: ");
    out.push_str(&json);
    out.push_str("\n\n");
    Bytes::from(out)
}

/// `id: N`, `event: notification`, `data: {…}`.
pub fn notification_frame(n: &Notification) -> Bytes {
    event_frame(Some(n.id), EVENT_NOTIFICATION, n)
}

/// The opening block: `retry:`, `id:` and `event: ready` together.
///
/// `cursor` is the id the stream continues after. Carrying it as the
/// ready event's `id:` means a standard SSE client that drops before its
/// first notification still reconnects with a `Last-Event-ID`, so what was
/// published while it was away is replayed. `retry:` shares the block
/// because a block with no `data:` makes some clients dispatch an empty
/// message (fetch-event-source, httpx-sse) or hides the field (sseclient-py).
pub fn opening_frames(retry: Duration, cursor: u64, last_id: u64, unread: UnreadCounts) -> Bytes {
    let mut out = format!("retry: {}\n", retry.as_millis()).into_bytes();
    out.extend_from_slice(&event_frame(
        Some(cursor),
        EVENT_READY,
        &Ready { last_id, unread },
    ));
    Bytes::from(out)
}

pub fn reset_frame(reason: &str) -> Bytes {
    event_frame(
        None,
        EVENT_RESET,
        &Reset {
            reason: reason.to_owned(),
        },
    )
}

/// `event: expired`, for a token that ran out or a sign-in that was revoked.
pub fn expired_frame(message: &str) -> Bytes {
    event_frame(
        None,
        EVENT_EXPIRED,
        &Expired {
            message: message.to_owned(),
        },
    )
}

/// Any other event without an id (`read`, `ack`, `preferences`).
pub fn state_frame(event: &str, data: &impl Serialize) -> Bytes {
    event_frame(None, event, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_frame_is_one_data_line_even_with_newlines_in_text() {
        let n = Notification {
            id: 42,
            kind: "order.created".into(),
            severity: belfry_proto::Severity::Info,
            title: "line one\n\ndata: injected\r\nid: 9".into(),
            body: None,
            link: None,
            data: None,
            created_at: time::macros::datetime!(2026-01-01 00:00 UTC),
        };
        let frame = String::from_utf8(notification_frame(&n).to_vec()).unwrap();
        let lines: Vec<&str> = frame.split('\n').collect();
        assert_eq!(lines[0], "id: 42");
        assert_eq!(lines[1], "event: notification");
        assert!(lines[2].starts_with("data: {"));
        assert_eq!(&lines[3..], ["", ""], "{frame:?}");
        assert!(!frame.contains('\r'));
    }

    #[test]
    fn the_opening_block_carries_retry_the_cursor_as_id_and_ready() {
        let unread = UnreadCounts {
            total: 3,
            info: 1,
            warning: 1,
            critical: 1,
        };
        let f = opening_frames(Duration::from_millis(1500), 5, 7, unread);
        assert_eq!(
            std::str::from_utf8(&f).unwrap(),
            "retry: 1500\nid: 5\nevent: ready\ndata: {\"last_id\":7,\"unread\":{\"total\":3,\"info\":1,\"warning\":1,\"critical\":1}}\n\n"
        );
    }
}
