//! HTTP routes. Each module contributes its own part of the router.

mod events;
mod health;
mod publish;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;

use crate::error::ApiError;
use crate::state::AppState;

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(events::routes())
        .merge(publish::routes())
        .merge(health::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}

async fn method_not_allowed(uri: Uri) -> impl IntoResponse {
    let body = belfry_proto::ErrorBody {
        error: belfry_proto::ErrorDetail {
            code: "method_not_allowed".to_owned(),
            message: format!("{} does not accept this method", uri.path()),
            field: None,
        },
    };
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body))
}
