//! The outbound channels for admins: which are configured (never their
//! secrets), and a test message through one, for the settings page's "Send
//! a test message". Sending is bounded: at most
//! [`MAX_CONCURRENT_TESTS`](crate::channels::MAX_CONCURRENT_TESTS) at once
//! per server, each within the channel timeout.

use axum::Json;
use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use belfry_proto::Severity;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::json::optional_json_body;
use crate::auth::Admin;
use crate::channels::{Message, Outcome};
use crate::config::MAX_REQUEST_BYTES;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/channels", get(list))
        .route("/api/admin/channels/{name}/test", post(test))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
}

/// One channel as admins see it.
#[derive(Debug, Serialize)]
struct ChannelView {
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    /// Where it sends, without secrets (a chat webhook by host only).
    target: String,
}

#[derive(Debug, Serialize)]
struct ChannelList {
    channels: Vec<ChannelView>,
}

/// `GET /api/admin/channels`
async fn list(_admin: Admin, State(state): State<AppState>) -> Json<ChannelList> {
    Json(ChannelList {
        channels: state
            .channels
            .iter()
            .map(|c| ChannelView {
                name: c.name.clone(),
                kind: c.kind().as_str(),
                target: c.target(),
            })
            .collect(),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TestRequest {
    /// The test message's severity [default: warning].
    severity: Option<Severity>,
}

/// How a test message went: `delivered`, `retry` (a real delivery would be
/// tried again) or `failed` (a configuration problem), with the receiver's
/// answer in words.
#[derive(Debug, Serialize)]
struct TestAnswer {
    channel: String,
    outcome: &'static str,
    detail: String,
}

/// `POST /api/admin/channels/{name}/test`
async fn test(
    Admin(identity): Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<TestAnswer>, ApiError> {
    let request: TestRequest = optional_json_body(body)?;
    let channel = state
        .channels
        .get(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no channel is named `{name}`")))?;
    let _turn = state.channels.test_turn().ok_or_else(|| ApiError::Busy {
        message: "test messages are already being sent; try again in a moment".to_owned(),
        retry_after_secs: 2,
    })?;
    let message = Message::test(
        request.severity.unwrap_or(Severity::Warning),
        &name,
        state.config.public_url.as_ref(),
    );
    let outcome = state.channels.send(channel, &message).await;
    tracing::info!(channel = %name, by = %identity.sub, outcome = ?outcome, "test message sent");
    let (outcome, detail) = match outcome {
        Outcome::Delivered { status } => ("delivered", format!("answered {status}")),
        Outcome::Retry { reason, .. } => ("retry", reason),
        Outcome::Failed { reason } => ("failed", reason),
    };
    Ok(Json(TestAnswer {
        channel: name,
        outcome,
        detail,
    }))
}
