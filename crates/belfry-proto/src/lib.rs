//! Belfry's wire types: the notification model, its validation rules, the
//! SSE event names and the JSON error body. Shared by the server and every
//! client, with no server or client dependency of its own.
//!
//! With the `ts` feature the wire types also derive `ts_rs::TS`, and
//! the `typescript` module renders them as the UI's TypeScript
//! (`ui/src/lib/generated/wire.ts`): one contract, checked by a test.

mod account;
pub mod backoff;
mod channels;
mod error;
mod inbox;
mod kinds;
mod notification;
pub mod sse;
#[cfg(feature = "ts")]
pub mod typescript;

pub use account::{
    LoginRequest, MutedKind, Preferences, QuietHours, RefreshRequest, Sounds, TokenResponse,
};
pub use channels::{ChannelInfo, ChannelList, ChannelOutcome, ChannelTest, ChannelTestResult};
pub use error::{ErrorBody, ErrorDetail, ErrorKind};
pub use inbox::{
    Ack, AckEvent, AckRequest, Actor, InboxItem, InboxPage, InboxQuery, MAX_ACK_NOTE_CHARS,
    MarkRead, ReadEvent, UnreadAnswer, UnreadCounts,
};
pub use kinds::{KNOWN_KINDS, default_severity, is_valid_kind};
pub use notification::{
    FieldError, MAX_BODY_CHARS, MAX_DATA_BYTES, MAX_KIND_CHARS, MAX_TITLE_CHARS, NewNotification,
    Notification, Severity, normalised_link,
};
