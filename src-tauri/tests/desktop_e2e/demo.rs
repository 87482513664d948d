//! The app with nothing configured, as a new admin first starts it: it runs
//! its own server with demo events, signs in by itself, and remembers that
//! choice.

use serde_json::{Value as Json, json};

use crate::app::Desk;
use crate::wait_for;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nothing_configured_the_app_runs_its_own_server_and_shows_the_demo()
-> anyhow::Result<()> {
    let desk = Desk::start().await?;
    // A fresh user, no flags: what a new admin gets on first start.
    let _app = desk.spawn_app()?;

    // The demo opens with one event of each severity, seconds apart: info
    // only moves the badge; warning and critical pop up.
    let raised = wait_for("the demo's warning and critical pop-ups", async || {
        let p = desk.shell.popups();
        let has = |prefix: &str| p.iter().any(|x| x.summary.starts_with(prefix));
        Ok((has("Warning: ") && has("Critical: ")).then_some(p))
    })
    .await?;
    assert!(
        !raised.iter().any(|p| p.summary.starts_with("Info: ")),
        "{raised:#?}"
    );
    let critical = raised
        .iter()
        .find(|p| p.summary.starts_with("Critical: "))
        .expect("found above");
    assert_eq!(critical.urgency, Some(2), "{critical:?}");

    // The tray lists them, and the choice is remembered for the next start.
    let labels = wait_for("the demo events in the tray menu", async || {
        let labels = desk.shell.tray_labels().await?;
        Ok(labels
            .iter()
            .any(|l| l.starts_with("Critical: "))
            .then_some(labels))
    })
    .await?;
    assert!(
        labels.iter().any(|l| l.starts_with("Warning: ")),
        "{labels:?}"
    );
    let settings = desk.home().join("config/dev.belfry.desktop/settings.json");
    let saved: Json = serde_json::from_str(&std::fs::read_to_string(&settings)?)?;
    assert_eq!(saved["server"], json!({"mode": "bundled", "demo": true}));
    assert!(saved["resume"]["last_id"].as_u64() > Some(0), "{saved}");
    Ok(())
}
