//! The real belfry-server the app connects to: in this process, on
//! `127.0.0.1:0`, with one admin account to sign in with, a shop backend
//! that publishes, and other admins who act from elsewhere.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use belfry_server::auth::Minter;
use serde_json::{Value as Json, json};
use tokio_util::sync::{CancellationToken, DropGuard};

/// The admin who signs in through the window.
pub const ADMIN: &str = "ops@shop.example";
pub const PASSWORD: &str = "correct horse battery staple";
/// Long enough for any one test.
const TOKEN_TTL: Duration = Duration::from_secs(600);

/// A running server, shut down when dropped.
pub struct Server {
    /// Where the app is pointed (`--server`).
    pub url: String,
    http: reqwest::Client,
    minter: Arc<Minter>,
    publish_token: String,
    _shutdown: DropGuard,
    /// Its data; after `_shutdown`, so the server stops first.
    _dir: tempfile::TempDir,
}

impl Server {
    /// A server with [`ADMIN`] as a local account and a publisher token.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut config = belfry_server::config::Config::new(dir.path());
        config.listen = "127.0.0.1:0".parse()?;
        let shutdown = CancellationToken::new();
        let server = belfry_server::Server::build(config, shutdown.clone()).await?;
        let url = format!("http://{}", server.local_addr());
        server
            .state()
            .store
            .create_user(ADMIN, &belfry_server::password::hash(PASSWORD)?, true)
            .await?;
        let minter = server.state().minter.clone().context("HS256 server")?;
        let publish_token = minter.mint("shop-backend", None, None, &["publish"], TOKEN_TTL)?;
        tokio::spawn(server.run());
        Ok(Self {
            url,
            http: reqwest::Client::new(),
            minter,
            publish_token,
            _shutdown: shutdown.drop_guard(),
            _dir: dir,
        })
    }

    /// Publishes a notification as the shop's backend; its id.
    pub async fn publish(
        &self,
        severity: &str,
        kind: &str,
        title: &str,
        body: Option<&str>,
    ) -> anyhow::Result<u64> {
        let res = self
            .http
            .post(format!("{}/api/notifications", self.url))
            .bearer_auth(&self.publish_token)
            .json(&json!({"kind": kind, "severity": severity, "title": title, "body": body}))
            .send()
            .await?;
        ensure!(
            res.status().is_success(),
            "publish answered {}",
            res.status()
        );
        let created: Json = res.json().await?;
        created["id"].as_u64().context("a published id")
    }

    /// Another admin, Bob, acknowledges notification `id` from elsewhere.
    pub async fn acknowledge_as_another_admin(&self, id: u64) -> anyhow::Result<()> {
        let bob = self.minter.mint(
            "bob",
            Some("bob@shop.example"),
            Some("admin"),
            &[],
            TOKEN_TTL,
        )?;
        let res = self
            .http
            .post(format!("{}/api/admin/notifications/{id}/ack", self.url))
            .bearer_auth(&bob)
            .json(&json!({}))
            .send()
            .await?;
        ensure!(res.status().is_success(), "ack answered {}", res.status());
        Ok(())
    }
}
