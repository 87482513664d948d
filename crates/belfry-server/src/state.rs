//! The state every handler shares: one `Clone` struct of `Arc`s.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::auth::{Minter, Verifier};
use crate::broker::Broker;
use crate::config::Config;
use crate::limits::StreamLimits;
use crate::metrics::Metrics;
use crate::password::PasswordChecker;
use crate::publish::Publisher;
use crate::store::{Restore, Revocation, Store};
use crate::throttle::SigninThrottle;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub broker: Arc<dyn Broker>,
    pub publisher: Publisher,
    pub verifier: Arc<Verifier>,
    pub metrics: Arc<Metrics>,
    /// Signs access tokens at login; `None` when tokens are verified with a
    /// public key only (then local sign-in is off).
    pub minter: Option<Arc<Minter>>,
    pub limits: StreamLimits,
    /// Sign-in password checks, a bounded number at a time.
    pub passwords: Arc<PasswordChecker>,
    pub signin: Arc<SigninThrottle>,
    /// Restores recorded in the store, read at start (a restore is done
    /// with every server stopped).
    pub restores: Arc<[Restore]>,
    /// The most recent revocations read from the store, for streams whose
    /// client is not reading (they do not see the bus meanwhile).
    pub revocations: Arc<tokio::sync::watch::Sender<Arc<[Revocation]>>>,
    /// Cancelled on shutdown: every open stream ends itself when it fires.
    pub shutdown: CancellationToken,
    /// The outbound channels of the configuration.
    pub channels: Arc<crate::channels::Channels>,
}
