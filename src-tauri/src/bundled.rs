//! "Run a Belfry server on this computer": belfry-server in-process, through
//! its library API, with SQLite in the app data directory and listening on
//! 127.0.0.1 only. The app signs in to it with a local account whose
//! password is new on every start and never leaves memory, so there is no
//! credential on disk to steal or lose.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use anyhow::Context as _;
use rand::distr::{Alphanumeric, SampleString as _};
use tokio_util::sync::CancellationToken;

use belfry_server::config::Config;
use belfry_server::store::StoreError;

/// The account the app signs in to its own server with.
pub const LOCAL_ADMIN: &str = "desktop@belfry.local";

/// A running bundled server.
#[derive(Debug)]
pub struct Bundled {
    pub url: String,
    /// Signs the server's own account in.
    pub password: String,
    shutdown: CancellationToken,
    task: tauri::async_runtime::JoinHandle<()>,
}

impl Bundled {
    /// Starts the server with its data under `data_dir`, on 127.0.0.1 and a
    /// port the OS picks, and (re)creates the local admin account with a
    /// fresh password.
    pub async fn start(data_dir: &Path, demo: bool) -> anyhow::Result<Self> {
        let mut config = Config::new(data_dir.join("server"));
        config.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        config.demo = demo;
        let password = Alphanumeric.sample_string(&mut rand::rng(), 32);
        let hash = belfry_server::password::hash(&password)?;
        let shutdown = CancellationToken::new();
        let server = belfry_server::Server::build(config, shutdown.clone())
            .await
            .context("cannot start the bundled server")?;
        let store = server.state().store.clone();
        match store.create_user(LOCAL_ADMIN, &hash, true).await {
            Ok(_) => tracing::info!("created the bundled server's local account"),
            Err(StoreError::Conflict(_)) => {
                store
                    .set_password(LOCAL_ADMIN, &hash)
                    .await
                    .context("cannot renew the local account's password")?;
                store.set_disabled(LOCAL_ADMIN, false).await?;
            }
            Err(e) => return Err(e).context("cannot create the local account"),
        }
        let url = format!("http://{}", server.local_addr());
        tracing::info!(%url, demo, "bundled server started");
        let task = tauri::async_runtime::spawn(async move {
            if let Err(e) = server.run().await {
                tracing::error!(error = %e, "the bundled server stopped");
            }
        });
        Ok(Self {
            url,
            password,
            shutdown,
            task,
        })
    }

    /// Stops it: open streams end, queued publishes are committed.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}
