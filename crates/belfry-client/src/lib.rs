//! Belfry's client core, shared by the desktop app and the `belfry` CLI
//! (`crates/belfry-cli`): the admin event stream that survives sleep,
//! network changes, server restarts and token expiry ([`Client::events`]),
//! the rest of the HTTP API ([`Client`]), the pop-up policy ([`policy`]),
//! credential storage ([`credentials`]) and publisher text made safe for a
//! terminal ([`sanitize`]).

pub mod api;
pub mod backoff;
pub mod credentials;
mod error;
pub mod jwt;
pub mod policy;
pub mod sanitize;
pub mod stream;

pub use api::{Client, HistoryQuery, Tokens};
pub use error::Error;
pub use stream::{ClientEvent, Events, StreamConfig};
