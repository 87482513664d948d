//! The admin event stream: one long-lived task that connects, resumes,
//! watches for silence, refreshes tokens and reconnects, and hands the
//! caller a stream of [`ClientEvent`]s.
//!
//! Guarantees: each notification is delivered once (deduplicated by id
//! across reconnects) and in order; a reconnect resumes from the last
//! delivered notification (`Last-Event-ID`); the client never retries what
//! the server refused (401/403 without a usable refresh token, 4xx), and
//! backs off, with jitter and honouring `Retry-After`, from what may pass.

use std::collections::{HashSet, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use belfry_proto::sse::{
    EVENT_ACK, EVENT_EXPIRED, EVENT_NOTIFICATION, EVENT_PREFERENCES, EVENT_READ, EVENT_READY,
    EVENT_RESET, Ready, Reset,
};
use belfry_proto::{AckEvent, Notification, Preferences, ReadEvent, UnreadCounts};
use eventsource_stream::{EventStreamError, Eventsource as _};
use futures_util::{Stream, StreamExt as _};
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use secrecy::ExposeSecret as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::api::{Client, DEFAULT_CONNECT_TIMEOUT};
use crate::backoff::{Backoff, Schedule};
use crate::error::Error;

/// The server's default keepalive interval (`: keepalive` comments).
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);
/// Silence longer than this many keepalive intervals means a dead connection:
/// more than two, so one late keepalive on a slow network is not fatal.
pub const WATCHDOG_FACTOR: f64 = 2.5;
/// Refresh this long before the access token expires, so the stream is
/// replaced before the server ends it and no 401 is seen in normal operation.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(30);
/// Notification ids remembered for deduplication. Ids only grow, and a
/// replay never reaches further back than the last delivered id, so a few
/// thousand cover any overlap while keeping memory bounded.
pub const DEDUPE_CAPACITY: usize = 4096;
/// Events buffered for a slow consumer before the stream task waits.
const CHANNEL_CAPACITY: usize = 256;

/// How the stream behaves.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// The server's keepalive interval; the watchdog fires after
    /// [`WATCHDOG_FACTOR`] times this without a byte.
    pub keepalive: Duration,
    pub backoff: Backoff,
    pub refresh_margin: Duration,
    /// Resume after this notification (e.g. the newest one in a stored history).
    pub last_event_id: Option<u64>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            keepalive: DEFAULT_KEEPALIVE,
            backoff: Backoff::default(),
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            last_event_id: None,
        }
    }
}

impl StreamConfig {
    /// How long silence may last before the connection is replaced.
    pub fn watchdog(&self) -> Duration {
        self.keepalive.mul_f64(WATCHDOG_FACTOR)
    }
}

/// What the stream reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientEvent {
    /// A connection attempt starts.
    Connecting,
    /// The stream is open; `unread` are the admin's counts at that moment,
    /// `last_id` the newest stored notification then (0 when none).
    Live { unread: UnreadCounts, last_id: u64 },
    /// The connection failed or ended; the next attempt is in `retry_in`.
    Reconnecting {
        attempt: u32,
        retry_in: Duration,
        reason: String,
    },
    /// New credentials are needed; nothing is retried until they come.
    AuthRequired { reason: String },
    /// The stream gave up for good.
    Stopped { error: Error },
    /// A notification, delivered once. `replayed` ones were published while
    /// this client was away (a backlog), the others just now.
    Notification {
        notification: Notification,
        replayed: bool,
    },
    /// The replayed backlog of this connection is complete (`replayed` of them).
    CaughtUp { replayed: usize },
    /// Read state changed on one of this admin's devices.
    Read(ReadEvent),
    /// Someone acknowledged or released a notification.
    Ack(AckEvent),
    /// This admin's preferences changed.
    Preferences(Preferences),
    /// The server cannot replay from where this client was: refetch history.
    Reset { reason: String },
}

/// The events of a running stream. Dropping it stops the stream.
pub struct Events {
    rx: mpsc::Receiver<ClientEvent>,
    task: JoinHandle<()>,
}

impl Events {
    /// The next event; `None` after `AuthRequired` or `Stopped`.
    pub async fn recv(&mut self) -> Option<ClientEvent> {
        self.rx.recv().await
    }
}

