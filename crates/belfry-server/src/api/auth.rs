//! Self-hosted sign-in: `POST /api/auth/login`, `/refresh` and `/logout`.
//!
//! Access tokens are short-lived JWTs verified exactly like external ones;
//! refresh tokens are opaque, stored only as SHA-256 hashes, and rotate on
//! every use. A rotated token presented again means a copy exists somewhere:
//! the whole sign-in is revoked.

use std::time::Duration;

use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use belfry_proto::{LoginRequest, RefreshRequest, TokenResponse};
use bytes::Bytes;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use super::json::json_body;
use crate::client_addr::ClientAddr;
use crate::config::MAX_REQUEST_BYTES;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{RotateOutcome, StoreError, User};
use crate::throttle::{Reservation, ReserveError, Throttled, WINDOW};

/// How long a sign-in waits for a free password-check slot before the
/// server says it is busy: a burst queues briefly instead of piling up.
const CHECK_SLOT_WAIT: Duration = Duration::from_secs(10);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/logout", post(logout))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn invalid_credentials() -> ApiError {
    ApiError::BadCredentials("wrong email or password".to_owned())
}

/// What checking a password found.
enum Checked {
    /// The account's password, and the attempt's reservation.
    Right(User, Reservation),
    /// Wrong password or unknown email; the failure is recorded.
    Wrong,
    /// No check slot came free in time; nothing is recorded.
    Busy,
    Failed(StoreError),
}

/// Checks `password` for `email` and records a failure before the
/// reservation is given back.
async fn check_password(
    state: AppState,
    email: String,
    password: String,
    attempt: Reservation,
) -> Checked {
    let user = match state.store.user_by_email(&email).await {
        Ok(user) => user,
        Err(e) => return Checked::Failed(e),
    };
    // An unknown email is checked against a dummy hash, so both take as long.
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let Ok(ok) = state
        .passwords
        .verify(password, hash, CHECK_SLOT_WAIT)
        .await
    else {
        return Checked::Busy;
    };
    match user {
        Some(user) if ok => Checked::Right(user, attempt),
        _ => {
            let recorded = state
                .store
                .record_login_failure(attempt.keys(), OffsetDateTime::now_utc())
                .await;
            // Only now: recorded before it stops counting as in flight.
            drop(attempt);
            match recorded {
                Ok(()) => Checked::Wrong,
                Err(e) => Checked::Failed(e),
            }
        }
    }
}

fn access_token(
    state: &AppState,
    user: &User,
    session_id: &str,
) -> Result<TokenResponse, ApiError> {
    let minter = state.minter.as_ref().ok_or_else(sign_in_off)?;
    let ttl = state.config.access_token_ttl;
    let role = if user.is_admin { "admin" } else { "user" };
    let access = minter
        .mint_for_session(
            &user.email,
            Some(&user.email),
            Some(role),
            &[],
            ttl,
            Some(session_id),
        )
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(TokenResponse {
        access_token: access,
        refresh_token: String::new(),
        expires_in: ttl.as_secs(),
        token_type: "Bearer".to_owned(),
    })
}

fn sign_in_off() -> ApiError {
    ApiError::NotFound(
        "local sign-in is off: this server verifies tokens with a public key (jwt_algorithm is not HS256)"
            .to_owned(),
    )
}

#[tracing::instrument(skip_all, fields(client = %client.0))]
async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    if state.minter.is_none() {
        return Err(sign_in_off());
    }
    let req: LoginRequest = json_body(body)?;
    let email = crate::auth::normalise_email(&req.email);
    if email.is_empty() {
        return Err(ApiError::Validation {
            field: "email".to_owned(),
            message: "email must not be empty".to_owned(),
        });
    }
    let busy = || ApiError::Busy {
        message: "the server is checking too many sign-ins at once; retry in a moment".to_owned(),
        retry_after_secs: 1,
    };
    // Reserved before the password is hashed: see `throttle`.
    let attempt = match state
        .signin
        .reserve(state.store.as_ref(), &email, client.0)
        .await
    {
        Ok(attempt) => attempt,
        Err(ReserveError::Throttled(Throttled { wait_secs })) => {
            tracing::warn!(email = %email, wait = wait_secs, "sign-in throttled");
            return Err(ApiError::TooMany {
                message: format!("too many failed sign-ins; try again in {wait_secs} seconds"),
                retry_after_secs: wait_secs,
            });
        }
        Err(ReserveError::Busy) => return Err(busy()),
        Err(ReserveError::Store(e)) => return Err(e.into()),
    };

    // A task of its own: a client that hangs up drops this handler, but
    // not the check it started, which still records its failure and only
    // then gives its reservation back.
    let checked = tokio::spawn(check_password(
        state.clone(),
        email.clone(),
        req.password,
        attempt,
    ))
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    let (user, attempt) = match checked {
        Checked::Right(user, attempt) => (user, attempt),
        Checked::Wrong => {
            tracing::info!(email = %email, "sign-in failed");
            return Err(invalid_credentials());
        }
        Checked::Busy => {
            tracing::warn!(email = %email, "sign-in refused: every password check slot is busy");
            return Err(busy());
        }
        Checked::Failed(e) => return Err(e.into()),
    };
    if user.disabled {
        tracing::info!(email = %email, "sign-in of a disabled account refused");
        return Err(ApiError::Forbidden(
            "this account is disabled; ask another admin".to_owned(),
        ));
    }
    let now = OffsetDateTime::now_utc();
    state
        .store
        .clear_login_failures(attempt.pair_key(), now - WINDOW)
        .await?;
    drop(attempt);

    let session_id = random_token(16);
    let refresh = random_token(32);
    state
        .store
        .create_session(
            user.id,
            &session_id,
            &sha256_hex(&refresh),
            now + state.config.refresh_token_ttl,
        )
        .await?;
    let mut tokens = access_token(&state, &user, &session_id)?;
    tokens.refresh_token = refresh;
    tracing::info!(email = %email, "signed in");
    Ok(Json(tokens))
}

#[tracing::instrument(skip_all)]
async fn refresh(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    let req: RefreshRequest = json_body(body)?;
    let new_refresh = random_token(32);
    let expires = OffsetDateTime::now_utc() + state.config.refresh_token_ttl;
    match state
        .store
        .rotate_refresh(
            &sha256_hex(&req.refresh_token),
            &sha256_hex(&new_refresh),
            expires,
        )
        .await?
    {
        RotateOutcome::Rotated { user, session_id } => {
            let mut tokens = access_token(&state, &user, &session_id)?;
            tokens.refresh_token = new_refresh;
            Ok(Json(tokens))
        }
        RotateOutcome::Reused { session_id } => {
            tracing::warn!(session = %session_id, "a rotated refresh token was reused; sign-in revoked");
            Err(ApiError::BadCredentials(
                "this refresh token was already used, so this sign-in was revoked to be safe; sign in again".to_owned(),
            ))
        }
        RotateOutcome::Invalid => Err(ApiError::BadCredentials(
            "the refresh token is unknown, expired or revoked; sign in again".to_owned(),
        )),
    }
}

#[tracing::instrument(skip_all)]
async fn logout(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let req: RefreshRequest = json_body(body)?;
    if let Some(session) = state
        .store
        .revoke_by_refresh(&sha256_hex(&req.refresh_token))
        .await?
    {
        tracing::info!(%session, "signed out");
    }
    Ok(StatusCode::NO_CONTENT)
}
