//! End to end with the real app binary, the way an admin meets it: under
//! Xvfb, on a private D-Bus session bus, connected to a real belfry-server.
//!
//! The bus carries two stand-ins for the desktop shell, owned by this test
//! because a CI machine has no desktop: a notification server
//! (`org.freedesktop.Notifications`) that records every `Notify` call, and a
//! tray host (`org.kde.StatusNotifierWatcher`) that records the tray item
//! registering, so its menu can be read over `com.canonical.dbusmenu`. The
//! app talks to them exactly as to GNOME's or KDE's. The window is driven
//! through WebKitWebDriver (Debian's webkit2gtk-driver) with fantoccini, and
//! a screenshot of it is saved under `target/desktop-e2e/`.
//!
//! The harness, one module each:
//! - [`app`]: the private desktop session (`Desk`: a temporary HOME, Xvfb,
//!   dbus-daemon, gnome-keyring) and the app's processes in it;
//! - [`bus`]: the shell's stand-ins on that bus (`Shell`), and what the app
//!   left in the keyring;
//! - [`server`]: the real belfry-server the app connects to;
//! - [`window`]: the app started through WebKitWebDriver, its window driven
//!   over a WebDriver session;
//! - [`fixture`]: the starting point of the alert tests: all of the above,
//!   signed in through the window, with the stream live.
//!
//! The tests, by what they check: [`sign_in`] (where the sign-in is kept),
//! [`alerts`] (pop-ups, the window and the tray as alerts come and go) and
//! [`demo`] (the app with nothing configured). Each test starts its own app,
//! a few seconds under Xvfb, so the alert tests group the steps that need a
//! sequence rather than start the app once per assertion.

mod app;
mod bus;
mod fixture;
mod server;
mod window;

mod alerts;
mod demo;
mod sign_in;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::bail;

/// Generous: the first WebKit start on a loaded 2-core machine is slow.
const WAIT: Duration = Duration::from_secs(90);
/// How often a condition is probed while waiting for it.
const POLL: Duration = Duration::from_millis(100);

/// Probes until `probe` yields a value, failing after [`WAIT`] with the last
/// error it gave. Tests wait on conditions like this, never on sleeps.
async fn wait_for<T>(
    what: &str,
    mut probe: impl AsyncFnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + WAIT;
    let mut last_error = None;
    loop {
        match probe().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what} (last error: {last_error:?})");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Where screenshots go: `target/desktop-e2e/`.
fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("desktop-e2e")
}
