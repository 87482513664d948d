//! The real OS keyring: a Secret Service (gnome-keyring) on a private D-Bus
//! session, with `HOME` and `XDG_RUNTIME_DIR` in a temporary directory so no
//! real keyring is touched. `belfry login` stores the sign-in there, a later
//! `belfry history` (another process) finds it, `belfry logout` removes it.
//!
//! Needs `dbus-run-session` (dbus-bin/dbus-daemon) and `gnome-keyring-daemon`
//! (gnome-keyring), which `scripts/setup.sh` installs.

use std::process::Stdio;

use belfry_e2e::belfry_cli;
use tokio::process::Command;

use crate::fake::{self, FakeServer, Reply};

fn installed(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

#[tokio::test]
async fn login_persists_in_the_secret_service_for_later_commands_and_logout_clears_it() {
    let missing: Vec<_> = ["dbus-run-session", "gnome-keyring-daemon"]
        .into_iter()
        .filter(|p| !installed(p))
        .collect();
    assert!(
        missing.is_empty(),
        "the Secret Service test needs {missing:?}: run scripts/setup.sh \
         (apt packages gnome-keyring, dbus-bin, dbus-daemon)"
    );
    let fake = FakeServer::start_with(|_, r| {
        let signed_in = r.header("authorization").as_deref() == Some("Bearer access-from-login");
        if r.head.starts_with("POST /api/auth/login ") {
            Reply::Close(fake::json(
                "200 OK",
                r#"{"access_token":"access-from-login","refresh_token":"refresh-from-login","expires_in":3600,"token_type":"Bearer"}"#,
            ))
        } else if r.head.starts_with("POST /api/auth/logout ") {
            Reply::Close(
                "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n".to_owned(),
            )
        } else if r.head.starts_with("GET /api/admin/notifications") && signed_in {
            Reply::Close(fake::json(
                "200 OK",
                r#"{"items":[],"next_before":null,"unread":{"total":4,"info":1,"warning":2,"critical":1}}"#,
            ))
        } else {
            Reply::Close(fake::error("401 Unauthorized", "", "invalid_token"))
        }
    })
    .await;

    let dir = tempfile::tempdir().unwrap();
    let (home, runtime) = (dir.path().join("home"), dir.path().join("run"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&runtime).unwrap();
    // Every step inside one private session bus, which ends with the script.
    let script = r#"
        set -u
        echo -n keyring-test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 20
        echo hunter2 | "$BELFRY" login --server "$SERVER" --email ann@shop.example --password-stdin || exit 21
        # Another process, no --server, no --token: all from the keyring.
        "$BELFRY" history 2>history.err || { cat history.err >&2; exit 22; }
        grep -q "4 unread" history.err || exit 23
        "$BELFRY" logout || exit 24
        "$BELFRY" history 2>after.err; rc=$?
        [ "$rc" -eq 3 ] || { echo "history after logout exited $rc" >&2; exit 25; }
        grep -q "not signed in" after.err || { cat after.err >&2; exit 26; }
    "#;
    let out = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", script])
        .current_dir(dir.path())
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("XDG_DATA_HOME")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("BELFRY_TOKEN")
        .env_remove("BELFRY_SERVER")
        .env("BELFRY", belfry_cli())
        .env("SERVER", &fake.base)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("dbus-run-session runs");
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let logins = fake
        .requests()
        .iter()
        .filter(|r| r.head.starts_with("POST /api/auth/login "))
        .count();
    assert_eq!(logins, 1);
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.head.starts_with("POST /api/auth/logout ")),
        "logout revoked the refresh token on the server"
    );
}
