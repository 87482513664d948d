//! What `belfry-server token`, `user` and `restore` do, as functions of the
//! typed [`Config`]: the binary only parses, prompts and prints, and these
//! are tested here without it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::app::{StartError, lock_data_dir, open_store};
use crate::auth::{Minter, SCOPE_PUBLISH, normalise_email};
use crate::config::{Config, JwtAlgorithm};
use crate::password::PasswordError;
use crate::store::{Restore, Store, StoreError, User};

/// Why an admin command did nothing, with what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(
        "`token` signs with the server's HS256 secret, but jwt_algorithm is {0:?}: mint tokens with the identity provider that holds the private key"
    )]
    NotHs256(JwtAlgorithm),
    #[error("give --email or --sub: the token needs a subject")]
    NoSubject,
    #[error("cannot sign the token")]
    Sign(#[source] jsonwebtoken::errors::Error),
    #[error("`{0}` is not an email address")]
    NotAnEmail(String),
    #[error("{0} already has an account: use `user set-password` to change its password")]
    AccountExists(String),
    #[error("no account with email {0}: see `belfry-server user list`")]
    NoSuchAccount(String),
    #[error(
        "--from puts a SQLite backup in place; for PostgreSQL, restore with pg_restore, then run `belfry-server restore` without --from"
    )]
    FromNeedsSqlite,
    #[error("{} is not a file", .0.display())]
    NotAFile(std::path::PathBuf),
}

/// What a token is for.
pub struct TokenRequest<'a> {
    /// Email claim, also the subject unless `sub` is given.
    pub email: Option<&'a str>,
    pub sub: Option<&'a str>,
    pub role: Option<&'a str>,
    /// Scopes, each possibly a space- or comma-separated list.
    pub scope: &'a [String],
    pub ttl: Duration,
}

/// A signed token, and a note when it will be refused everywhere.
pub struct Minted {
    pub token: String,
    pub note: Option<&'static str>,
}

/// Signs a token with the server's HS256 secret (configured, or the one
/// generated in the data directory, created if need be).
pub fn mint_token(config: &Config, request: &TokenRequest<'_>) -> Result<Minted, AdminError> {
    if config.jwt.algorithm != JwtAlgorithm::Hs256 {
        return Err(AdminError::NotHs256(config.jwt.algorithm));
    }
    let secret = match &config.jwt.secret {
        Some(s) => s.clone(),
        None => {
            crate::secret::load_or_create(&config.secret_path())
                .map_err(StartError::from)?
                .0
        }
    };
    let email = request.email.map(str::trim).filter(|e| !e.is_empty());
    let sub = request.sub.or(email).ok_or(AdminError::NoSubject)?;
    let scope: Vec<&str> = request
        .scope
        .iter()
        .flat_map(|s| s.split([' ', ',']))
        .filter(|s| !s.is_empty())
        .collect();
    let note = (request.role.is_none() && !scope.contains(&SCOPE_PUBLISH)).then_some(
        "this token has neither --role admin nor --scope publish, so the server will refuse it everywhere",
    );
    let token = Minter::new(&secret, &config.jwt)
        .mint(sub, email, request.role, &scope, request.ttl)
        .map_err(AdminError::Sign)?;
    Ok(Minted { token, note })
}

/// Local accounts in the configured store.
pub struct Accounts {
    store: Arc<dyn Store>,
}

impl Accounts {
    /// Opens the configured store (creating the data directory).
    pub async fn open(config: &Config) -> Result<Self, AdminError> {
        std::fs::create_dir_all(&config.data_dir).map_err(StartError::io(format!(
            "cannot create {}",
            config.data_dir.display()
        )))?;
        Ok(Self {
            store: open_store(config).await?,
        })
    }

