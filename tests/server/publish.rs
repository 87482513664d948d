//! `POST /api/notifications`: who may publish and what is accepted.

use belfry_e2e::{TestServer, error_body};
use belfry_proto::{Notification, Severity};
use serde_json::json;

#[tokio::test]
async fn publishing_needs_a_token_with_the_publish_scope() {
    let app = TestServer::spawn().await;
    let body = json!({"kind": "order.created", "title": "x"}).to_string();

    let res = app.publish_raw(None, body.clone(), None).await;
    assert_eq!(res.status(), 401);

    let admin = app.admin_token("ann");
    let res = app.publish_raw(Some(&admin), body.clone(), None).await;
    assert_eq!(res.status(), 403);
    assert!(
        error_body(res).await["message"]
            .as_str()
            .unwrap()
            .contains("publish")
    );

    let res = app
        .publish_raw(Some(&app.publish_token()), body, None)
        .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn a_published_notification_is_stored_with_an_id_a_timestamp_and_its_severity() {
    let app = TestServer::spawn().await;
    let first = app
        .publish(json!({
            "kind": "stock.low",
            "title": "Low stock: mugs",
            "body": "3 left",
            "link": "https://shop.example/admin/products/9",
            "data": {"product_id": 9, "remaining": 3}
        }))
        .await;
    assert_eq!(
        first.severity,
        Severity::Warning,
        "stock.low defaults to warning"
    );
    assert_eq!(first.body.as_deref(), Some("3 left"));
    assert_eq!(first.data.as_ref().unwrap()["remaining"], 3);
    let age = time::OffsetDateTime::now_utc() - first.created_at;
    assert!(
        age.whole_seconds().abs() < 60,
        "created_at is now: {}",
        first.created_at
    );

    let second = app
        .publish(json!({"kind": "order.created", "severity": "critical", "title": "Huge order"}))
        .await;
    assert_eq!(
        second.severity,
        Severity::Critical,
        "the publisher's severity wins"
    );
    assert!(second.id > first.id);

    let custom = app
        .publish(json!({"kind": "newsletter.sent", "title": "Sent"}))
        .await;
    assert_eq!(
        custom.severity,
        Severity::Info,
        "unknown kinds default to info"
    );
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = TestServer::spawn().await;
    for body in ["{\"kind\":", "not json", "[1,2]", ""] {
        let res = app
            .publish_raw(Some(&app.publish_token()), body, None)
            .await;
        assert_eq!(res.status(), 400, "{body:?}");
        assert_eq!(error_body(res).await["code"], "malformed_json");
    }
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413() {
    let app = TestServer::spawn().await;
    let body = json!({"kind": "order.created", "title": "x", "body": "b".repeat(70 * 1024)});
    let res = app
        .publish_raw(Some(&app.publish_token()), body.to_string(), None)
        .await;
    assert_eq!(res.status(), 413);
    assert_eq!(error_body(res).await["code"], "payload_too_large");
}

#[tokio::test]
async fn invalid_fields_are_a_422_naming_the_field() {
    let app = TestServer::spawn().await;
    let cases = [
        (json!({"kind": "Order Created", "title": "x"}), "kind"),
        (json!({"kind": "order.created", "title": ""}), "title"),
        (
            json!({"kind": "order.created", "title": "t".repeat(201)}),
            "title",
        ),
        (json!({"kind": "order.created"}), "title"),
        (json!({"kind": "order.created", "title": 5}), "title"),
        (
            json!({"kind": "order.created", "title": "x", "body": "b".repeat(2001)}),
            "body",
        ),
        (
            json!({"kind": "order.created", "title": "x", "link": "javascript:alert(1)"}),
            "link",
        ),
        (
            json!({"kind": "order.created", "title": "x", "link": "/relative"}),
            "link",
        ),
        (
            json!({"kind": "order.created", "title": "x", "data": [1]}),
            "data",
        ),
        (
            json!({"kind": "order.created", "title": "x", "data": {"k": "v".repeat(17 * 1024)}}),
            "data",
        ),
        (
            json!({"kind": "order.created", "title": "x", "severity": "urgent"}),
            "severity",
        ),
        (
            json!({"kind": "order.created", "title": "x", "id": 7}),
            "id",
        ),
    ];
    for (body, field) in cases {
        let res = app
            .publish_raw(Some(&app.publish_token()), body.to_string(), None)
            .await;
        assert_eq!(res.status(), 422, "{body}");
        let err = error_body(res).await;
        assert_eq!(err["code"], "validation_failed");
        assert_eq!(err["field"], field, "{body} -> {err}");
    }
}

#[tokio::test]
async fn an_idempotency_key_returns_the_original_and_notifies_nobody_again() {
    let app = TestServer::spawn().await;
    let mut stream = app.connect(&app.admin_token("ann"), None, "").await;
    stream.ready().await;
    let token = app.publish_token();
    let body = json!({"kind": "payment.received", "title": "Paid #1"}).to_string();

    let first = app
        .publish_raw(Some(&token), body.clone(), Some("pay-1"))
        .await;
    assert_eq!(first.status(), 201);
    let first: Notification = first.json().await.unwrap();

    let retry = app
        .publish_raw(Some(&token), body.clone(), Some("pay-1"))
        .await;
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: Notification = retry.json().await.unwrap();
    assert_eq!(retry, first);

    // A different key is a different notification; the marker proves the
    // stream got nothing for the retry.
    let other = app.publish_raw(Some(&token), body, Some("pay-2")).await;
    assert_eq!(other.status(), 201);
    let marker = app.publish_titled("marker").await;

    let got: Vec<u64> = stream.notifications(3).await.iter().map(|n| n.id).collect();
    assert_eq!(got, [first.id, first.id + 1, marker.id]);
    assert_eq!(app.metric("belfry_idempotent_replays_total").await, 1.0);
}

#[tokio::test]
async fn an_idempotency_key_reused_for_a_different_notification_is_a_422_and_stores_nothing() {
    let app = TestServer::spawn().await;
    let token = app.publish_token();
    let body = json!({"kind": "payment.received", "title": "Paid #1", "data": {"n": 1}});
    let first = app
        .publish_raw(Some(&token), body.to_string(), Some("pay-1"))
        .await;
    assert_eq!(first.status(), 201);
    let first: Notification = first.json().await.unwrap();

    // Keys in another order are the same notification: a replay.
    let same = r#"{"title":"Paid #1","data":{"n":1},"kind":"payment.received"}"#;
    let res = app.publish_raw(Some(&token), same, Some("pay-1")).await;
    assert_eq!(res.status(), 200);

    for different in [
        json!({"kind": "dispute.created", "title": "Paid #1", "data": {"n": 1}}),
        json!({"kind": "payment.received", "title": "Paid #2", "data": {"n": 1}}),
        json!({"kind": "payment.received", "title": "Paid #1", "data": {"n": 2}}),
        json!({"kind": "payment.received", "title": "Paid #1", "data": {"n": 1}, "severity": "critical"}),
    ] {
        let res = app
            .publish_raw(Some(&token), different.to_string(), Some("pay-1"))
            .await;
        assert_eq!(res.status(), 422, "{different}");
        let err = error_body(res).await;
        assert_eq!(err["code"], "idempotency_key_reused", "{err}");
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains(&first.id.to_string()),
            "{err}"
        );
    }
    assert_eq!(app.state.store.last_id().await.unwrap(), first.id);
}

#[tokio::test]
async fn a_body_repeating_a_key_is_a_400_naming_the_key() {
    let app = TestServer::spawn().await;
    let token = app.publish_token();
    for (body, key) in [
        (
            r#"{"kind":"order.created","title":"A","title":"B"}"#,
            "title",
        ),
        (
            r#"{"kind":"order.created","title":"A","data":{"sku":1,"sku":2}}"#,
            "sku",
        ),
    ] {
        let res = app.publish_raw(Some(&token), body, None).await;
        assert_eq!(res.status(), 400, "{body}");
        let err = error_body(res).await;
        assert_eq!(err["code"], "duplicate_key", "{err}");
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains(&format!("`{key}`")),
            "{err}"
        );
    }
    assert_eq!(app.state.store.last_id().await.unwrap(), 0);
}

