//! Where the server URL and tokens live between runs: the OS secret store
//! (Secret Service on Linux, Keychain on macOS, Credential Manager on
//! Windows), behind a small trait so tests can use an in-memory store.
//!
//! Tokens never go to plain files, logs or URLs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The service name every Belfry entry is stored under.
pub const SERVICE: &str = "belfry";

/// What is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Server,
    AccessToken,
    RefreshToken,
}

impl Key {
    pub const ALL: [Key; 3] = [Key::Server, Key::AccessToken, Key::RefreshToken];

    fn user(self) -> &'static str {
        match self {
            Key::Server => "server",
            Key::AccessToken => "access-token",
            Key::RefreshToken => "refresh-token",
        }
    }
}

/// A credential store failed, or there is none.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// A place for credentials. Calls may block (D-Bus round trips): call them
/// from `spawn_blocking` in async code.
pub trait CredentialStore: Send + Sync + std::fmt::Debug {
    /// The stored value, `None` when there is none.
    fn load(&self, key: Key) -> Result<Option<String>, StoreError>;
    fn save(&self, key: Key, value: &str) -> Result<(), StoreError>;
    /// Removes the value; removing a missing one is fine.
    fn delete(&self, key: Key) -> Result<(), StoreError>;
}

/// Credentials kept in memory only: tests, and sessions that must not persist.
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<HashMap<Key, String>>);

impl CredentialStore for MemoryStore {
    fn load(&self, key: Key) -> Result<Option<String>, StoreError> {
        Ok(self.0.lock().expect("not poisoned").get(&key).cloned())
    }

    fn save(&self, key: Key, value: &str) -> Result<(), StoreError> {
        self.0
            .lock()
            .expect("not poisoned")
            .insert(key, value.to_owned());
        Ok(())
    }

    fn delete(&self, key: Key) -> Result<(), StoreError> {
        self.0.lock().expect("not poisoned").remove(&key);
        Ok(())
    }
}

/// A `keyring-core` store: the platform's, or any other (its mock in tests).
pub struct KeyringStore {
    store: Arc<keyring_core::CredentialStore>,
    service: &'static str,
}

impl std::fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringStore")
            .field("vendor", &self.store.vendor())
            .field("service", &self.service)
            .finish()
    }
}

impl KeyringStore {
    /// The OS secret store. Fails with the reason when there is none usable
    /// (no D-Bus session, no Secret Service daemon, an unsupported platform).
    /// Blocks while it connects.
    pub fn platform() -> Result<Self, StoreError> {
        keyring::Entry::store_status()
            .as_ref()
            .map_err(|e| StoreError(format!("no usable OS keyring ({e})")))?;
        let store = keyring_core::get_default_store()
            .ok_or_else(|| StoreError("no usable OS keyring".to_owned()))?;
        Ok(Self {
            store,
            service: SERVICE,
        })
    }

    /// Any `keyring-core` store.
    pub fn in_store(store: Arc<keyring_core::CredentialStore>) -> Self {
        Self {
            store,
            service: SERVICE,
        }
    }

    /// Entries under another service name than [`SERVICE`]. Refresh tokens
    /// rotate, so two programs must never share one: the desktop app keeps
    /// its sign-in apart from the CLI's.
    pub fn with_service(mut self, service: &'static str) -> Self {
        self.service = service;
        self
    }

    fn entry(&self, key: Key) -> Result<keyring_core::Entry, StoreError> {
        keyring_core::Entry::new_in_store(&self.store, self.service, key.user())
            .map_err(store_error)
    }
}

fn store_error(e: keyring_core::Error) -> StoreError {
    StoreError(format!("OS keyring: {e}"))
}

impl CredentialStore for KeyringStore {
    fn load(&self, key: Key) -> Result<Option<String>, StoreError> {
        match self.entry(key)?.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    fn save(&self, key: Key, value: &str) -> Result<(), StoreError> {
        self.entry(key)?.set_password(value).map_err(store_error)
    }

    fn delete(&self, key: Key) -> Result<(), StoreError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(store: &dyn CredentialStore) {
        assert_eq!(store.load(Key::AccessToken).unwrap(), None);
        store.save(Key::Server, "https://shop.example").unwrap();
        store.save(Key::AccessToken, "a1").unwrap();
        store.save(Key::AccessToken, "a2").unwrap();
        assert_eq!(
            store.load(Key::Server).unwrap().as_deref(),
            Some("https://shop.example")
        );
        assert_eq!(store.load(Key::AccessToken).unwrap().as_deref(), Some("a2"));
        store.delete(Key::AccessToken).unwrap();
        store.delete(Key::RefreshToken).unwrap();
        assert_eq!(store.load(Key::AccessToken).unwrap(), None);
        assert!(store.load(Key::Server).unwrap().is_some());
    }

    #[test]
    fn the_memory_store_keeps_overwrites_and_deletes() {
        round_trip(&MemoryStore::default());
    }

    #[test]
    fn the_keyring_store_maps_entries_and_missing_values() {
        let mock = keyring_core::mock::Store::new().unwrap();
        round_trip(&KeyringStore::in_store(mock));
    }
}
