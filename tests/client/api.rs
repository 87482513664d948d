//! The one-off API calls against a scripted server, for answers the real
//! server cannot be made to give on demand (a 401 right after a refresh,
//! say): what the client sends and how it reads the answers. `real.rs`
//! runs the same calls against the real server.

use belfry_client::{Client, HistoryQuery, Tokens};
use belfry_proto::{MarkRead, Severity};

use crate::fake::{self, FakeServer, Reply};

const PAGE: &str = r#"{"items":[{"id":42,"kind":"stock.low","severity":"warning","title":"Mugs","created_at":"2026-11-29T10:00:00Z","read":false,"ack":null}],"next_before":42,"unread":{"total":1,"info":0,"warning":1,"critical":0}}"#;
const UNREAD: &str = r#"{"unread":{"total":0,"info":0,"warning":0,"critical":0}}"#;

#[tokio::test]
async fn history_sends_its_filters_and_retries_once_after_a_refresh() {
    let fake = FakeServer::start_with(|_, r| {
        if r.head.starts_with("POST /api/auth/refresh ") {
            Reply::Close(fake::json(
                "200 OK",
                r#"{"access_token":"new","refresh_token":"r2","expires_in":60}"#,
            ))
        } else if r.header("authorization").as_deref() == Some("Bearer new") {
            Reply::Close(fake::json("200 OK", PAGE))
        } else {
            Reply::Close(fake::error("401 Unauthorized", "", "invalid_token"))
        }
    })
    .await;
    let client = Client::new(&fake.base).unwrap().with_tokens(Tokens {
        access: "old".into(),
        refresh: Some("r1".into()),
    });
    let page = client
        .history(&HistoryQuery {
            limit: Some(5),
            before: Some(100),
            min_severity: Some(Severity::Warning),
            kind: Some("stock.low".into()),
            unread_only: true,
        })
        .await
        .unwrap();
    assert_eq!(page.items[0].notification.id, 42);
    assert!(!page.items[0].read);
    assert_eq!((page.next_before, page.unread.total), (Some(42), 1));

    let r = fake.requests();
    assert_eq!(r.len(), 3, "call, refresh, call again");
    assert!(
        r[0].head.starts_with(
            "GET /api/admin/notifications?limit=5&before=100&min_severity=warning&kind=stock.low&unread=true "
        ),
        "{}",
        r[0].head
    );
    assert_eq!(r[1].body, r#"{"refresh_token":"r1"}"#);
}

#[tokio::test]
async fn mark_read_posts_the_selection_and_a_second_401_is_final() {
    let fake = FakeServer::start_with(|n, _| match n {
        0 => Reply::Close(fake::json("200 OK", UNREAD)),
        _ => Reply::Close(fake::error("401 Unauthorized", "", "invalid_token")),
    })
    .await;
    let client = Client::new(&fake.base).unwrap().with_tokens(Tokens {
        access: "t".into(),
        refresh: None,
    });
    let answer = client
        .mark_read(&MarkRead {
            ids: None,
            up_to: Some(42),
        })
        .await
        .unwrap();
    assert_eq!(answer.unread.total, 0);
    let r = &fake.requests()[0];
    assert!(
        r.head.starts_with("POST /api/admin/notifications/read "),
        "{}",
        r.head
    );
    assert_eq!(r.body, r#"{"up_to":42}"#);

    let err = client
        .mark_read(&MarkRead {
            ids: Some(vec![1, 2]),
            up_to: None,
        })
        .await
        .unwrap_err();
    assert!(err.is_auth(), "{err:?}");
    assert_eq!(fake.requests().len(), 2, "no refresh token: no retry");
    assert_eq!(fake.requests()[1].body, r#"{"ids":[1,2]}"#);
}

#[tokio::test]
async fn login_keeps_the_tokens_and_a_wrong_password_is_an_auth_error() {
    let fake = FakeServer::start_with(|_, r| {
        if r.body.contains(r#""password":"right""#) {
            Reply::Close(fake::json(
                "200 OK",
                r#"{"access_token":"a","refresh_token":"r","expires_in":900}"#,
            ))
        } else {
            Reply::Close(fake::error("401 Unauthorized", "", "invalid_credentials"))
        }
    })
    .await;
    let client = Client::new(&fake.base).unwrap();
    let err = client.login("ann@shop.example", "wrong").await.unwrap_err();
    assert!(err.is_auth(), "{err:?}");
    assert_eq!(client.tokens(), None);
    let answer = client.login("ann@shop.example", "right").await.unwrap();
    assert_eq!(answer.token_type, "Bearer", "defaulted when absent");
    assert_eq!(
        client.tokens(),
        Some(Tokens {
            access: "a".into(),
            refresh: Some("r".into())
        })
    );
}
