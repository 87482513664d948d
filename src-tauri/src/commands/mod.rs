//! Thin Tauri commands: validate, delegate to belfry-client or the
//! [`Desktop`](crate::desktop::Desktop) shell, and serialize errors
//! as `{kind, message, …}` for the UI's `ApiError`.

pub mod inbox;
pub mod preferences;
pub mod session;
pub mod status;
pub mod test_notification;

use serde::Serialize;

/// An error as the UI receives it. `kind` uses the UI's `ApiErrorKind` names.
#[derive(Debug, Serialize)]
pub struct CommandError {
    pub kind: &'static str,
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
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
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
        match e {
            Error::AuthRequired { reason } => CommandError::new("unauthorized", reason),
            Error::Status {
                status,
                code,
                message,
                retry_after,
            } => CommandError {
                kind: match status {
                    429 => "throttled",
                    403 => "disabled",
                    401 => "unauthorized",
                    409 => "conflict",
                    400 | 422 => "validation",
                    404 => "not_found",
                    _ => "server",
                },
                message,
                status: Some(status),
                code,
                retry_after: retry_after.map(|d| d.as_secs()),
            },
            Error::Network(_) | Error::Silent(_) => {
                CommandError::new("unreachable", belfry_client::stream::error_chain(&e))
            }
            other => CommandError::new("server", other.to_string()),
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
            code: Some("throttled".into()),
            message: "slow down".into(),
            retry_after: Some(std::time::Duration::from_secs(30)),
        });
        assert_eq!((e.kind, e.retry_after), ("throttled", Some(30)));
        let e = CommandError::from(belfry_client::Error::AuthRequired {
            reason: "expired".into(),
        });
        assert_eq!(e.kind, "unauthorized");
        let json = serde_json::to_value(CommandError::new("validation", "bad")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "validation", "message": "bad"})
        );
    }
}
