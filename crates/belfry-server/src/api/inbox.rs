//! The admin inbox: history pages, read state, acknowledgements and
//! preferences. Every change is also pushed to the streams it concerns.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use belfry_proto::sse::{EVENT_ACK, EVENT_PREFERENCES, EVENT_READ};
use belfry_proto::{
    Ack, AckEvent, AckRequest, Actor, InboxPage, MAX_ACK_NOTE_CHARS, MarkRead, Preferences,
    ReadEvent, Severity, UnreadAnswer,
};
use bytes::Bytes;
use time::OffsetDateTime;

use super::json::{json_body, optional_json_body};
use crate::auth::{Admin, Identity};
use crate::broker::BusMessage;
use crate::config::MAX_REQUEST_BYTES;
use crate::error::ApiError;
use crate::sse;
use crate::state::AppState;
use crate::store::{AckOutcome, InboxQuery, ReadChange, ReleaseOutcome};

/// Inbox page size when the client names none.
const DEFAULT_PAGE: u32 = 50;
/// Largest inbox page.
const MAX_PAGE: u32 = 200;
/// Most ids in one read/unread request.
const MAX_IDS: usize = 1_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/notifications", get(list))
        .route("/api/admin/notifications/read", post(mark_read))
        .route("/api/admin/notifications/unread", post(mark_unread))
        .route(
            "/api/admin/notifications/{id}/ack",
            post(ack).delete(release),
        )
        .route(
            "/api/admin/preferences",
            get(get_preferences).put(put_preferences),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
}

fn bad_param(name: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_parameter",
        message: format!("{name}: {message}"),
    }
}

fn parse_query(q: &HashMap<String, String>) -> Result<InboxQuery, ApiError> {
    let mut out = InboxQuery {
        limit: DEFAULT_PAGE,
        ..InboxQuery::default()
    };
    for (key, value) in q {
        match key.as_str() {
            "limit" => {
                out.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| {
                        bad_param("limit", format!("must be a number from 1 to {MAX_PAGE}"))
                    })?;
            }
            "before" => {
                out.before = Some(
                    value
                        .parse()
                        .map_err(|_| bad_param("before", "must be a notification id"))?,
                );
            }
            "min_severity" if !value.is_empty() => {
                out.min_severity = Some(
                    value
                        .parse::<Severity>()
                        .map_err(|e| bad_param("min_severity", e))?,
                );
            }
            "kind" if !value.is_empty() => {
                if !belfry_proto::is_valid_kind(value) {
                    return Err(bad_param("kind", "must be a kind like order.created"));
                }
                out.kind = Some(value.clone());
            }
            "unread" => {
                out.unread_only = match value.as_str() {
                    "true" | "1" => true,
                    "false" | "0" | "" => false,
                    _ => return Err(bad_param("unread", "must be true or false")),
                };
            }
            "min_severity" | "kind" => {}
            other => return Err(bad_param(other, "unknown parameter")),
        }
    }
    Ok(out)
}

#[tracing::instrument(skip_all, fields(sub = %admin.sub))]
async fn list(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<InboxPage>, ApiError> {
    let query = parse_query(&q)?;
    let (items, more) = state.store.inbox_page(&admin.sub, &query).await?;
    let unread = state.store.unread_counts(&admin.sub).await?;
    let next_before = if more {
        items.last().map(|i| i.notification.id)
    } else {
        None
    };
    Ok(Json(InboxPage {
        items,
        next_before,
        unread,
    }))
}

fn validation(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Validation {
        field: field.to_owned(),
        message: message.into(),
    }
}

async fn apply_read(
    state: &AppState,
    admin: &Identity,
    change: ReadChange,
) -> Result<Json<UnreadAnswer>, ApiError> {
    let unread = state.store.mark(&admin.sub, &change).await?;
    let event = match change {
        ReadChange::UpTo(n) => ReadEvent {
            ids: None,
            up_to: Some(n),
            unread_again: false,
            unread,
        },
        ReadChange::Ids { ids, read } => ReadEvent {
            ids: Some(ids),
            up_to: None,
            unread_again: !read,
            unread,
        },
    };
    let msg = BusMessage::ToUser {
        sub: Arc::from(admin.sub.as_str()),
        frame: sse::state_frame(EVENT_READ, &event),
    };
    if let Err(e) = state.broker.publish(msg).await {
        tracing::warn!(error = %e, "read event not broadcast");
    }
    Ok(Json(UnreadAnswer { unread }))
}

fn checked_ids(ids: Vec<u64>) -> Result<Vec<u64>, ApiError> {
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(validation(
            "ids",
            format!("must list 1 to {MAX_IDS} notification ids"),
        ));
    }
    Ok(ids)
}

