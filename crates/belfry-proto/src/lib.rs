//! Belfry's wire types: the notification model, its validation rules, the
//! SSE event names and the JSON error body. Shared by the server and every
//! client, with no server or client dependency of its own.

mod error;
mod kinds;
mod notification;
pub mod sse;

pub use error::{ErrorBody, ErrorDetail};
pub use kinds::{KNOWN_KINDS, default_severity, is_valid_kind};
pub use notification::{
    FieldError, MAX_BODY_CHARS, MAX_DATA_BYTES, MAX_KIND_CHARS, MAX_TITLE_CHARS, NewNotification,
    Notification, Severity,
};
