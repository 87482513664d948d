//! Who may open the event stream.

use base64::Engine as _;
use belfry_e2e::{TestServer, error_body, now};
use serde_json::json;

async fn assert_invalid_token(res: reqwest::Response) {
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    assert_eq!(error_body(res).await["code"], "invalid_token");
}

#[tokio::test]
async fn a_request_without_a_token_is_refused_with_a_bearer_challenge() {
    let app = TestServer::spawn().await;
    assert_invalid_token(app.events_request("").send().await.unwrap()).await;
}

#[tokio::test]
async fn malformed_tokens_and_other_schemes_are_refused() {
    let app = TestServer::spawn().await;
    for header in [
        "Bearer not-a-jwt",
        "Bearer ",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer a.b.c",
    ] {
        let res = app
            .events_request("")
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_invalid_token(res).await;
    }
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = TestServer::spawn().await;
    let token = app.sign(json!({"sub": "ann", "role": "admin", "exp": now() - 120}));
    let res = app
        .events_request("")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_invalid_token(res).await;
}

#[tokio::test]
async fn a_token_without_exp_is_refused() {
    let app = TestServer::spawn().await;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "ann", "role": "admin"}),
        &jsonwebtoken::EncodingKey::from_secret(belfry_e2e::SECRET.as_bytes()),
    )
    .unwrap();
    let res = app
        .events_request("")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_invalid_token(res).await;
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_refused() {
    let app = TestServer::spawn().await;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "ann", "role": "admin", "exp": now() + 600}),
        &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-some-other-secret"),
    )
    .unwrap();
    let res = app
        .events_request("")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_invalid_token(res).await;
}

#[tokio::test]
async fn a_token_whose_header_names_another_algorithm_is_refused() {
    let app = TestServer::spawn().await;
    // Same secret, HS384: a valid signature, but not the pinned algorithm.
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
        &json!({"sub": "ann", "role": "admin", "exp": now() + 600}),
        &jsonwebtoken::EncodingKey::from_secret(belfry_e2e::SECRET.as_bytes()),
    )
    .unwrap();
    let res = app
        .events_request("")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_invalid_token(res).await;
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused() {
    let app = TestServer::spawn().await;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let header = b64(json!({"alg": "none", "typ": "JWT"}));
    let claims = b64(json!({"sub": "ann", "role": "admin", "exp": now() + 600}));
    for token in [format!("{header}.{claims}."), format!("{header}.{claims}")] {
        let res = app
            .events_request("")
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_invalid_token(res).await;
    }
}

#[tokio::test]
async fn a_token_in_the_query_string_or_a_cookie_is_ignored() {
    let app = TestServer::spawn().await;
    let token = app.admin_token("ann");
    for query in [format!("?token={token}"), format!("?access_token={token}")] {
        let res = app.events_request(&query).send().await.unwrap();
        assert_invalid_token(res).await;
    }
    let res = app
        .events_request("")
        .header("cookie", format!("token={token}; access_token={token}"))
        .send()
        .await
        .unwrap();
    assert_invalid_token(res).await;
}

#[tokio::test]
async fn a_valid_token_of_a_non_admin_is_forbidden() {
    let app = TestServer::spawn().await;
    for claims in [
        json!({"sub": "clerk", "role": "user"}),
        json!({"sub": "clerk", "email": "clerk@shop.example"}),
        json!({"sub": "orders-service", "scope": "publish"}),
    ] {
        let res = app
            .events_request("")
            .bearer_auth(app.sign(claims))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
        assert_eq!(error_body(res).await["code"], "forbidden");
    }
}

#[tokio::test]
async fn an_email_on_the_admin_list_is_an_admin_without_a_role_claim() {
    let app = TestServer::spawn_with(|c| c.admin_emails = vec!["owner@shop.example".into()]).await;
    let token = app.sign(json!({"sub": "u1", "email": "Owner@Shop.example"}));
    let mut stream = app.connect(&token, None, "").await;
    stream.ready().await;
}

