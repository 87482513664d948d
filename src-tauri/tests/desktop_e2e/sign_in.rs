//! Where the app keeps an admin's sign-in: in the OS keyring, under its own
//! service name, and nowhere in its files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::fixture::SignedIn;
use crate::wait_for;

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_through_the_window_keeps_the_refresh_token_in_the_os_keyring_only()
-> anyhow::Result<()> {
    let app = SignedIn::start().await?;

    let refresh_items = wait_for("the refresh token in the keyring", async || {
        let unlocked = app
            .shell()
            .keyring_items(HashMap::from([
                ("service", "belfry-desktop"),
                ("username", "refresh-token"),
            ]))
            .await?;
        Ok((!unlocked.is_empty()).then_some(unlocked))
    })
    .await?;
    assert_eq!(refresh_items.len(), 1, "{refresh_items:?}");
    for entry in walk(&app.desk.home().join("config")) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(
            !text.contains("eyJ"),
            "a token leaked into {}",
            entry.display()
        );
    }
    Ok(())
}
