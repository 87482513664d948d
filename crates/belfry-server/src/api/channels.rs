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
use belfry_proto::{
    ChannelInfo, ChannelList, ChannelOutcome, ChannelTest, ChannelTestResult, Severity,
};
use bytes::Bytes;

use super::json::optional_json_body;
use crate::auth::Admin;
use crate::channels::{Message, Outcome, answered};
use crate::config::MAX_REQUEST_BYTES;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/channels", get(list))
        .route("/api/admin/channels/{name}/test", post(test))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
}

/// `GET /api/admin/channels`
async fn list(_admin: Admin, State(state): State<AppState>) -> Json<ChannelList> {
    Json(ChannelList {
        channels: state
            .channels
            .iter()
            .map(|c| ChannelInfo {
                name: c.name.clone(),
                kind: c.kind().as_str().to_owned(),
                target: c.target(),
            })
            .collect(),
    })
}

/// `POST /api/admin/channels/{name}/test`
async fn test(
    Admin(identity): Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ChannelTestResult>, ApiError> {
    let request: ChannelTest = optional_json_body(body)?;
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
        Outcome::Delivered { status } => (ChannelOutcome::Delivered, answered(status)),
        Outcome::Retry { reason, .. } => (ChannelOutcome::Retry, reason),
        Outcome::Failed { reason } => (ChannelOutcome::Failed, reason),
    };
    Ok(Json(ChannelTestResult {
        channel: name,
        outcome,
        detail,
    }))
}
