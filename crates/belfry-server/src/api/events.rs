//! `GET /api/admin/events`: the authenticated SSE stream.
//!
//! A stream subscribes to the broker *before* it reads the store, then
//! replays from the store and only then turns to live messages, skipping any
//! id it already sent. Whatever commits during the replay is therefore either
//! in the replay or in the subscription: no gap and no duplicate at the seam.
//! Live messages arrive in commit order (see `publish`), so a jump in ids, or
//! a lagged subscription, sends the stream back to the store to catch up.

use std::collections::{HashMap, HashSet, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use belfry_proto::Severity;
use bytes::{Bytes, BytesMut};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::auth::{Admin, unix_now};
use crate::broker::BusMessage;
use crate::client_addr::ClientAddr;
use crate::error::ApiError;
use crate::limits::{LimitExceeded, StreamSlot};
use crate::metrics::Metrics;
use crate::sse;
use crate::state::AppState;
use crate::store::Revocation;

/// Notifications read from the store per query while replaying.
const REPLAY_PAGE: u32 = 256;
/// Messages taken from the bus in one wake-up, once one has arrived. A burst
/// then leaves as one write (one syscall) instead of one per frame, while a
/// stream that is far behind still yields to the others.
const MAX_BATCH: usize = 64;

/// Where streams are served.
pub const EVENTS_PATH: &str = "/api/admin/events";

pub fn routes() -> Router<AppState> {
    Router::new().route(EVENTS_PATH, get(events))
}

/// Put on a stream's response for whoever writes it (the front door or
/// hyper, both through `crate::deadline::WriteDeadline`): resolves when the
/// stream must end whatever its client does (the token expired, its
/// sign-in was revoked, the server is shutting down), so a writer waiting
/// on a client that stopped reading does not wait for it. The body ends by
/// itself in those cases too, but only once it is polled, and a writer
/// whose socket is full does not poll it.
#[derive(Clone)]
pub struct StreamEnd {
    expires: tokio::time::Instant,
    shutdown: CancellationToken,
    /// Revocations as they are read from the store.
    revoked: watch::Receiver<Arc<[Revocation]>>,
    who: Arc<Who>,
    metrics: Arc<Metrics>,
}

impl StreamEnd {
    /// Resolves with the reason once the stream must end.
    pub async fn wait(&mut self) -> &'static str {
        let expiry = tokio::time::sleep_until(self.expires);
        tokio::pin!(expiry);
        loop {
            tokio::select! {
                () = &mut expiry => return "token_expired",
                () = self.shutdown.cancelled() => return "shutdown",
                changed = self.revoked.changed() => {
                    if changed.is_err() {
                        return "shutdown";
                    }
                    let list = self.revoked.borrow_and_update().clone();
                    if list.iter().any(|r| self.who.revoked_by(r)) {
                        return "revoked";
                    }
                }
            }
        }
    }

    /// One for `sub`'s stream, for tests of whoever writes streams.
    #[cfg(test)]
    pub(crate) fn for_test(
        sub: &str,
        expires: tokio::time::Instant,
        shutdown: CancellationToken,
        revoked: watch::Receiver<Arc<[Revocation]>>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            expires,
            shutdown,
            revoked,
            who: Arc::new(Who {
                sub: sub.to_owned(),
                session_id: None,
            }),
            metrics,
        }
    }

    /// The writer closed the connection without waiting for the client:
    /// counted in `belfry_streams_dropped_total{reason}`.
    pub fn dropped(&self, reason: &'static str) {
        self.metrics
            .streams_dropped
            .get_or_create(&[("reason", reason)])
            .inc();
    }
}

/// Whose stream it is, shared by the stream and its [`StreamEnd`].
struct Who {
    sub: String,
    /// The sign-in a locally issued token belongs to.
    session_id: Option<String>,
}

impl Who {
    /// Whether `revocation` ends this stream.
    fn revoked_by(&self, revocation: &Revocation) -> bool {
        match revocation {
            Revocation::User(user) => *user == self.sub,
            Revocation::Session(sid) => self.session_id.as_deref() == Some(sid.as_str()),
        }
    }
}

/// Optional filters from the query string.
#[derive(Debug, Default)]
struct Filter {
    min_severity: Option<Severity>,
    kinds: Option<HashSet<String>>,
}

impl Filter {
    fn parse(q: &HashMap<String, String>) -> Result<Self, ApiError> {
        let mut f = Filter::default();
        if let Some(v) = q.get("min_severity").filter(|v| !v.is_empty()) {
            f.min_severity = Some(v.parse().map_err(|e: String| ApiError::BadRequest {
                code: "invalid_parameter",
                message: format!("min_severity: {e}"),
            })?);
        }
        if let Some(v) = q.get("kinds").filter(|v| !v.is_empty()) {
            let kinds: HashSet<String> = v.split(',').map(|k| k.trim().to_owned()).collect();
            if let Some(bad) = kinds.iter().find(|k| !belfry_proto::is_valid_kind(k)) {
                return Err(ApiError::BadRequest {
                    code: "invalid_parameter",
                    message: format!(
                        "kinds: `{bad}` is not a valid kind (comma-separated, like order.created,stock.low)"
                    ),
                });
            }
            f.kinds = Some(kinds);
        }
        Ok(f)
    }