#[tokio::test]
async fn issuer_and_audience_are_enforced_when_configured() {
    let app = TestServer::spawn_with(|c| {
        c.jwt.issuer = Some("https://shop.example".into());
        c.jwt.audience = Some("belfry".into());
    })
    .await;
    let good =
        json!({"sub": "ann", "role": "admin", "iss": "https://shop.example", "aud": "belfry"});
    app.connect(&app.sign(good), None, "").await.ready().await;
    for bad in [
        json!({"sub": "ann", "role": "admin", "iss": "https://evil.example", "aud": "belfry"}),
        json!({"sub": "ann", "role": "admin", "iss": "https://shop.example", "aud": "other"}),
        json!({"sub": "ann", "role": "admin"}),
    ] {
        let res = app
            .events_request("")
            .bearer_auth(app.sign(bad))
            .send()
            .await
            .unwrap();
        assert_invalid_token(res).await;
    }
}

#[tokio::test]
async fn an_audience_array_is_accepted_when_any_member_matches_and_ignored_when_none_is_configured()
{
    let open = TestServer::spawn().await;
    let listed = json!({"sub": "ann", "role": "admin", "aud": ["account", "belfry"]});
    open.connect(&open.sign(listed.clone()), None, "")
        .await
        .ready()
        .await;

    let app = TestServer::spawn_with(|c| c.jwt.audience = Some("belfry".into())).await;
    app.connect(&app.sign(listed), None, "").await.ready().await;
    let others = json!({"sub": "ann", "role": "admin", "aud": ["account", "billing"]});
    let res = app
        .events_request("")
        .bearer_auth(app.sign(others))
        .send()
        .await
        .unwrap();
    assert_invalid_token(res).await;
}

#[tokio::test]
async fn a_token_not_valid_before_a_future_time_is_refused_until_then() {
    let app = TestServer::spawn_with(|c| c.jwt.leeway = std::time::Duration::from_secs(5)).await;
    let later = json!({"sub": "ann", "role": "admin", "nbf": now() + 3600});
    let res = app
        .events_request("")
        .bearer_auth(app.sign(later))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let message = error_body(res).await["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("nbf"), "{message}");
    // Within the leeway of the clock skew: accepted.
    let skewed = json!({"sub": "ann", "role": "admin", "nbf": now() + 2});
    app.connect(&app.sign(skewed), None, "").await.ready().await;
}

#[tokio::test]
async fn a_token_expiring_near_the_end_of_time_keeps_its_stream_open() {
    let app = TestServer::spawn_with(|c| c.jwt.leeway = std::time::Duration::from_secs(5)).await;
    let forever = json!({"sub": "ann", "role": "admin", "exp": u64::MAX - 1});
    let mut s = app.connect(&app.sign(forever), None, "").await;
    s.ready().await;
    // Had the expiry wrapped round, `event: expired` would come first.
    let n = app.publish_titled("still here").await;
    assert_eq!(s.notifications(1).await, [n]);
}

/// Test-only Ed25519 key pair (RFC 8037 example key); never used outside tests.
const ED25519_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g
-----END PRIVATE KEY-----
";
const ED25519_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=
-----END PUBLIC KEY-----
";

#[tokio::test]
async fn an_asymmetric_algorithm_verifies_with_the_configured_public_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("ed25519.pub.pem");
    std::fs::write(&key_path, ED25519_PUBLIC).unwrap();
    let app = TestServer::spawn_with(|c| {
        c.jwt.algorithm = belfry_server::config::JwtAlgorithm::EdDsa;
        c.jwt.secret = None;
        c.jwt.public_key_file = Some(key_path);
    })
    .await;
    let claims = json!({"sub": "ann", "role": "admin", "exp": now() + 600});
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &claims,
        &jsonwebtoken::EncodingKey::from_ed_pem(ED25519_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    app.connect(&token, None, "").await.ready().await;

    // HS256 "signed" with the public key's bytes: the classic confusion attack.
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(ED25519_PUBLIC.as_bytes()),
    )
    .unwrap();
    let res = app
        .events_request("")
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    assert_invalid_token(res).await;
}
