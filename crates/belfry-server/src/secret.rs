//! The HS256 secret generated on first start, kept in the data directory
//! with mode 0600 so only the server's user can read it.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use rand::RngCore as _;
use secrecy::SecretString;

/// Random bytes in a generated secret: 256 bits, HS256's own strength.
const SECRET_BYTES: usize = 32;

/// Why the generated secret cannot be read or made.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "{} holds a secret shorter than 32 characters; delete it to generate a new one",
        .0.display()
    )]
    TooShort(std::path::PathBuf),
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> SecretError {
    move |source| SecretError::Io { what, source }
}

/// Reads the secret at `path`, creating it first when it does not exist.
/// Returns the secret and whether it was just created.
pub fn load_or_create(path: &Path) -> Result<(SecretString, bool), SecretError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let secret = text.trim().to_owned();
            if secret.len() < 32 {
                return Err(SecretError::TooShort(path.to_owned()));
            }
            warn_if_readable_by_others(path);
            return Ok((SecretString::from(secret), false));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(format!("cannot read {}", path.display()))(e)),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(format!(
            "cannot create data directory {}",
            dir.display()
        )))?;
    }
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io(format!("cannot write {}", path.display())))?;
            Ok((SecretString::from(secret), true))
        }
        // Another process (a `token` command racing `serve`) created it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path),
        Err(e) => Err(io(format!("cannot create {}", path.display()))(e)),
    }
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "the JWT secret is readable by other users: chmod 600 it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    #[test]
    fn the_secret_is_created_once_private_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/jwt-secret");
        let (first, created) = load_or_create(&path).unwrap();
        assert!(created);
        assert!(first.expose_secret().len() >= 43);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(first.expose_secret(), again.expose_secret());
    }
}