#[tokio::test]
async fn links_are_stored_as_validated_and_invisible_titles_are_blank() {
    let app = TestServer::spawn().await;
    let n = app
        .publish(
            json!({"kind": "order.created", "title": "Order", "link": "HTTPS://Shop.Example/a b"}),
        )
        .await;
    assert_eq!(n.link.as_deref(), Some("https://shop.example/a%20b"));
    let stored = app.state.store.notification(n.id).await.unwrap().unwrap();
    assert_eq!(stored.link, n.link);

    let token = app.publish_token();
    for body in [
        json!({"kind": "order.created", "title": "Order", "link": "https://shop.example\n@evil.example/"}),
        json!({"kind": "order.created", "title": "\u{200B}\u{200B}"}),
    ] {
        let res = app.publish_raw(Some(&token), body.to_string(), None).await;
        assert_eq!(res.status(), 422, "{body}");
        let err = error_body(res).await;
        assert!(
            ["link", "title"].contains(&err["field"].as_str().unwrap()),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_bad_idempotency_key_is_a_400() {
    let app = TestServer::spawn().await;
    let body = json!({"kind": "order.created", "title": "x"}).to_string();
    let long = "k".repeat(256);
    for key in [long.as_str(), "has space"] {
        let res = app
            .publish_raw(Some(&app.publish_token()), body.clone(), Some(key))
            .await;
        assert_eq!(res.status(), 400);
        assert_eq!(error_body(res).await["code"], "invalid_idempotency_key");
    }
}

#[tokio::test]
async fn concurrent_publishes_get_distinct_increasing_ids() {
    let app = std::sync::Arc::new(TestServer::spawn().await);
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move { app.publish_titled(&format!("n{i}")).await.id })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids, (1..=40).collect::<Vec<u64>>());
}
