//! The server over HTTP: each test starts a real server on an ephemeral port
//! with its own temporary data directory.

mod auth;
mod ops;
mod publish;
mod stream;
