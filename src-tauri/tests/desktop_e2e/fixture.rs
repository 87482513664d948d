//! Where each alert test starts: a private desk, a real server, and the app
//! pointed at it, signed in through its window by an admin, with the event
//! stream live. Torn down when dropped, the app first.

use crate::app::Desk;
use crate::bus::Shell;
use crate::server::{ADMIN, PASSWORD, Server};
use crate::wait_for;
use crate::window::Window;

/// The app, signed in and live.
pub struct SignedIn {
    pub window: Window,
    pub server: Server,
    pub desk: Desk,
}

impl SignedIn {
    pub async fn start() -> anyhow::Result<Self> {
        let desk = Desk::start().await?;
        let server = Server::start().await?;
        let window = Window::open(&desk, &["--server", &server.url]).await?;

        // Sign in through the window, as an admin would.
        wait_for("the sign-in form", async || {
            Ok(window.has("input[name=email]").await.then_some(()))
        })
        .await?;
        window.type_into("input[name=email]", ADMIN).await?;
        window.type_into("input[name=password]", PASSWORD).await?;
        window.click("button[type=submit]").await?;
        wait_for("the live connection", async || {
            let text = window.text().await?;
            Ok((text.contains("Inbox") && !text.contains("Signing in")).then_some(()))
        })
        .await?;
        // The stream is live once the core has said so to the window.
        wait_for("the stream to be live", async || {
            let live = window
                .script("return document.querySelector('[data-state=\"live\"]') !== null")
                .await?;
            Ok((live == true).then_some(()))
        })
        .await?;
        Ok(Self {
            window,
            server,
            desk,
        })
    }

    /// The desktop shell the app talks to.
    pub fn shell(&self) -> &Shell {
        &self.desk.shell
    }

    /// Raises the app's own test notification (`test_notification`) from
    /// the window.
    pub async fn test_notification(&self) -> anyhow::Result<()> {
        self.window
            .script(
                "window.__TAURI_INTERNALS__.invoke('test_notification', {severity: 'warning'}); \
                 return true",
            )
            .await?;
        Ok(())
    }
}

impl Drop for SignedIn {
    fn drop(&mut self) {
        // The app before its driver, its server and its desk.
        self.desk.kill_apps();
    }
}
