//! Stands in for `bundled.rs` in a build without the `bundled-server`
//! feature: the app then only connects to a server elsewhere. Choosing the
//! bundled server fails to start with [`NOT_BUILT_IN`], which the shell
//! reports as why there is no session (and `use_bundled` as its error).

use std::convert::Infallible;
use std::path::Path;

/// The account the app would sign in to its own server with.
pub const LOCAL_ADMIN: &str = "desktop@belfry.local";

/// Why a bundled server cannot start in this build.
pub const NOT_BUILT_IN: &str = "this build of Belfry has no server of its own (built without the \
     `bundled-server` feature); connect to a Belfry server elsewhere";

/// A running bundled server, which this build never has.
#[derive(Debug)]
pub struct Bundled {
    pub url: String,
    pub password: String,
    never: Infallible,
}

impl Bundled {
    /// Always fails: there is no server in this build.
    pub async fn start(_data_dir: &Path, _demo: bool) -> anyhow::Result<Self> {
        anyhow::bail!(NOT_BUILT_IN)
    }

    /// Nothing to stop (there is never a value).
    pub async fn stop(self) {
        match self.never {}
    }
}
