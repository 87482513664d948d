//! The JSON error body every Belfry endpoint answers with.

use serde::{Deserialize, Serialize};

/// `{"error":{"code":"…","message":"…","field":"…"}}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, in a stable machine code and a sentence that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorDetail {
    /// Stable `snake_case` code, e.g. `invalid_token`, `validation_failed`.
    pub code: String,
    pub message: String,
    /// The request field at fault, for validation errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub field: Option<String>,
}

/// What kind of failure an answer is, as a screen explains it: the one
/// classification of an HTTP status and `error.code` that every client
/// shares (the desktop app's commands, and the browser through the generated
/// TypeScript and `fixtures/error-kinds.json`, which both test against).
/// `Unreachable` is never an answer: the server could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ErrorKind {
    /// Wrong email or password.
    InvalidCredentials,
    /// Too many attempts or requests: wait (`Retry-After`).
    Throttled,
    /// Refused for who is asking: a disabled account, or not an admin.
    Disabled,
    /// The server could not be reached.
    Unreachable,
    /// The sign-in is missing, expired or revoked.
    Unauthorized,
    /// The request conflicts with the current state.
    Conflict,
    /// A field of the request is wrong (`error.field` names it).
    Validation,
    /// No such thing.
    NotFound,
    /// Anything else: the server failed or is unavailable.
    Server,
}

impl ErrorKind {
    /// The kind of an error answer with `status` and, when its body had one,
    /// the stable `code`.
    pub fn of(status: u16, code: Option<&str>) -> Self {
        if code == Some("invalid_credentials") {
            return Self::InvalidCredentials;
        }
        match status {
            429 => Self::Throttled,
            403 => Self::Disabled,
            401 => Self::Unauthorized,
            409 => Self::Conflict,
            400 | 422 => Self::Validation,
            404 => Self::NotFound,
            _ => Self::Server,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Case {
        status: u16,
        code: Option<String>,
        kind: ErrorKind,
    }

    #[derive(Deserialize)]
    struct Fixture {
        cases: Vec<Case>,
    }

    /// The same table the UI's `errorFromResponse` is tested against.
    #[test]
    fn answers_are_classified_as_the_shared_table_says() {
        let fixture: Fixture =
            serde_json::from_str(include_str!("../../../fixtures/error-kinds.json")).unwrap();
        assert!(fixture.cases.len() > 10);
        for case in fixture.cases {
            assert_eq!(
                ErrorKind::of(case.status, case.code.as_deref()),
                case.kind,
                "{} {:?}",
                case.status,
                case.code
            );
        }
    }
}
