//! The app's window, driven the way an admin uses it: WebKitWebDriver
//! (Debian's webkit2gtk-driver) starts the app, and a fantoccini session
//! reads the page, types, clicks, calls the app's Tauri commands from the
//! page and takes screenshots.

use std::process::{Command, Stdio};

use anyhow::{Context as _, ensure};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value as Json, json};

use crate::app::{self, Desk, Procs};
use crate::{WAIT, artifacts_dir, wait_for};

/// Creating a session starts the app, which fails now and then on a
/// loaded machine; this many tries before giving up.
const SESSION_ATTEMPTS: u32 = 3;

/// A WebDriver session on the app's window, and the driver serving it.
pub struct Window {
    client: Client,
    /// WebKitWebDriver, ended when the window is dropped.
    _driver: Procs,
}

impl Window {
    /// Starts WebKitWebDriver in `desk` and, through a new session, the app
    /// with `args`.
    pub async fn open(desk: &Desk, args: &[&str]) -> anyhow::Result<Self> {
        let port = free_port();
        let driver = desk
            .env(Command::new("WebKitWebDriver").arg(format!("--port={port}")))
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context(
                "cannot start WebKitWebDriver: run scripts/setup.sh (package webkit2gtk-driver)",
            )?;
        let driver = Procs(vec![driver]);
        wait_for("WebKitWebDriver", async || {
            Ok(tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ()))
        })
        .await?;

        // WebKitGTK's own capability: the browser to run is the app.
        let mut capabilities = fantoccini::wd::Capabilities::new();
        capabilities.insert(
            "webkitgtk:browserOptions".into(),
            json!({"binary": app::binary(), "args": args}),
        );
        let url = format!("http://127.0.0.1:{port}");
        for attempt in 1..=SESSION_ATTEMPTS {
            let session = tokio::time::timeout(
                WAIT,
                ClientBuilder::new(HttpConnector::new())
                    .capabilities(capabilities.clone())
                    .connect(&url),
            )
            .await;
            match session {
                Ok(Ok(client)) => {
                    return Ok(Self {
                        client,
                        _driver: driver,
                    });
                }
                Ok(Err(e)) => eprintln!("WebDriver session attempt {attempt} failed: {e}"),
                Err(_) => eprintln!("WebDriver session attempt {attempt} timed out"),
            }
            // Whatever a failed try started would hold the app's single
            // instance.
            desk.kill_apps();
        }
        anyhow::bail!("no WebDriver session after {SESSION_ATTEMPTS} attempts")
    }

    /// Runs `script` in the page; what it returns.
    pub async fn script(&self, script: &str) -> anyhow::Result<Json> {
        Ok(self.client.execute(script, Vec::new()).await?)
    }

    /// Runs `script` in the page, which calls its last argument with the
    /// result; that result.
    pub async fn script_async(&self, script: &str) -> anyhow::Result<Json> {
        Ok(self.client.execute_async(script, Vec::new()).await?)
    }

    /// Whether an element matches `css` now.
    pub async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    pub async fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        self.client
            .find(Locator::Css(css))
            .await?
            .send_keys(text)
            .await?;
        Ok(())
    }

    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.client.find(Locator::Css(css)).await?.click().await?;
        Ok(())
    }

    /// The text the page shows.
    pub async fn text(&self) -> anyhow::Result<String> {
        Ok(self
            .script("return document.body ? document.body.innerText : ''")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Waits until the page shows every one of `texts`. On a timeout it
    /// reports what the window shows, what the app's history holds and a
    /// screenshot (`failure-{name}.png`).
    pub async fn wait_for_texts(&self, name: &str, texts: &[&str]) -> anyhow::Result<()> {
        let shown = wait_for(&format!("{texts:?} in the window"), async || {
            let text = self.text().await?;
            Ok(texts.iter().all(|t| text.contains(t)).then_some(()))
        })
        .await;
        if shown.is_err() {
            eprintln!(
                "the window shows:\n{}",
                self.text().await.unwrap_or_default()
            );
            let history = self
                .script_async(
                    "const done = arguments[arguments.length - 1]; \
                     window.__TAURI_INTERNALS__.invoke('history', {query: {limit: 5}}) \
                     .then(r => done(JSON.stringify(r)), e => done('error: ' + JSON.stringify(e)))",
                )
                .await;
            eprintln!("history: {history:?}");
            // For the failure report, as far as that still works.
            let _ = self.save_screenshot(&format!("failure-{name}.png")).await;
        }
        shown
    }

    /// Saves a screenshot of the window under `target/desktop-e2e/`.
    pub async fn save_screenshot(&self, name: &str) -> anyhow::Result<()> {
        let png = self.client.screenshot().await?;
        ensure!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), &png)?;
        eprintln!("screenshot: {}", dir.join(name).display());
        Ok(())
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
