//! Who may open the event stream, over HTTP: a refused token becomes a 401
//! with a bearer challenge, only the `Authorization` header counts, and a
//! valid token of a non-admin is a 403. Why the verifier refuses a token
//! (algorithm, signature, `exp`/`nbf`, issuer, audience, key type) is tested
//! without a server, in the unit tests of `belfry_server::auth`; publishing's
//! scope check is in `publish.rs`.

use belfry_e2e::{TestServer, error_body, now};
use serde_json::json;

/// Asserts a 401 with the bearer challenge and returns the error message.
async fn assert_invalid_token(res: reqwest::Response) -> String {
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    let body = error_body(res).await;
    assert_eq!(body["code"], "invalid_token");
    body["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_refused_token_is_answered_with_a_bearer_challenge_and_the_reason() {
    let app = TestServer::spawn().await;
    let expired = app.sign(json!({"sub": "ann", "role": "admin", "exp": now() - 120}));
    for (what, request, reason) in [
        ("no token", app.events_request(""), "missing bearer token"),
        (
            "another scheme",
            app.events_request("")
                .header("authorization", "Basic YWRtaW46YWRtaW4="),
            "not a bearer token",
        ),
        (
            "not a JWT",
            app.events_request("").bearer_auth("not-a-jwt"),
            "malformed token",
        ),
        (
            "an expired token",
            app.events_request("").bearer_auth(expired),
            "expired",
        ),
    ] {
        let message = assert_invalid_token(request.send().await.unwrap()).await;
        assert!(message.contains(reason), "{what}: {message}");
    }
    app.connect(&app.admin_token("ann"), None, "")
        .await
        .ready()
        .await;
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
async fn a_non_admin_is_forbidden_and_an_email_on_the_admin_list_is_an_admin() {
    let app = TestServer::spawn_with(|c| c.admin_emails = vec!["owner@shop.example".into()]).await;
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
    let owner = app.sign(json!({"sub": "u1", "email": "Owner@Shop.example"}));
    app.connect(&owner, None, "").await.ready().await;
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

/// A server with a public key and no HS256 secret starts (it has nothing to
/// mint with) and admits tokens of the key pair; the forgeries it refuses
/// are in the unit tests.
#[tokio::test]
async fn a_server_configured_with_a_public_key_admits_tokens_of_its_key_pair() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("ed25519.pub.pem");
    std::fs::write(&key_path, ED25519_PUBLIC).unwrap();
    let app = TestServer::spawn_with(|c| {
        c.jwt.algorithm = belfry_server::config::JwtAlgorithm::EdDsa;
        c.jwt.secret = None;
        c.jwt.public_key_file = Some(key_path);
    })
    .await;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &json!({"sub": "ann", "role": "admin", "exp": now() + 600}),
        &jsonwebtoken::EncodingKey::from_ed_pem(ED25519_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    app.connect(&token, None, "").await.ready().await;
    // The HS256 secret it would sign with is what it checks with: none here.
    let res = app
        .events_request("")
        .bearer_auth(app.sign(json!({"sub": "ann", "role": "admin"})))
        .send()
        .await
        .unwrap();
    let message = assert_invalid_token(res).await;
    assert!(message.contains("algorithm"), "{message}");
}
