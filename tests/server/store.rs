//! Store faults as HTTP answers. A row that cannot be read back is a server
//! error (500, the cause in the log), never a 503 that tells a publisher to
//! retry what will fail again. Runs on whichever backend the suite uses.

use belfry_e2e::{TestServer, error_body};
use secrecy::ExposeSecret as _;
use serde_json::json;
use sqlx::Connection as _;

/// Runs `sql` on the server's own database, past its CHECK constraints.
async fn tamper(app: &TestServer, sql: &str) {
    match &app.config.store {
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(url.expose_secret())
                .await
                .unwrap();
            sqlx::query("ALTER TABLE notifications DROP CONSTRAINT notifications_severity_check")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        None => {
            let options =
                sqlx::sqlite::SqliteConnectOptions::new().filename(app.config.database_path());
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            sqlx::query("PRAGMA ignore_check_constraints = ON")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
    }
}

/// Asserts a 500 with the generic JSON error and no invitation to retry.
async fn assert_internal_error(res: reqwest::Response) {
    assert_eq!(res.status(), 500);
    assert!(res.headers().get("retry-after").is_none());
    let error = error_body(res).await;
    assert_eq!(error["code"], "internal_error", "{error}");
}

#[tokio::test]
async fn a_stored_severity_the_server_does_not_know_is_a_500_not_a_retry() {
    let app = TestServer::spawn().await;
    let n = app.publish_titled("to be corrupted").await;
    tamper(
        &app,
        &format!("UPDATE notifications SET severity = 7 WHERE id = {}", n.id),
    )
    .await;

    let res = app
        .http
        .get(app.url("/api/admin/notifications"))
        .bearer_auth(app.admin_token("ann"))
        .send()
        .await
        .unwrap();
    assert_internal_error(res).await;
}

#[tokio::test]
async fn an_unreadable_stored_original_fails_its_idempotent_retry_with_a_500() {
    let app = TestServer::spawn().await;
    let token = app.publish_token();
    let body = json!({"kind": "payment.received", "title": "Paid #1"}).to_string();
    let first = app
        .publish_raw(Some(&token), body.clone(), Some("pay-1"))
        .await;
    assert_eq!(first.status(), 201);
    // A timestamp beyond any date the server can represent.
    tamper(
        &app,
        &format!("UPDATE notifications SET created_at = {}", i64::MAX),
    )
    .await;

    let retry = app.publish_raw(Some(&token), body, Some("pay-1")).await;
    assert_internal_error(retry).await;
    // The store itself answers: readiness is unaffected.
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}
