//! Self-hosted sign-in: login, refresh rotation, logout, disabling,
//! throttling; and the limits on streams.

use belfry_e2e::{TestServer, error_body};
use belfry_proto::TokenResponse;
use reqwest::Method;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

async fn signed_in(app: &TestServer, email: &str) -> TokenResponse {
    let res = app.login(email, PASSWORD).await;
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
    res.json().await.unwrap()
}

async fn refresh(app: &TestServer, token: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/auth/refresh"))
        .json(&json!({"refresh_token": token}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_signs_in_and_the_access_token_opens_the_stream() {
    let app = TestServer::spawn().await;
    app.create_user("ann@shop.example", PASSWORD, true).await;
    let tokens = signed_in(&app, "Ann@Shop.example").await;
    assert_eq!(tokens.expires_in, 15 * 60);
    assert_eq!(tokens.token_type, "Bearer");
    assert!(tokens.refresh_token.len() >= 43);
    let mut s = app.connect(&tokens.access_token, None, "").await;
    s.ready().await;
    let n = app.publish_titled("hello").await;
    assert_eq!(s.notifications(1).await[0].id, n.id);
}

#[tokio::test]
async fn a_non_admin_account_signs_in_but_may_not_open_the_stream() {
    let app = TestServer::spawn().await;
    app.create_user("clerk@shop.example", PASSWORD, false).await;
    let tokens = signed_in(&app, "clerk@shop.example").await;
    let res = app
        .events_request("")
        .bearer_auth(tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_answer_identically() {
    let app = TestServer::spawn().await;
    app.create_user("ann@shop.example", PASSWORD, true).await;
    let wrong = app.login("ann@shop.example", "not the password").await;
    let unknown = app.login("nobody@shop.example", "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(error_body(wrong).await, error_body(unknown).await);
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_retry_after() {
    let app = TestServer::spawn().await;
    app.create_user("ann@shop.example", PASSWORD, true).await;
    for _ in 0..5 {
        assert_eq!(
            app.login("ann@shop.example", "guess guess guess")
                .await
                .status(),
            401
        );
    }
    let res = app.login("ann@shop.example", PASSWORD).await;
    assert_eq!(res.status(), 429, "even the right password waits");
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert_eq!(error_body(res).await["code"], "too_many_requests");
    // Another account from the same address is not locked out yet.
    app.create_user("bob@shop.example", PASSWORD, true).await;
    assert_eq!(app.login("bob@shop.example", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_refresh_token_revokes_the_sign_in() {
    let app = TestServer::spawn().await;
    app.create_user("ann@shop.example", PASSWORD, true).await;
    let first = signed_in(&app, "ann@shop.example").await;

    let res = refresh(&app, &first.refresh_token).await;
    assert_eq!(res.status(), 200);
    let second: TokenResponse = res.json().await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    app.connect(&second.access_token, None, "")
        .await
        .ready()
        .await;

    // The old token again: theft is presumed, the whole sign-in ends.
    let res = refresh(&app, &first.refresh_token).await;
    assert_eq!(res.status(), 401);
    assert_eq!(error_body(res).await["code"], "invalid_credentials");
    assert_eq!(refresh(&app, &second.refresh_token).await.status(), 401);
    let res = app
        .events_request("")
        .bearer_auth(&second.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "its access tokens stop working too");

    assert_eq!(refresh(&app, "made-up").await.status(), 401);
}

#[tokio::test]
async fn logout_ends_that_sign_ins_open_streams_and_its_tokens() {
    let app = TestServer::spawn().await;
    app.create_user("ann@shop.example", PASSWORD, true).await;
    let laptop = signed_in(&app, "ann@shop.example").await;
    let phone = signed_in(&app, "ann@shop.example").await;
    let mut laptop_stream = app.connect(&laptop.access_token, None, "").await;
    laptop_stream.ready().await;
    let mut phone_stream = app.connect(&phone.access_token, None, "").await;
    phone_stream.ready().await;

    let res = app
        .http
        .post(app.url("/api/auth/logout"))
        .json(&json!({"refresh_token": laptop.refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let rest = laptop_stream.until_end().await;
    assert_eq!(
        rest.last().and_then(|f| f.event.as_deref()),
        Some("expired"),
        "{rest:?}"
    );
    let res = app
        .events_request("")
        .bearer_auth(&laptop.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(refresh(&app, &laptop.refresh_token).await.status(), 401);

    // The other sign-in is untouched.
    let n = app.publish_titled("still here").await;
    assert_eq!(phone_stream.notifications(1).await[0].id, n.id);
}

#[tokio::test]
async fn disabling_a_user_ends_their_streams_and_refuses_their_sign_in() {
    let app = TestServer::spawn().await;
    app.create_user("ann@shop.example", PASSWORD, true).await;
    let tokens = signed_in(&app, "ann@shop.example").await;
    let mut s = app.connect(&tokens.access_token, None, "").await;
    s.ready().await;

    // What `belfry-server user disable` does.
    assert!(
        app.state
            .store
            .set_disabled("ann@shop.example", true)
            .await
            .unwrap()
    );
    let started = std::time::Instant::now();
    let rest = s.until_end().await;
    assert_eq!(
        rest.last().and_then(|f| f.event.as_deref()),
        Some("expired")
    );
    eprintln!("stream ended {:?} after the disable", started.elapsed());

    let res = app.login("ann@shop.example", PASSWORD).await;
    assert_eq!(res.status(), 403);
    assert!(
        app.state
            .store
            .set_disabled("ann@shop.example", false)
            .await
            .unwrap()
    );
    assert_eq!(app.login("ann@shop.example", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn streams_beyond_the_per_admin_limit_get_429_and_disturb_nothing() {
    let app = TestServer::spawn_with(|c| c.max_streams_per_user = 2).await;
    let ann = app.admin_token("ann");
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut s = app.connect(&ann, None, "").await;
        s.ready().await;
        open.push(s);
    }
    let res = app
        .events_request("")
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(error_body(res).await["code"], "too_many_requests");
    // Another admin is not affected, nor are the open streams.
    app.connect(&app.admin_token("bob"), None, "")
        .await
        .ready()
        .await;
    let n = app.publish_titled("fan-out").await;
    for s in &mut open {
        assert_eq!(s.notifications(1).await[0].id, n.id);
    }
    // A closed stream frees its place.
    drop(open.pop());
    belfry_e2e::wait_until("a place is free again", || async {
        app.events_request("")
            .bearer_auth(&ann)
            .send()
            .await
            .unwrap()
            .status()
            == 200
    })
    .await;
}

#[tokio::test]
async fn streams_beyond_the_server_limit_get_429() {
    let app = TestServer::spawn_with(|c| c.max_streams = 2).await;
    let mut a = app.connect(&app.admin_token("ann"), None, "").await;
    a.ready().await;
    let mut b = app.connect(&app.admin_token("bob"), None, "").await;
    b.ready().await;
    let res = app
        .events_request("")
        .bearer_auth(app.admin_token("cyd"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn every_response_carries_security_headers_and_cors_is_closed_by_default() {
    let app = TestServer::spawn().await;
    for res in [
        app.http.get(app.url("/healthz")).send().await.unwrap(),
        app.events_request("").send().await.unwrap(),
    ] {
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
    }
    let res = app
        .http
        .request(Method::OPTIONS, app.url("/api/admin/events"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let app =
        TestServer::spawn_with(|c| c.cors_origins = vec!["https://admin.shop.example".into()])
            .await;
    let preflight = |origin: &'static str| {
        app.http
            .request(Method::OPTIONS, app.url("/api/admin/events"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header(
                "access-control-request-headers",
                "authorization,last-event-id",
            )
            .send()
    };
    let ok = preflight("https://admin.shop.example").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://admin.shop.example"
    );
    let allowed = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("last-event-id"),
        "{allowed}"
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}
