//! The client's one error type, and how an HTTP answer maps onto it.

use std::time::Duration;

use belfry_proto::{ErrorBody, ErrorKind};

/// What went wrong talking to a Belfry server.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable credentials: none were given, or the refresh token was
    /// refused. Nothing is retried until new credentials come.
    #[error("authentication needed: {reason}")]
    AuthRequired { reason: String },
    /// The server refused the credentials (401) or whom they belong to
    /// (403: a disabled account, a token that is not an admin's). Nothing
    /// is retried until new credentials come; [`Error::kind`] tells which.
    #[error("authentication needed: {}", refusal(*status, message))]
    Refused {
        status: u16,
        /// The stable `error.code` of the body, when the body had one.
        code: Option<String>,
        message: String,
    },
    /// The server answered with an error status.
    #[error("the server answered {status}: {message}")]
    Status {
        status: u16,
        /// The stable `error.code` of the body, when the body had one.
        code: Option<String>,
        message: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The server could not be reached, or the connection broke.
    #[error("network error")]
    Network(#[source] reqwest::Error),
    /// Nothing, not even a keepalive, arrived for this long: the connection
    /// is presumed dead (a half-open TCP connection after sleep or a NAT drop).
    #[error("nothing arrived for {0:?}; the connection is presumed dead")]
    Silent(Duration),
    /// The answer was not what the API promises (wrong content type, bad JSON).
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The server URL cannot be used.
    #[error("invalid server URL `{0}`")]
    InvalidUrl(String),
    /// The OS credential store failed.
    #[error("credential store: {0}")]
    Credentials(String),
}

impl Error {
    /// Whether trying again later may succeed: network failures, silence,
    /// 408, 429 and 5xx. Everything else needs a change first.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Network(_) | Error::Silent(_) => true,
            Error::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            _ => false,
        }
    }

    /// Whether new credentials are needed.
    pub fn is_auth(&self) -> bool {
        matches!(self, Error::AuthRequired { .. } | Error::Refused { .. })
    }

    /// What a screen should say about it: the server's answers classified
    /// by [`ErrorKind::of`], the one table every client shares.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::AuthRequired { .. } => ErrorKind::Unauthorized,
            Error::Refused { status, code, .. } | Error::Status { status, code, .. } => {
                ErrorKind::of(*status, code.as_deref())
            }
            Error::Network(_) | Error::Silent(_) => ErrorKind::Unreachable,
            Error::Protocol(_) | Error::Credentials(_) => ErrorKind::Server,
            Error::InvalidUrl(_) => ErrorKind::Validation,
        }
    }

    /// Why new credentials are needed, in words, when they are.
    pub fn auth_reason(&self) -> Option<String> {
        match self {
            Error::AuthRequired { reason } => Some(reason.clone()),
            Error::Refused {
                status, message, ..
            } => Some(refusal(*status, message)),
            _ => None,
        }
    }

    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Reads an error answer: status, `Retry-After` and the JSON error body.
    pub(crate) async fn from_response(res: reqwest::Response) -> Self {
        let status = res.status().as_u16();
        let retry_after = retry_after(res.headers());
        let text = res.text().await.unwrap_or_default();
        let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => (Some(body.error.code), body.error.message),
            Err(_) if text.trim().is_empty() => (None, "no details given".to_owned()),
            Err(_) => (None, text.chars().take(200).collect()),
        };
        match status {
            401 | 403 => Error::Refused {
                status,
                code,
                message,
            },
            _ => Error::Status {
                status,
                code,
                message,
                retry_after,
            },
        }
    }
}

impl From<reqwest::Error> for Error {
    fn from(e: reqwest::Error) -> Self {
        if e.is_decode() {
            Error::Protocol(e.to_string())
        } else {
            Error::Network(e)
        }
    }
}

/// A refusal in words: a 403 says it is one, since the credentials were
/// fine and whom they belong to was not.
fn refusal(status: u16, message: &str) -> String {
    if status == 403 {
        format!("forbidden: {message}")
    } else {
        message.to_owned()
    }
}

/// `Retry-After` in delta-seconds. (An HTTP-date is rare from an API and is
/// ignored: the backoff then applies on its own.)
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> Error {
        Error::Status {
            status,
            code: None,
            message: String::new(),
            retry_after: None,
        }
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(status(s).is_retryable(), "{s}");
        }
        for s in [400, 404, 410, 422] {
            assert!(!status(s).is_retryable(), "{s}");
        }
        assert!(Error::Silent(Duration::from_secs(1)).is_retryable());
        assert!(!Error::AuthRequired { reason: "x".into() }.is_retryable());
        let refused = |status| Error::Refused {
            status,
            code: None,
            message: "no".into(),
        };
        assert!(!refused(401).is_retryable() && !refused(403).is_retryable());
        assert!(refused(401).is_auth() && refused(403).is_auth());
        assert!(!Error::Protocol("x".into()).is_retryable());
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn every_error_has_the_kind_a_screen_explains() {
        let refused = |status, code: &str| Error::Refused {
            status,
            code: Some(code.into()),
            message: "no".into(),
        };
        assert_eq!(
            refused(401, "invalid_credentials").kind(),
            ErrorKind::InvalidCredentials
        );
        assert_eq!(
            refused(401, "invalid_token").kind(),
            ErrorKind::Unauthorized
        );
        assert_eq!(refused(403, "forbidden").kind(), ErrorKind::Disabled);
        assert_eq!(status(429).kind(), ErrorKind::Throttled);
        assert_eq!(
            Error::Silent(Duration::from_secs(1)).kind(),
            ErrorKind::Unreachable
        );
        assert_eq!(
            Error::AuthRequired { reason: "x".into() }.kind(),
            ErrorKind::Unauthorized
        );
        // Words for people, kinds for code: a 403 says it was refused.
        assert_eq!(
            refused(403, "forbidden").auth_reason().as_deref(),
            Some("forbidden: no")
        );
        assert_eq!(status(500).auth_reason(), None);
    }
}