#[tracing::instrument(skip_all, fields(sub = %admin.sub))]
async fn mark_read(
    State(state): State<AppState>,
    Admin(admin): Admin,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UnreadAnswer>, ApiError> {
    let req: MarkRead = json_body(body)?;
    let change = match req {
        MarkRead {
            ids: Some(ids),
            up_to: None,
        } => ReadChange::Ids {
            ids: checked_ids(ids)?,
            read: true,
        },
        MarkRead {
            ids: None,
            up_to: Some(n),
        } => ReadChange::UpTo(n),
        _ => {
            return Err(validation(
                "ids",
                "send either `ids` (a list) or `up_to` (an id), not both",
            ));
        }
    };
    apply_read(&state, &admin, change).await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkUnread {
    ids: Vec<u64>,
}

#[tracing::instrument(skip_all, fields(sub = %admin.sub))]
async fn mark_unread(
    State(state): State<AppState>,
    Admin(admin): Admin,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UnreadAnswer>, ApiError> {
    let req: MarkUnread = json_body(body)?;
    let change = ReadChange::Ids {
        ids: checked_ids(req.ids)?,
        read: false,
    };
    apply_read(&state, &admin, change).await
}

async fn broadcast_ack(state: &AppState, id: u64, ack: Option<Ack>) {
    let frame = sse::state_frame(EVENT_ACK, &AckEvent { id, ack });
    if let Err(e) = state.broker.publish(BusMessage::ToAll(frame)).await {
        tracing::warn!(error = %e, "ack event not broadcast");
    }
}

fn held_by(ack: &Ack) -> String {
    ack.by.email.clone().unwrap_or_else(|| ack.by.sub.clone())
}

#[tracing::instrument(skip_all, fields(sub = %admin.sub, id))]
async fn ack(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<u64>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<AckEvent>), ApiError> {
    let req: AckRequest = optional_json_body(body)?;
    let note = req
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if let Some(n) = &note
        && n.chars().count() > MAX_ACK_NOTE_CHARS
    {
        return Err(validation(
            "note",
            format!("at most {MAX_ACK_NOTE_CHARS} characters"),
        ));
    }
    let ack = Ack {
        by: Actor {
            sub: admin.sub.clone(),
            email: admin.email.clone(),
        },
        at: OffsetDateTime::now_utc(),
        note,
    };
    match state.store.ack(id, &ack, req.force).await? {
        AckOutcome::Acked(ack) => {
            tracing::info!("acknowledged");
            broadcast_ack(&state, id, Some(ack.clone())).await;
            Ok((StatusCode::OK, Json(AckEvent { id, ack: Some(ack) })))
        }
        AckOutcome::HeldBy(held) => Err(ApiError::Conflict {
            code: "already_acknowledged",
            message: format!(
                "{} is already handling this notification; send {{\"force\":true}} to take it over",
                held_by(&held)
            ),
        }),
        AckOutcome::NotFound => Err(ApiError::NotFound(format!("no notification {id}"))),
    }
}

#[tracing::instrument(skip_all, fields(sub = %admin.sub, id))]
async fn release(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<u64>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let req: AckRequest = optional_json_body(body)?;
    match state.store.release(id, &admin.sub, req.force).await? {
        ReleaseOutcome::Released => {
            tracing::info!("released");
            broadcast_ack(&state, id, None).await;
            Ok(StatusCode::NO_CONTENT)
        }
        ReleaseOutcome::NotHeld => Ok(StatusCode::NO_CONTENT),
        ReleaseOutcome::HeldBy(held) => Err(ApiError::Conflict {
            code: "acknowledged_by_someone_else",
            message: format!(
                "only {} can release this; send {{\"force\":true}} to release it anyway",
                held_by(&held)
            ),
        }),
        ReleaseOutcome::NotFound => Err(ApiError::NotFound(format!("no notification {id}"))),
    }
}

async fn get_preferences(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> Result<Json<Preferences>, ApiError> {
    Ok(Json(
        state
            .store
            .preferences(&admin.sub)
            .await?
            .unwrap_or_default(),
    ))
}

/// `HH:MM`, digits only: `u8::from_str` alone would take `+7:00`, which
/// the clients' pop-up policies read as malformed.
fn parse_hhmm(field: &str, s: &str) -> Result<(), ApiError> {
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    let ok = s.len() == 5
        && s.as_bytes()[2] == b':'
        && digits(&s[..2])
        && digits(&s[3..])
        && s[..2].parse::<u8>().is_ok_and(|h| h < 24)
        && s[3..].parse::<u8>().is_ok_and(|m| m < 60);
    if ok {
        Ok(())
    } else {
        Err(validation(field, format!("`{s}` is not a time like 22:00")))
    }
}

/// Checks the values serde cannot: kinds, times, time zone, sizes.
fn validate_preferences(p: &Preferences) -> Result<(), ApiError> {
    if p.muted_kinds.len() > 100 {
        return Err(validation("muted_kinds", "at most 100 entries"));
    }
    for (i, m) in p.muted_kinds.iter().enumerate() {
        if !belfry_proto::is_valid_kind(&m.kind) {
            return Err(validation(
                &format!("muted_kinds[{i}].kind"),
                format!("`{}` is not a valid kind", m.kind),
            ));
        }
    }
    if let Some(q) = &p.quiet_hours {
        parse_hhmm("quiet_hours.start", &q.start)?;
        parse_hhmm("quiet_hours.end", &q.end)?;
        if jiff::tz::TimeZone::get(&q.time_zone).is_err() {
            return Err(validation(
                "quiet_hours.time_zone",
                format!(
                    "`{}` is not an IANA time zone like Europe/Amsterdam",
                    q.time_zone
                ),
            ));
        }
    }
    if p.realert_minutes > 24 * 60 {
        return Err(validation("realert_minutes", "at most 1440 (a day)"));
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(sub = %admin.sub))]
async fn put_preferences(
    State(state): State<AppState>,
    Admin(admin): Admin,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Preferences>, ApiError> {
    let prefs: Preferences = json_body(body)?;
    validate_preferences(&prefs)?;
    state.store.set_preferences(&admin.sub, &prefs).await?;
    let msg = BusMessage::ToUser {
        sub: Arc::from(admin.sub.as_str()),
        frame: sse::state_frame(EVENT_PREFERENCES, &prefs),
    };
    if let Err(e) = state.broker.publish(msg).await {
        tracing::warn!(error = %e, "preferences event not broadcast");
    }
    Ok(Json(prefs))
}
