//! HTTP routes. Each module contributes its own part of the router.

mod auth;
mod channels;
pub(crate) mod events;
pub(crate) mod health;
mod inbox;
mod json;
mod publish;
mod ui;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;

use crate::config::MAX_REQUEST_BYTES;
use crate::error::ApiError;
use crate::state::AppState;

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    let origins = state.config.cors_origins.clone();
    // Only the routes that read a body wait for one; the stream and the
    // probes answer without the detour.
    let with_bodies = Router::new()
        .merge(publish::routes())
        .merge(inbox::routes())
        .merge(auth::routes())
        .merge(channels::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            body_in_time,
        ));
    let api = Router::new()
        .merge(events::routes())
        .merge(with_bodies)
        .merge(health::routes());
    let router = match &state.config.ui_dir {
        // Unknown API paths stay JSON errors; every other path is the UI's.
        Some(dir) => api
            .route("/api/{*rest}", axum::routing::any(not_found))
            .merge(ui::routes(dir)),
        None => api.fallback(not_found),
    };
    let router = router
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    let router = with_security_headers(router);
    if origins.is_empty() {
        // CORS closed: browsers refuse cross-origin reads of every answer.
        router
    } else {
        router.layer(cors(&origins))
    }
}

/// Headers every response carries unless a route set its own.
fn with_security_headers(router: Router) -> Router {
    use axum::http::{HeaderName, HeaderValue, header};
    use tower_http::set_header::SetResponseHeaderLayer;
    let headers: [(HeaderName, &'static str); 5] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ];
    headers.into_iter().fold(router, |r, (name, value)| {
        r.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderName, HeaderValue, Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(list))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("last-event-id"),
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            HeaderName::from_static("idempotent-replayed"),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// Reads the whole request body before any handler runs, within
/// `request_body_timeout`: a client trickling a body (or declaring one and
/// sending nothing) cannot hold a connection and a task for ever. Bodies
/// are small (at most [`MAX_REQUEST_BYTES`]), so buffering them costs
/// nothing a handler would not spend anyway.
async fn body_in_time(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let limit = state.config.request_body_timeout;
    let read = tokio::time::timeout(limit, axum::body::to_bytes(body, MAX_REQUEST_BYTES)).await;
    let bytes = match read {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            let too_large =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.is::<http_body_util::LengthLimitError>());
            return if too_large {
                ApiError::PayloadTooLarge {
                    limit: MAX_REQUEST_BYTES,
                }
            } else {
                ApiError::BadRequest {
                    code: "unreadable_body",
                    message: format!("the request body could not be read ({e})"),
                }
            }
            .into_response();
        }
        Err(_) => {
            tracing::info!(path = %parts.uri.path(), "request body timed out");
            return ApiError::RequestTimeout {
                secs: limit.as_secs(),
            }
            .into_response();
        }
    };
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
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
