//! The sign-in: `login` and `logout`, and the signed-in client every other
//! command uses, from `--token`/`BELFRY_TOKEN` or from the OS keyring (which
//! is only ever touched off the async threads: it talks D-Bus).

use std::io::IsTerminal as _;
use std::sync::Arc;

use anyhow::Context as _;
use belfry_client::credentials::{CredentialStore, Key, KeyringStore, StoreError};
use belfry_client::stream::error_chain;
use belfry_client::{Client, Tokens};

use crate::args::Connection;
use crate::failure::Failure;

/// The OS keyring, opened off the async threads.
async fn keyring() -> Result<Arc<dyn CredentialStore>, String> {
    tokio::task::spawn_blocking(|| KeyringStore::platform().map_err(|e| e.to_string()))
        .await
        .map_err(|e| e.to_string())?
        .map(|s| Arc::new(s) as Arc<dyn CredentialStore>)
}

/// Runs keyring calls off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> anyhow::Result<T> {
    Ok(tokio::task::spawn_blocking(f)
        .await
        .context("keyring task failed")??)
}

fn no_server() -> Failure {
    Failure::Usage("no server: pass --server URL or set BELFRY_SERVER".into())
}

/// A client with credentials: `--token`/`BELFRY_TOKEN` when given, else the
/// keyring's (refreshed tokens are written back there).
pub async fn signed_in(conn: Connection) -> Result<Client, Failure> {
    if let Some(token) = conn.token {
        // Only ask the keyring for what is missing.
        let server = match conn.server {
            Some(s) => s,
            None => match keyring().await {
                Ok(store) => blocking(move || store.load(Key::Server))
                    .await?
                    .ok_or_else(no_server)?,
                Err(_) => return Err(no_server()),
            },
        };
        return Ok(Client::new(&server)?.with_tokens(Tokens::new(token, None)));
    }
    let store = keyring().await.map_err(|e| {
        Failure::Auth(format!(
            "{e}, and no --token given: pass --token or set BELFRY_TOKEN"
        ))
    })?;
    let s = store.clone();
    let (server, access, refresh) = blocking(move || {
        Ok((
            s.load(Key::Server)?,
            s.load(Key::AccessToken)?,
            s.load(Key::RefreshToken)?,
        ))
    })
    .await?;
    let server = conn.server.or(server).ok_or_else(no_server)?;
    let Some(access) = access else {
        return Err(Failure::Auth(
            "not signed in: run `belfry login --server URL --email E`, or pass --token".into(),
        ));
    };
    Ok(Client::new(&server)?
        .with_tokens(Tokens::new(access, refresh.filter(|r| !r.is_empty())))
        .with_store(store))
}

/// `belfry login`: signs in and keeps the server URL and tokens in the keyring.
pub async fn login(conn: Connection, email: &str, password_stdin: bool) -> Result<(), Failure> {
    // Fail before asking for a password when the tokens could not be kept.
    let store = keyring().await.map_err(|e| {
        Failure::Other(anyhow::anyhow!(
            "cannot keep a sign-in: {e}. Use --token or BELFRY_TOKEN instead"
        ))
    })?;
    let s = store.clone();
    let server = match conn.server {
        Some(s) => s,
        None => blocking(move || s.load(Key::Server))
            .await?
            .ok_or_else(no_server)?,
    };
    let client = Client::new(&server)?;
    let password = read_password(password_stdin).await?;
    let tokens = client.login(email, &password).await?;
    let base = client.base().to_string();
    blocking(move || {
        store.save(Key::Server, &base)?;
        store.save(Key::AccessToken, &tokens.access_token)?;
        store.save(Key::RefreshToken, &tokens.refresh_token)
    })
    .await?;
    eprintln!("signed in to {server} as {email}");
    Ok(())
}

/// The password: the first line of stdin with `--password-stdin`, else asked
/// for on the terminal without echo.
async fn read_password(from_stdin: bool) -> Result<String, Failure> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    } else if std::io::stdin().is_terminal() {
        Ok(
            tokio::task::spawn_blocking(|| rpassword::prompt_password("Password: "))
                .await
                .context("password prompt failed")?
                .context("reading the password")?,
        )
    } else {
        Err(Failure::Usage(
            "no terminal to ask the password on: use --password-stdin".into(),
        ))
    }
}

/// `belfry logout`: revokes the refresh token (best effort) and forgets the
/// stored tokens; the server URL stays for the next `login`.
pub async fn logout(conn: Connection) -> Result<(), Failure> {
    let store = keyring()
        .await
        .map_err(|e| Failure::Other(anyhow::anyhow!("{e}: nothing stored to sign out of")))?;
    let s = store.clone();
    let (server, refresh) =
        blocking(move || Ok((s.load(Key::Server)?, s.load(Key::RefreshToken)?))).await?;
    if let (Some(server), Some(refresh)) = (conn.server.or(server), refresh) {
        // Revoking is best effort: the local tokens go either way.
        let revoked = match Client::new(&server) {
            Ok(c) => c
                .with_tokens(Tokens::new(String::new(), Some(refresh)))
                .logout()
                .await
                .map_err(|e| error_chain(&e)),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = revoked {
            eprintln!("belfry: warning: could not revoke the sign-in on the server: {e}");
        }
    }
    blocking(move || {
        for key in [Key::AccessToken, Key::RefreshToken] {
            store.delete(key)?;
        }
        Ok(())
    })
    .await?;
    eprintln!("signed out");
    Ok(())
}
