//! JSON request bodies: one set of rules for every endpoint. A body that is
//! not a JSON object is a 400; a well-formed one with a wrong, missing or
//! unknown field is a 422 naming the field.

use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::config::MAX_REQUEST_BYTES;
use crate::error::ApiError;

/// Parses a required JSON object body.
pub fn json_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    parse(&read(body)?)
}

/// Parses an optional JSON object body: an empty one means `{}`.
pub fn optional_json_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = read(body)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return parse(b"{}");
    }
    parse(&body)
}

fn read(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
            ApiError::PayloadTooLarge {
                limit: MAX_REQUEST_BYTES,
            }
        }
        other => ApiError::BadRequest {
            code: "unreadable_body",
            message: other.body_text(),
        },
    })
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
            code: "malformed_json",
            message: format!("the request body is not valid JSON ({e})"),
        })?;
    if !value.is_object() {
        return Err(ApiError::BadRequest {
            code: "malformed_json",
            message: "the request body must be a JSON object".to_owned(),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let field = if path == "." {
            // `missing field `title`` / `unknown field `id``: the name is quoted.
            message
                .split('`')
                .nth(1)
                .map_or_else(|| "body".to_owned(), str::to_owned)
        } else {
            path
        };
        ApiError::Validation { field, message }
    })
}
