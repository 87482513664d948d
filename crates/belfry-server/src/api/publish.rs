//! `POST /api/notifications`: the store's backend publishes here.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use belfry_proto::{NewNotification, Notification};
use bytes::Bytes;
use time::OffsetDateTime;

use super::json::json_body;
use crate::auth::Publisher;
use crate::config::MAX_REQUEST_BYTES;
use crate::error::ApiError;
use crate::publish::PublishError;
use crate::state::AppState;
use crate::store::{Append, Appended, IdempotencyKey};

/// Longest accepted `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 255;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/notifications", post(publish))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
}

#[tracing::instrument(skip_all, fields(publisher = %caller.sub))]
async fn publish(
    State(state): State<AppState>,
    Publisher(caller): Publisher,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let notification = parse_notification(body)?;
    let idempotency = idempotency_key(&headers, &caller.sub)?;
    let sent = notification.clone();

    let started = std::time::Instant::now();
    let result = state
        .publisher
        .publish(Append {
            notification,
            publisher: caller.sub,
            idempotency,
            created_at: OffsetDateTime::now_utc(),
        })
        .await
        .map_err(|e| match e {
            PublishError::Store(e) => ApiError::Store(e),
            PublishError::Stopped => ApiError::ShuttingDown,
        })?;
    state
        .metrics
        .publish_duration
        .observe(started.elapsed().as_secs_f64());

    let (status, replayed) = match &result {
        Appended::Created(_) => (StatusCode::CREATED, false),
        Appended::Existing(original) if !same_notification(&sent, original) => {
            // Answering with the original would drop this one silently: a
            // publisher reusing keys would never learn its critical was lost.
            tracing::warn!(
                id = original.id,
                "Idempotency-Key reused with a different body"
            );
            return Err(ApiError::Unprocessable {
                code: "idempotency_key_reused",
                message: format!(
                    "this Idempotency-Key was already used in the last 24 hours for a different notification (id {}); use a new key for a new notification",
                    original.id
                ),
            });
        }
        Appended::Existing(_) => (StatusCode::OK, true),
    };
    let n = result.notification();
    let mut response = (status, Json(n)).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The body as a notification that passed every limit, as it is stored.
fn parse_notification(body: Result<Bytes, BytesRejection>) -> Result<NewNotification, ApiError> {
    let n: NewNotification = json_body(body)?;
    n.into_validated().map_err(|e| ApiError::Validation {
        field: e.field.to_owned(),
        message: format!("{} {}", e.field, e.message),
    })
}

/// Whether a retry carries the notification its key first created.
fn same_notification(sent: &NewNotification, stored: &Notification) -> bool {
    sent.kind == stored.kind
        && sent.effective_severity() == stored.severity
        && sent.title == stored.title
        && sent.body == stored.body
        // Links stored before they were normalised compare normalised.
        && sent.link == stored.link.as_deref().map(belfry_proto::normalised_link)
        && sent.data == stored.data
}

fn idempotency_key(
    headers: &HeaderMap,
    publisher: &str,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || ApiError::BadRequest {
        code: "invalid_idempotency_key",
        message: format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
        ),
    };
    let key = value.to_str().map_err(|_| bad())?.trim();
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(bad());
    }
    Ok(Some(IdempotencyKey {
        publisher: publisher.to_owned(),
        key: key.to_owned(),
    }))
}
