//! The server over HTTP: each test starts a real server on an ephemeral port
//! with its own temporary data directory.

mod accounts;
mod auth;
mod front;
mod hostile;
mod inbox;
mod ops;
mod publish;
mod signin;
mod store;
mod stream;
