//! belfry-server: real-time admin notifications over Server-Sent Events.
//!
//! Publishers `POST /api/notifications`; every notification is committed to
//! the store, then fanned out by the broker to every admin's
//! `GET /api/admin/events` stream. Streams resume with `Last-Event-ID`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), belfry_server::app::StartError> {
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let server = belfry_server::Server::build(belfry_server::Config::new("/var/lib/belfry"), shutdown).await?;
//! server.run().await
//! # }
//! ```

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod broker;
pub mod channels;
pub mod client_addr;
pub mod config;
pub mod conn;
pub mod deadline;
pub mod demo;
pub mod error;
pub mod front;
pub mod health_port;
pub mod limits;
pub mod metrics;
pub mod password;
pub mod publish;
pub mod secret;
pub mod sse;
pub mod state;
pub mod store;
pub mod throttle;

pub use app::Server;
pub use config::Config;