impl Stream for Events {
    type Item = ClientEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ClientEvent>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Client {
    /// Opens the admin event stream, reconnecting until dropped or refused.
    /// The stream runs as a task on the current Tokio runtime (call this
    /// from within one).
    pub fn events(&self, config: StreamConfig) -> Result<Events, Error> {
        // A client of its own: the watchdog is reqwest's per-read timeout,
        // which sees every byte including the keepalive comments that the
        // SSE parser drops. A whole-request `timeout` would kill a healthy
        // stream, so this client has none.
        let http = reqwest::Client::builder()
            .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
            .read_timeout(config.watchdog())
            .user_agent(concat!("belfry-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::Network)?;
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let task = tokio::spawn(run(self.clone(), http, config, tx));
        Ok(Events { rx, task })
    }
}

/// State that outlives one connection.
struct Session {
    last_event_id: Option<u64>,
    seen: Seen,
    schedule: Schedule,
    rng: StdRng,
    /// A 401 was already answered with a refresh: the next one is final.
    refreshed_after_401: bool,
}

enum Outcome {
    /// Reconnect now (the token was refreshed).
    Again,
    /// Reconnect after a backoff.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Report this and stop.
    Final(ClientEvent),
    /// The consumer is gone.
    Closed,
}

impl From<Error> for Outcome {
    fn from(e: Error) -> Self {
        match e {
            e if e.is_auth() => Outcome::Final(ClientEvent::AuthRequired {
                reason: e.auth_reason().unwrap_or_default(),
            }),
            e if e.is_retryable() => Outcome::Retry {
                retry_after: e.retry_after(),
                reason: error_chain(&e),
            },
            error => Outcome::Final(ClientEvent::Stopped { error }),
        }
    }
}

/// The error with its sources, e.g. "network error: error sending request: connection refused".
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

async fn run(
    client: Client,
    http: reqwest::Client,
    cfg: StreamConfig,
    tx: mpsc::Sender<ClientEvent>,
) {
    let mut s = Session {
        last_event_id: cfg.last_event_id,
        seen: Seen::new(DEDUPE_CAPACITY),
        schedule: Schedule::new(cfg.backoff),
        rng: StdRng::from_os_rng(),
        refreshed_after_401: false,
    };
    loop {
        if tx.send(ClientEvent::Connecting).await.is_err() {
            return;
        }
        let outcome = connect(&client, &http, &cfg, &mut s, &tx).await;
        match outcome {
            Outcome::Again => {}
            Outcome::Closed => return,
            Outcome::Final(event) => {
                let _ = tx.send(event).await;
                return;
            }
            Outcome::Retry {
                reason,
                retry_after,
            } => {
                let retry_in = s.schedule.next_delay(retry_after, &mut s.rng);
                tracing::info!(%reason, ?retry_in, "stream interrupted");
                let event = ClientEvent::Reconnecting {
                    attempt: s.schedule.attempt(),
                    retry_in,
                    reason,
                };
                if tx.send(event).await.is_err() {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(retry_in) => {}
                    () = tx.closed() => return,
                }
            }
        }
    }
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How long from `now` until a token expiring at `exp` should be refreshed:
/// `margin` before `exp`, but never more than half its remaining life early.
pub fn refresh_in(exp: u64, now: u64, margin: Duration) -> Duration {
    let left = Duration::from_secs(exp.saturating_sub(now));
    left.saturating_sub(margin.min(left / 2))
}

/// When (if ever) the current token should be refreshed.
fn refresh_deadline(client: &Client, margin: Duration) -> Option<Instant> {
    let tokens = client.tokens()?;
    tokens.refresh.as_ref()?;
    let exp = crate::jwt::expiry(tokens.access.expose_secret())?;
    Some(Instant::now() + refresh_in(exp, unix_now(), margin))
}

async fn connect(
    client: &Client,
    http: &reqwest::Client,
    cfg: &StreamConfig,
    s: &mut Session,
    tx: &mpsc::Sender<ClientEvent>,
) -> Outcome {
    if refresh_deadline(client, cfg.refresh_margin).is_some_and(|t| t <= Instant::now())
        && let Err(e) = client.refresh().await
    {
        return e.into();
    }
    let Some(token) = client.tokens().map(|t| t.access) else {
        return Outcome::Final(ClientEvent::AuthRequired {
            reason: "not signed in".to_owned(),
        });
    };
    // Rebuilt on every attempt, with the current token and resume point.
    let mut req = http
        .get(client.url("api/admin/events"))
        .bearer_auth(token.expose_secret())
        .header(reqwest::header::ACCEPT, "text/event-stream");
    let resumed_from = s.last_event_id;
    if let Some(id) = resumed_from {
        req = req.header("last-event-id", id.to_string());
    }
    let res = match req.send().await {
        Ok(res) => res,
        Err(e) => return Error::from(e).into(),
    };
    match res.status().as_u16() {
        200 => {}
        401 if client.has_refresh_token() && !s.refreshed_after_401 => {
            // A refresh that failed for a network reason may be tried again;
            // one that succeeded and still meets a 401 is final.
            return match client.refresh().await {
                Ok(()) => {
                    s.refreshed_after_401 = true;
                    Outcome::Again
                }
                Err(e) => e.into(),
            };
        }
        401 | 403 | 408 | 429 | 500..=599 => return Error::from_response(res).await.into(),
        _ => {
            // 204, 400, 404, 410, ...: trying again would get the same answer.
            let error = Error::from_response(res).await;
            return Outcome::Final(ClientEvent::Stopped { error });
        }
    }
    let content_type = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if !content_type.starts_with("text/event-stream") {
        return Outcome::Final(ClientEvent::Stopped {
            error: Error::Protocol(format!(
                "expected an event stream, got content type `{content_type}`"
            )),
        });
    }

    let retry = Arc::new(AtomicU64::new(0));
    let mut sniffer = RetrySniffer::new(retry.clone());
    let mut frames = res
        .bytes_stream()
        .map(move |chunk| {
            if let Ok(bytes) = &chunk {
                sniffer.feed(bytes);
            }
            chunk
        })
        .eventsource();
    let refresh_at = refresh_deadline(client, cfg.refresh_margin);
    let mut ready_last_id = 0;
    let mut replay_until: Option<u64> = None;
    let mut replayed = 0;

    macro_rules! emit {
        ($event:expr) => {
            if tx.send($event).await.is_err() {
                return Outcome::Closed;
            }
        };
    }

    loop {
        let next = tokio::select! {
            next = frames.next() => next,
            () = sleep_until_opt(refresh_at) => {
                // Replace the stream before the server ends it at `exp`;
                // the new one resumes from the same Last-Event-ID.
                return match client.refresh().await {
                    Ok(()) => Outcome::Again,
                    Err(e) => e.into(),
                };
            }
        };
        let ms = retry.swap(0, Ordering::Relaxed);
        if ms > 0 {
            s.schedule.set_base(Duration::from_millis(ms));
        }
        let event = match next {
            None => {
                return Outcome::Retry {
                    reason: "the server ended the stream".to_owned(),
                    retry_after: None,
                };
            }
            Some(Err(EventStreamError::Transport(e))) if e.is_timeout() => {
                return Error::Silent(cfg.watchdog()).into();
            }
            Some(Err(EventStreamError::Transport(e))) => return Error::Network(e).into(),
            Some(Err(e)) => {
                return Outcome::Retry {
                    reason: format!("unreadable event stream: {e}"),
                    retry_after: None,
                };
            }
            Some(Ok(event)) => event,
        };
        match event.event.as_str() {
            EVENT_READY => {
                let Ok(ready) = serde_json::from_str::<Ready>(&event.data) else {
                    return protocol("the ready event");
                };
                s.schedule.live();
                s.refreshed_after_401 = false;
                ready_last_id = ready.last_id;
                if s.last_event_id.is_none() {
                    s.last_event_id = Some(ready.last_id);
                }
                emit!(ClientEvent::Live {
                    unread: ready.unread,
                    last_id: ready.last_id,
                });
                match resumed_from {
                    Some(from) if ready.last_id > from => replay_until = Some(ready.last_id),
                    _ => emit!(ClientEvent::CaughtUp { replayed: 0 }),
                }
            }
            EVENT_NOTIFICATION => {
                let Ok(n) = serde_json::from_str::<Notification>(&event.data) else {
                    return protocol("a notification");
                };
                let id = n.id;
                s.last_event_id = Some(id);
                let is_replay = replay_until.is_some_and(|until| id <= until);
                if s.seen.insert(id) {
                    replayed += usize::from(is_replay);
                    emit!(ClientEvent::Notification {
                        notification: n,
                        replayed: is_replay,
                    });
                } else {
                    tracing::debug!(id, "duplicate notification dropped");
                }
                if replay_until.is_some_and(|until| id >= until) {
                    replay_until = None;
                    emit!(ClientEvent::CaughtUp { replayed });
                }
            }
            EVENT_RESET => {
                let reason = serde_json::from_str::<Reset>(&event.data)
                    .map_or_else(|_| "history unavailable".to_owned(), |r| r.reason);
                // The server continues from its newest notification.
                s.last_event_id = Some(ready_last_id);
                emit!(ClientEvent::Reset { reason });
                if replay_until.take().is_some() {
                    emit!(ClientEvent::CaughtUp { replayed });
                }
            }
            EVENT_EXPIRED => {
                return if client.has_refresh_token() {
                    match client.refresh().await {
                        Ok(()) => Outcome::Again,
                        Err(e) => e.into(),
                    }
                } else {
                    Outcome::Final(ClientEvent::AuthRequired {
                        reason: "the access token expired".to_owned(),
                    })
                };
            }
            EVENT_READ => match serde_json::from_str(&event.data) {
                Ok(r) => emit!(ClientEvent::Read(r)),
                Err(_) => return protocol("a read event"),
            },
            EVENT_ACK => match serde_json::from_str(&event.data) {
                Ok(a) => emit!(ClientEvent::Ack(a)),
                Err(_) => return protocol("an ack event"),
            },
            EVENT_PREFERENCES => match serde_json::from_str(&event.data) {
                Ok(p) => emit!(ClientEvent::Preferences(p)),
                Err(_) => return protocol("a preferences event"),
            },
            other => tracing::debug!(event = other, "unknown event ignored"),
        }
    }
}

/// A payload that does not parse: a server of another version, most
/// likely. Reconnecting with backoff keeps trying without hammering.
fn protocol(what: &str) -> Outcome {
    Outcome::Retry {
        reason: format!("the server sent {what} this client cannot read"),
        retry_after: None,
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Ids already delivered, the oldest forgotten first.
struct Seen {
    set: HashSet<u64>,
    order: VecDeque<u64>,
    capacity: usize,
}

impl Seen {
    fn new(capacity: usize) -> Self {
        Self {
            set: HashSet::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Whether `id` is new (and now remembered).
    fn insert(&mut self, id: u64) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}

/// Picks the `retry:` field out of the raw bytes. eventsource-stream 0.2
/// drops an event block without `data:`, and the server sends `retry:` in
/// a block of its own, so the parser never reports it.
struct RetrySniffer {
    line: Vec<u8>,
    overflow: bool,
    retry: Arc<AtomicU64>,
}

impl RetrySniffer {
    /// Longer lines cannot be a `retry:` line and are not kept.
    const MAX_LINE: usize = 32;

    fn new(retry: Arc<AtomicU64>) -> Self {
        Self {
            line: Vec::with_capacity(Self::MAX_LINE),
            overflow: false,
            retry,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' || b == b'\r' {
                if !self.overflow
                    && let Some(ms) = std::str::from_utf8(&self.line)
                        .ok()
                        .and_then(|l| l.strip_prefix("retry:"))
                        .and_then(|v| v.trim().parse::<u64>().ok())
                {
                    self.retry.store(ms.max(1), Ordering::Relaxed);
                }
                self.line.clear();
                self.overflow = false;
            } else if self.line.len() < Self::MAX_LINE {
                self.line.push(b);
            } else {
                self.overflow = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_ids_are_bounded_and_forget_the_oldest() {
        let mut s = Seen::new(3);
        assert!(s.insert(1) && s.insert(2) && s.insert(3));
        assert!(!s.insert(2));
        assert!(s.insert(4));
        assert_eq!(s.set.len(), 3);
        assert!(s.insert(1), "1 was forgotten");
    }

    #[test]
    fn retry_is_found_across_chunk_boundaries() {
        let retry = Arc::new(AtomicU64::new(0));
        let mut s = RetrySniffer::new(retry.clone());
        s.feed(b"retry: 15");
        s.feed(b"00\n\nevent: ready\ndata: {\"retry: 9\":1}\n\n");
        assert_eq!(retry.load(Ordering::Relaxed), 1500);
        s.feed(format!("data: {}retry: 7\n", "x".repeat(100)).as_bytes());
        assert_eq!(retry.load(Ordering::Relaxed), 1500, "not a retry line");
    }

    #[test]
    fn refresh_comes_a_margin_before_expiry_or_halfway() {
        let m = Duration::from_secs(30);
        assert_eq!(refresh_in(1_000, 100, m), Duration::from_secs(870));
        assert_eq!(refresh_in(1_000, 960, m), Duration::from_secs(20));
        assert_eq!(refresh_in(1_000, 1_000, m), Duration::ZERO);
        assert_eq!(refresh_in(1_000, 2_000, m), Duration::ZERO);
    }

    #[test]
    fn the_watchdog_waits_two_and_a_half_keepalives() {
        let c = StreamConfig {
            keepalive: Duration::from_secs(2),
            ..StreamConfig::default()
        };
        assert_eq!(c.watchdog(), Duration::from_secs(5));
        assert_eq!(
            StreamConfig::default().watchdog(),
            Duration::from_millis(37_500)
        );
    }
}