    fn matches(&self, severity: Severity, kind: &str) -> bool {
        self.min_severity.is_none_or(|min| severity >= min)
            && self.kinds.as_ref().is_none_or(|k| k.contains(kind))
    }
}

fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(v) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| ApiError::BadRequest {
        code: "invalid_last_event_id",
        message: "Last-Event-ID must be the numeric id of the last notification received"
            .to_owned(),
    })
}

#[tracing::instrument(skip_all, fields(sub = %admin.sub))]
async fn events(
    State(state): State<AppState>,
    Admin(admin): Admin,
    client: ClientAddr,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let filter = Filter::parse(&query)?;
    let resume_from = last_event_id(&headers)?;

    let elsewhere = state.broker.streams_elsewhere(&admin.sub).await;
    let slot = state.limits.acquire(&admin.sub, elsewhere).map_err(|e| {
        tracing::info!(?e, "stream refused by limits");
        ApiError::TooMany {
            message: match e {
                LimitExceeded::PerUser(n) => format!(
                    "this admin already has {n} open streams; close one (another tab or device) first"
                ),
                LimitExceeded::Total(n) => {
                    format!("the server holds its maximum of {n} streams; retry later")
                }
            },
            retry_after_secs: 30,
        }
    })?;

    // Subscribe first: see the module comment.
    let rx = state.broker.subscribe();
    let head = state.store.last_id().await?;
    let unread = state.store.unread_counts(&admin.sub).await?;

    const PRUNED: &str = "notifications after Last-Event-ID were pruned from the history";
    let (cursor, reset) = match resume_from {
        None => (head, None),
        Some(n) if n > head => (
            head,
            Some("Last-Event-ID is newer than anything this server stored"),
        ),
        Some(n) if state.restores.iter().any(|r| r.discarded(n)) => (
            head,
            Some("the server's store was restored from a backup taken before Last-Event-ID"),
        ),
        Some(n) if n < state.store.pruned_through().await? => (head, Some(PRUNED)),
        Some(n) => match state.store.first_id().await? {
            Some(first) if n + 1 < first => (head, Some(PRUNED)),
            _ => (n, None),
        },
    };
    let mut out = VecDeque::from([sse::opening_frames(
        state.config.retry,
        cursor,
        head,
        unread,
    )]);
    out.extend(reset.map(sse::reset_frame));

    // The stream ends when the token does (allowing the same clock skew the
    // verifier allowed), so a revoked sign-in cannot listen on forever.
    // Saturating: an `exp` near u64::MAX must mean "far away", not wrap
    // round to "already expired".
    let remaining = admin
        .expires_at
        .saturating_add(state.verifier.leeway().as_secs())
        .saturating_sub(unix_now());
    let mut keepalive = tokio::time::interval_at(
        tokio::time::Instant::now() + state.config.keepalive,
        state.config.keepalive,
    );
    keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);

    tracing::info!(client = %client.0, resume_from, cursor, "stream opened");
    state.metrics.connected_streams.inc();
    // Thirty years, as tokio caps its own far-future timers: later than that
    // cannot be represented as an `Instant` everywhere.
    const FAR_AWAY: u64 = 30 * 365 * 24 * 60 * 60;
    let expires = tokio::time::Instant::now() + Duration::from_secs(remaining.min(FAR_AWAY));
    let who = Arc::new(Who {
        sub: admin.sub,
        session_id: admin.session_id,
    });
    let end = StreamEnd {
        expires,
        shutdown: state.shutdown.clone(),
        revoked: state.revocations.subscribe(),
        who: who.clone(),
        metrics: state.metrics.clone(),
    };
    let session = Session {
        catching_up: cursor < head,
        shutdown: Box::pin(state.shutdown.clone().cancelled_owned()),
        state,
        rx,
        cursor,
        filter,
        keepalive,
        deadline: Box::pin(tokio::time::sleep_until(expires)),
        out,
        end: None,
        who,
        opened: Instant::now(),
        _slot: slot,
    };
    // One body, whoever writes it: hyper, or the front door for a stream
    // that opened its connection. Its length is unknown, so either writes
    // it chunked.
    let body = Body::from_stream(futures_util::stream::unfold(session, |mut s| async move {
        s.next_chunk()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), s))
    }));

    let mut response = Response::new(body);
    response.extensions_mut().insert(end);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// One open stream.
struct Session {
    state: AppState,
    rx: broadcast::Receiver<BusMessage>,
    /// Highest notification id this stream has passed (delivered or filtered out).
    cursor: u64,
    /// Whether the store has notifications after `cursor` that live fan-out
    /// will not bring (replay, lag or a gap).
    catching_up: bool,
    filter: Filter,
    keepalive: Interval,
    /// The token's expiry and the server's shutdown, registered once for
    /// the stream's life rather than again on every message (each
    /// registration takes a shared lock, which thousands of streams contend).
    deadline: Pin<Box<Sleep>>,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Frames ready to write.
    out: VecDeque<Bytes>,
    /// Why the stream ends, once it does; remaining `out` is written first.
    end: Option<&'static str>,
    who: Arc<Who>,
    opened: Instant,
    _slot: StreamSlot,
}

