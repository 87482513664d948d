//! Thin Tauri commands: validate, delegate to belfry-client or the
//! [`Desktop`](crate::desktop::Desktop) shell, and serialize errors
//! as `{kind, message, …}` for the UI's `ApiError`.

pub mod inbox;
pub mod preferences;
pub mod session;
pub mod status;
pub mod test_notification;

use belfry_proto::ErrorKind;
use serde::Serialize;

/// An error as the UI receives it: `kind` is the shared
/// [`ErrorKind`] (the UI's generated `ErrorKind` type), never a word parsed
/// back out of a message.
#[derive(Debug, Serialize)]
pub struct CommandError {
    pub kind: ErrorKind,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Seconds to wait, from the server's `Retry-After`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl CommandError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
            code: None,
            retry_after: None,
        }
    }
}

impl From<belfry_client::Error> for CommandError {
    fn from(e: belfry_client::Error) -> Self {
        use belfry_client::Error;
        let kind = e.kind();
        let message = match &e {
            Error::Refused { message, .. } | Error::Status { message, .. } => message.clone(),
            Error::AuthRequired { reason } => reason.clone(),
            Error::Network(_) | Error::Silent(_) => belfry_client::stream::error_chain(&e),
            other => other.to_string(),
        };
        let (status, code) = match &e {
            Error::Refused { status, code, .. } | Error::Status { status, code, .. } => {
                (Some(*status), code.clone())
            }
            _ => (None, None),
        };
        CommandError {
            kind,
            message,
            status,
            code,
            retry_after: e.retry_after().map(|d| d.as_secs()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_answers_map_to_the_kinds_the_ui_explains() {
        let e = CommandError::from(belfry_client::Error::Status {
            status: 429,
            code: Some("too_many_requests".into()),
            message: "slow down".into(),
            retry_after: Some(std::time::Duration::from_secs(30)),
        });
        assert_eq!((e.kind, e.retry_after), (ErrorKind::Throttled, Some(30)));
        let refused = |status, code: &str| {
            CommandError::from(belfry_client::Error::Refused {
                status,
                code: Some(code.into()),
                message: "no".into(),
            })
        };
        let wrong_password = refused(401, "invalid_credentials");
        assert_eq!(wrong_password.kind, ErrorKind::InvalidCredentials);
        assert_eq!(wrong_password.status, Some(401));
        assert_eq!(refused(403, "forbidden").kind, ErrorKind::Disabled);
        assert_eq!(refused(401, "invalid_token").kind, ErrorKind::Unauthorized);
        let e = CommandError::from(belfry_client::Error::AuthRequired {
            reason: "expired".into(),
        });
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::Unauthorized, "expired")
        );
        let json = serde_json::to_value(refused(403, "forbidden")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "disabled", "message": "no", "status": 403, "code": "forbidden"})
        );
    }
}