    /// Creates an account; returns the email as stored.
    pub async fn add(
        &self,
        email: &str,
        password: &str,
        admin: bool,
    ) -> Result<String, AdminError> {
        let email = normalise_email(email);
        if !email.contains('@') {
            return Err(AdminError::NotAnEmail(email));
        }
        crate::password::check(password)?;
        let hash = crate::password::hash(password)?;
        match self.store.create_user(&email, &hash, admin).await {
            Ok(_) => Ok(email),
            Err(StoreError::Conflict(_)) => Err(AdminError::AccountExists(email)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list(&self) -> Result<Vec<User>, AdminError> {
        Ok(self.store.users().await?)
    }

    /// Disables (revoking every sign-in) or enables an account.
    pub async fn set_disabled(&self, email: &str, disabled: bool) -> Result<String, AdminError> {
        let email = normalise_email(email);
        match self.store.set_disabled(&email, disabled).await? {
            true => Ok(email),
            false => Err(AdminError::NoSuchAccount(email)),
        }
    }

    /// Sets a new password, revoking every sign-in of the account.
    pub async fn set_password(&self, email: &str, password: &str) -> Result<String, AdminError> {
        let email = normalise_email(email);
        crate::password::check(password)?;
        let hash = crate::password::hash(password)?;
        match self.store.set_password(&email, &hash).await? {
            true => Ok(email),
            false => Err(AdminError::NoSuchAccount(email)),
        }
    }

    pub async fn close(self) {
        self.store.close().await;
    }
}

/// After a backup is restored: new ids start above any handed out before.
/// With `from`, a SQLite backup is first put in place of the data
/// directory's database (the server must be stopped; the data directory's
/// lock is held throughout).
pub async fn restore(config: &Config, from: Option<&Path>) -> Result<Restore, AdminError> {
    use crate::store::{NotificationStore as _, SqliteStore};
    let mut known = 0;
    // Held until the restore is recorded: no server may open the database
    // meanwhile.
    let mut lock = None;
    if let Some(from) = from {
        if config.store.is_some() {
            return Err(AdminError::FromNeedsSqlite);
        }
        if !from.is_file() {
            return Err(AdminError::NotAFile(from.to_owned()));
        }
        std::fs::create_dir_all(&config.data_dir).map_err(StartError::io(format!(
            "cannot create {}",
            config.data_dir.display()
        )))?;
        lock = Some(lock_data_dir(&config.data_dir)?);
        let db = config.database_path();
        if db.exists() {
            // The database being replaced may have handed out ids the
            // backup never saw.
            match SqliteStore::open(&db).await {
                Ok(current) => {
                    known = current.last_id().await.unwrap_or(0);
                    current.close().await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the current database; continuing");
                }
            }
        }
        // Copied beside it and renamed over it: never half a database.
        let staging = db.with_extension("db.restoring");
        std::fs::copy(from, &staging)
            .and_then(|_| std::fs::File::open(&staging)?.sync_all())
            .map_err(StartError::io(format!("cannot copy {}", from.display())))?;
        for stale in ["belfry.db-wal", "belfry.db-shm"] {
            let _ = std::fs::remove_file(config.data_dir.join(stale));
        }
        std::fs::rename(&staging, &db)
            .map_err(StartError::io(format!("cannot replace {}", db.display())))?;
    }
    if lock.is_none() && config.store.is_none() {
        lock = Some(lock_data_dir(&config.data_dir)?);
    }
    let store = open_store(config).await?;
    let restore = store.mark_restored(known).await;
    store.close().await;
    drop(lock);
    Ok(restore?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Verifier;

    fn config(dir: &Path) -> Config {
        Config::new(dir)
    }

    #[test]
    fn a_minted_token_verifies_with_the_generated_secret() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path());
        let scope = ["publish".to_owned()];
        let minted = mint_token(
            &c,
            &TokenRequest {
                email: Some(" ops@shop.example "),
                sub: None,
                role: None,
                scope: &scope,
                ttl: Duration::from_secs(60),
            },
        )
        .unwrap();
        assert!(minted.note.is_none());
        let (secret, created) = crate::secret::load_or_create(&c.secret_path()).unwrap();
        assert!(!created, "minting created the secret");
        let verifier = Verifier::new(&c.jwt, Some(&secret), &[]).unwrap();
        let who = verifier.verify(&minted.token).unwrap();
        assert_eq!(who.sub, "ops@shop.example");
        assert!(who.can_publish && !who.is_admin);
    }

    #[test]
    fn a_token_needs_a_subject_and_the_hs256_algorithm() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        let request = TokenRequest {
            email: Some("  "),
            sub: None,
            role: Some("admin"),
            scope: &[],
            ttl: Duration::from_secs(60),
        };
        assert!(matches!(
            mint_token(&c, &request),
            Err(AdminError::NoSubject)
        ));
        c.jwt.algorithm = JwtAlgorithm::Rs256;
        assert!(matches!(
            mint_token(&c, &request),
            Err(AdminError::NotHs256(JwtAlgorithm::Rs256))
        ));
    }

    #[tokio::test]
    async fn accounts_are_added_once_found_by_normalised_email_and_disabled() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path());
        let accounts = Accounts::open(&c).await.unwrap();
        let password = "a long enough passphrase";
        let email = accounts
            .add(" Ana@Shop.Example", password, true)
            .await
            .unwrap();
        assert_eq!(email, "ana@shop.example");
        assert!(matches!(
            accounts.add("ana@shop.example", password, false).await,
            Err(AdminError::AccountExists(_))
        ));
        assert!(matches!(
            accounts.add("not-an-email", password, false).await,
            Err(AdminError::NotAnEmail(_))
        ));
        assert!(matches!(
            accounts.add("bo@shop.example", "short", false).await,
            Err(AdminError::Password(_))
        ));
        accounts
            .set_disabled("ANA@shop.example", true)
            .await
            .unwrap();
        let users = accounts.list().await.unwrap();
        assert_eq!(users.len(), 1);
        assert!(users[0].disabled && users[0].is_admin);
        assert!(matches!(
            accounts.set_password("nobody@shop.example", password).await,
            Err(AdminError::NoSuchAccount(_))
        ));
        accounts.close().await;
    }

    #[tokio::test]
    async fn a_restore_with_from_needs_a_file_and_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        let missing = dir.path().join("missing.db");
        assert!(matches!(
            restore(&c, Some(&missing)).await,
            Err(AdminError::NotAFile(_))
        ));
        c.store = Some("postgres://nobody@127.0.0.1/none".to_owned().into());
        assert!(matches!(
            restore(&c, Some(&missing)).await,
            Err(AdminError::FromNeedsSqlite)
        ));
    }
}