impl Session {
    /// The next bytes to write, or `None` once the stream has ended.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if !self.out.is_empty() {
                return Some(self.take_out());
            }
            if self.end.is_some() {
                return None;
            }
            if self.catching_up {
                self.catch_up().await;
                continue;
            }
            tokio::select! {
                biased;
                () = &mut self.shutdown => self.end = Some("server shutting down"),
                () = &mut self.deadline => {
                    self.out.push_back(sse::expired_frame(
                        "the access token expired; reconnect with a fresh token",
                    ));
                    self.end = Some("token expired");
                }
                msg = self.rx.recv() => {
                    self.on_message(msg);
                    // More already sent? Take it now and write it in one go.
                    // (Looking at an empty channel takes its lock, which a
                    // thousand streams would contend for on every message.)
                    if self.cursor < self.state.broker.newest_id() {
                        self.drain_ready();
                    }
                }
                _ = self.keepalive.tick() => self.out.push_back(sse::KEEPALIVE),
            }
        }
    }

    /// Takes what else is already on the bus, up to [`MAX_BATCH`] messages,
    /// without waiting.
    fn drain_ready(&mut self) {
        for _ in 1..MAX_BATCH {
            if self.end.is_some() || self.catching_up {
                return;
            }
            match self.rx.try_recv() {
                Ok(msg) => self.on_message(Ok(msg)),
                Err(TryRecvError::Lagged(n)) => self.on_message(Err(RecvError::Lagged(n))),
                Err(TryRecvError::Closed) => self.on_message(Err(RecvError::Closed)),
                Err(TryRecvError::Empty) => return,
            }
        }
    }

    /// The queued frames as one chunk: a single frame is passed on as is
    /// (shared, no copy); several are joined so they leave in one write.
    fn take_out(&mut self) -> Bytes {
        if self.out.len() == 1 {
            return self.out.pop_front().expect("one frame");
        }
        let len = self.out.iter().map(Bytes::len).sum();
        let mut joined = BytesMut::with_capacity(len);
        for frame in self.out.drain(..) {
            joined.extend_from_slice(&frame);
        }
        joined.freeze()
    }

    fn on_message(&mut self, msg: Result<BusMessage, RecvError>) {
        match msg {
            Ok(BusMessage::Notification(n)) => {
                if n.id <= self.cursor {
                    return;
                }
                if n.id != self.cursor + 1 {
                    // Something between was not broadcast to us: the store has it.
                    self.catching_up = true;
                    return;
                }
                self.cursor = n.id;
                if self.filter.matches(n.severity, &n.kind) {
                    self.state.metrics.deliveries.inc();
                    self.out.push_back(n.frame.clone());
                }
            }
            Ok(BusMessage::ToUser { sub, frame }) => {
                if *sub == *self.who.sub {
                    self.out.push_back(frame);
                }
            }
            Ok(BusMessage::ToAll(frame)) => self.out.push_back(frame),
            Ok(BusMessage::CatchUp) => self.catching_up = true,
            Ok(BusMessage::Revoked(r)) => {
                if self.who.revoked_by(&r) {
                    self.out.push_back(sse::expired_frame(
                        "this sign-in was revoked (signed out or disabled); sign in again",
                    ));
                    self.end = Some("sign-in revoked");
                }
            }
            Err(RecvError::Lagged(skipped)) => {
                tracing::info!(
                    skipped,
                    cursor = self.cursor,
                    "stream fell behind; catching up from the store"
                );
                self.state.metrics.subscribers_fell_behind.inc();
                self.catching_up = true;
                // Read, ack and preference events were skipped too, and the
                // store replays only notifications: tell the client to
                // refetch its inbox state.
                self.out.push_back(sse::reset_frame(
                    "the stream fell behind; read and acknowledgement state may be stale",
                ));
            }
            Err(RecvError::Closed) => self.end = Some("broker closed"),
        }
    }

    async fn catch_up(&mut self) {
        match self.state.store.since(self.cursor, REPLAY_PAGE).await {
            Ok(page) => {
                self.catching_up = page.len() == REPLAY_PAGE as usize;
                for n in page {
                    self.cursor = n.id;
                    if self.filter.matches(n.severity, &n.kind) {
                        self.state.metrics.deliveries.inc();
                        self.out.push_back(sse::notification_frame(&n));
                    }
                }
            }
            Err(e) => {
                // The client resumes from its Last-Event-ID once the store is back.
                tracing::warn!(error = %e, "replay failed; closing the stream");
                self.end = Some("store unavailable");
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.state.metrics.connected_streams.dec();
        tracing::info!(
            sub = %self.who.sub,
            duration_ms = self.opened.elapsed().as_millis() as u64,
            reason = self.end.unwrap_or("client disconnected"),
            last_id = self.cursor,
            "stream closed"
        );
    }
}
