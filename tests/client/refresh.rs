//! Token refresh, against a scripted server: the real server's sign-in
//! endpoints (`/api/auth/*`) are not on this branch yet.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use belfry_client::credentials::{CredentialStore, Key, MemoryStore};
use belfry_client::{Client, ClientEvent, Tokens};
use belfry_e2e::now;

use crate::fake::{self, FakeServer, Reply, Request};
use crate::helpers::{drain, fast, live, notifications};

/// An unsigned JWT expiring at `exp`: the client reads `exp`, never verifies.
fn jwt(sub: &str, exp: u64) -> String {
    let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.sig",
        part(serde_json::json!({"alg": "none"})),
        part(serde_json::json!({"sub": sub, "exp": exp}))
    )
}

fn tokens_json(access: &str, refresh: &str) -> String {
    serde_json::json!({
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": 3600,
        "token_type": "Bearer"
    })
    .to_string()
}

fn is_refresh(r: &Request) -> bool {
    r.head.starts_with("POST /api/auth/refresh ")
}

fn bearer(r: &Request) -> String {
    r.header("authorization").unwrap_or_default()
}

#[tokio::test]
async fn a_401_is_answered_by_one_refresh_and_a_reconnect_with_the_new_token() {
    let fake = FakeServer::start_with(|_, r| {
        if is_refresh(r) {
            Reply::Close(fake::json("200 OK", &tokens_json("new-access", "r2")))
        } else if bearer(r) == "Bearer new-access" {
            Reply::Hold(format!("{}{}", fake::stream_head(), fake::opening(100, 0)))
        } else {
            Reply::Close(fake::error("401 Unauthorized", "", "invalid_token"))
        }
    })
    .await;
    let store = Arc::new(MemoryStore::default());
    let client = Client::new(&fake.base)
        .unwrap()
        .with_tokens(Tokens {
            access: "old-access".into(),
            refresh: Some("r1".into()),
        })
        .with_store(store.clone());
    let mut events = client.events(fast()).unwrap();
    live(&mut events).await;

    let r = fake.requests();
    assert_eq!(r.len(), 3, "{r:?}");
    assert_eq!(bearer(&r[0]), "Bearer old-access");
    assert!(is_refresh(&r[1]));
    assert_eq!(bearer(&r[2]), "Bearer new-access");
    assert_eq!(
        store.load(Key::AccessToken).unwrap().as_deref(),
        Some("new-access")
    );
    assert_eq!(
        store.load(Key::RefreshToken).unwrap().as_deref(),
        Some("r2")
    );
}

#[tokio::test]
async fn a_refused_refresh_ends_in_auth_required_without_a_loop() {
    let fake = FakeServer::start_with(|_, r| {
        if is_refresh(r) {
            Reply::Close(fake::error("401 Unauthorized", "", "invalid_refresh_token"))
        } else {
            Reply::Close(fake::error("401 Unauthorized", "", "invalid_token"))
        }
    })
    .await;
    let client = Client::new(&fake.base).unwrap().with_tokens(Tokens {
        access: "old".into(),
        refresh: Some("revoked".into()),
    });
    let mut events = client.events(fast()).unwrap();
    let all = drain(&mut events).await;
    assert!(
        matches!(all.last(), Some(ClientEvent::AuthRequired { .. })),
        "{all:?}"
    );
    assert_eq!(fake.requests().len(), 2, "one stream request, one refresh");
}

#[tokio::test]
async fn a_token_is_refreshed_before_it_expires_and_the_stream_resumes_where_it_was() {
    let old = jwt("ann", now() + 4);
    let new = jwt("ann", now() + 3600);
    let (old_bearer, new_tokens) = (format!("Bearer {old}"), tokens_json(&new, "r2"));
    let fake = FakeServer::start_with(move |_, r| {
        if is_refresh(r) {
            Reply::Close(fake::json("200 OK", &new_tokens))
        } else if bearer(r) == old_bearer {
            Reply::Hold(format!(
                "{}{}{}",
                fake::stream_head(),
                fake::opening(100, 5),
                fake::notification(6)
            ))
        } else {
            Reply::Hold(format!("{}{}", fake::stream_head(), fake::opening(100, 6)))
        }
    })
    .await;
    let client = Client::new(&fake.base).unwrap().with_tokens(Tokens {
        access: old.into(),
        refresh: Some("r1".into()),
    });
    let mut events = client.events(fast()).unwrap();
    assert_eq!(notifications(&mut events, 1).await[0].0.id, 6);
    live(&mut events).await;

    let r = fake.requests();
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(is_refresh(&r[1]));
    let early = r[1].at - r[0].at;
    assert!(
        early < Duration::from_secs(4),
        "refreshed before exp: {early:?}"
    );
    assert_eq!(bearer(&r[2]), format!("Bearer {new}"));
    assert_eq!(r[2].header("last-event-id").as_deref(), Some("6"));
    assert_eq!(
        client.tokens().unwrap(),
        Tokens::new(new, Some("r2".into()))
    );
}

#[tokio::test]
async fn a_401_right_after_a_successful_refresh_is_final() {
    let fake = FakeServer::start_with(|_, r| {
        if is_refresh(r) {
            Reply::Close(fake::json("200 OK", &tokens_json("new-but-useless", "r2")))
        } else {
            Reply::Close(fake::error("401 Unauthorized", "", "invalid_token"))
        }
    })
    .await;
    let client = Client::new(&fake.base).unwrap().with_tokens(Tokens {
        access: "old".into(),
        refresh: Some("r1".into()),
    });
    let mut events = client.events(fast()).unwrap();
    let all = drain(&mut events).await;
    assert!(
        matches!(all.last(), Some(ClientEvent::AuthRequired { .. })),
        "{all:?}"
    );
    let r = fake.requests();
    assert_eq!(r.len(), 3, "stream, refresh, stream; then nothing: {r:?}");
    assert_eq!(bearer(&r[2]), "Bearer new-but-useless");
}
