//! `ApiError`: every way a request can fail, mapped to a status code and the
//! JSON error body in this one place. Server faults are logged in full and
//! answered with a generic message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use belfry_proto::{ErrorBody, ErrorDetail};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No usable bearer token: answered 401 with `WWW-Authenticate`.
    #[error("{0}")]
    Unauthorized(String),
    /// Wrong email or password, or an unusable refresh token.
    #[error("{0}")]
    BadCredentials(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    /// Well-formed, but cannot be done as asked (422 with its own code).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// The body did not arrive in time.
    #[error("the request body did not arrive within {secs} s")]
    RequestTimeout { secs: u64 },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{message}")]
    TooMany {
        message: String,
        retry_after_secs: u64,
    },
    /// Too much expensive work at once (password checks): 503 with
    /// `Retry-After`.
    #[error("{message}")]
    Busy {
        message: String,
        retry_after_secs: u64,
    },
    /// A store failure. Answered 503 when the store is unavailable (a retry
    /// with the same `Idempotency-Key` is safe), else 500: stored data that
    /// cannot be read is not fixed by retrying.
    #[error("the store failed")]
    Store(#[source] StoreError),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::BadCredentials(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Validation { .. } | ApiError::Unprocessable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Store(e) if !e.is_unavailable() => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Store(_) | ApiError::ShuttingDown | ApiError::Busy { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "invalid_token",
            ApiError::BadCredentials(_) => "invalid_credentials",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::BadRequest { code, .. } => code,
            ApiError::Validation { .. } => "validation_failed",
            ApiError::Unprocessable { code, .. } => code,
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::RequestTimeout { .. } => "request_timeout",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { code, .. } => code,
            ApiError::TooMany { .. } => "too_many_requests",
            ApiError::Store(e) if !e.is_unavailable() => "internal_error",
            ApiError::Store(_) => "store_unavailable",
            ApiError::Busy { .. } => "busy",
            ApiError::ShuttingDown => "shutting_down",
            ApiError::Internal(_) => "internal_error",
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::Validation { message, .. } => message.clone(),
            ApiError::Store(e) if e.is_unavailable() => {
                "the notification store is unavailable; retry with the same Idempotency-Key"
                    .to_owned()
            }
            ApiError::Store(_) | ApiError::Internal(_) => {
                "internal server error; the server log has the details".to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Store(e)
    }
}

/// An error and every error under it, `: `-separated, for a log line.
struct Chain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Internal(e) => tracing::error!(error = ?e, "request failed"),
            ApiError::Store(e) if e.is_unavailable() => {
                tracing::error!(error = %Chain(e), "store unavailable");
            }
            ApiError::Store(e) => tracing::error!(error = %Chain(e), "store failed"),
            _ => {}
        }
        let field = match &self {
            ApiError::Validation { field, .. } => Some(field.clone()),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.message(),
                field,
            },
        };
        let retry_after = match &self {
            ApiError::TooMany {
                retry_after_secs, ..
            }
            | ApiError::Busy {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        // An error is about this request only: no browser or CDN keeps it.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        match status {
            StatusCode::UNAUTHORIZED if !matches!(self, ApiError::BadCredentials(_)) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="invalid_token""#),
                );
            }
            StatusCode::SERVICE_UNAVAILABLE if retry_after.is_none() => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unavailable_store_is_a_503_to_retry_and_corrupt_data_a_500() {
        let down = ApiError::from(StoreError::from(sqlx::Error::PoolTimedOut)).into_response();
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(down.headers().contains_key(header::RETRY_AFTER));

        let corrupt = ApiError::from(StoreError::corrupt("severity 7")).into_response();
        assert_eq!(corrupt.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!corrupt.headers().contains_key(header::RETRY_AFTER));
    }
}
