//! The built web UI, served at `/` when a UI directory is configured.
//!
//! Vite names every file under `assets/` by its content hash, so those are
//! cached forever; `index.html` (and every client-side route, which falls
//! back to it) is revalidated on every load so a new release shows at once.
//! Only an asset that exists is immutable: a missing one (a page of the next
//! release asking a server still on the last one, during a rolling deploy)
//! is a JSON 404 that nothing may store, so it is fetched again later.

use std::path::Path;

use axum::Router;
use axum::handler::HandlerWithoutStateExt as _;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::ApiError;
use crate::state::AppState;

/// The UI's Content-Security-Policy: only its own scripts, styles and API;
/// no inline script, no framing, no plugins. Publisher text is rendered as
/// text, and this is the second line of defence if that ever slips.
pub const UI_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn routes(dir: &Path) -> Router<AppState> {
    let assets = Router::new()
        .fallback_service(ServeDir::new(dir.join("assets")).fallback(missing_asset.into_service()))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            |res: &axum::response::Response| {
                let found = res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED;
                found.then_some(HeaderValue::from_static(
                    "public, max-age=31536000, immutable",
                ))
            },
        ));
    let pages = Router::new()
        .fallback_service(ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html"))))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ));
    Router::new()
        .nest("/assets", assets)
        .merge(pages)
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(UI_CSP),
        ))
}

async fn missing_asset(uri: Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no asset /assets{}: reload the page to get the current release",
        uri.path()
    ))
}
