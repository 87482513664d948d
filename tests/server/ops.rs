//! Health, readiness and metrics endpoints, and the JSON fallbacks.

use belfry_e2e::{TestServer, error_body};

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestServer::spawn().await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);

    app.publish_titled("counted").await;
    let res = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    for name in [
        "belfry_connected_streams",
        "belfry_notifications_published_total",
        "belfry_deliveries_total",
        "belfry_subscribers_fell_behind_total",
        "belfry_publish_duration_seconds_bucket",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert_eq!(
        app.metric("belfry_notifications_published_total").await,
        1.0
    );
}

#[tokio::test]
async fn the_connected_streams_gauge_follows_streams() {
    let app = TestServer::spawn().await;
    let mut s = app.connect(&app.admin_token("ann"), None, "").await;
    s.ready().await;
    assert_eq!(app.metric("belfry_connected_streams").await, 1.0);
    drop(s);
    let deadline = tokio::time::Instant::now() + belfry_e2e::WAIT;
    while app.metric("belfry_connected_streams").await != 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gauge never went back to 0"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let app = TestServer::spawn().await;
    let res = app.http.get(app.url("/api/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(error_body(res).await["code"], "not_found");
    let res = app
        .http
        .delete(app.url("/api/notifications"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(error_body(res).await["code"], "method_not_allowed");
}

#[tokio::test]
async fn the_built_ui_is_served_with_caching_and_a_strict_csp_beside_the_api() {
    let ui = tempfile::tempdir().unwrap();
    std::fs::create_dir(ui.path().join("assets")).unwrap();
    std::fs::write(
        ui.path().join("index.html"),
        "<!doctype html><title>Belfry</title>",
    )
    .unwrap();
    std::fs::write(ui.path().join("assets/app-3f9a1c.js"), "console.log(1)").unwrap();
    let dir = ui.path().to_owned();
    let app = TestServer::spawn_with(|c| c.ui_dir = Some(dir)).await;

    for path in ["/", "/inbox", "/settings/account"] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-cache");
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(res.text().await.unwrap().contains("<title>Belfry</title>"));
    }
    let res = app
        .http
        .get(app.url("/assets/app-3f9a1c.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );

    // A hashed asset this release does not have: not cached, a JSON error.
    let res = app
        .http
        .get(app.url("/assets/index-NEWHASH.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(error_body(res).await["code"], "not_found");

    let res = app.http.get(app.url("/api/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(error_body(res).await["code"], "not_found");
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

/// `GET path` on `addr` over a plain blocking socket, as a probe from
/// outside the server's runtime would; returns the whole answer.
fn blocking_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(belfry_e2e::WAIT)).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    answer
}

/// The health port answers from its own thread, so it answers while the
/// server's runtime is blocked; and it answers 503 then, since the runtime
/// stopped ticking.
#[tokio::test]
async fn the_health_port_answers_apart_and_reports_a_stalled_runtime() {
    let app =
        TestServer::spawn_with(|c| c.health_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let health = app.health_addr.expect("a health port was bound");
    assert_ne!(health, app.addr);

    let ok = tokio::task::spawn_blocking(move || blocking_get(health, "/healthz"))
        .await
        .unwrap();
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.contains(r#"{"status":"ok"}"#), "{ok}");
    let metrics = tokio::task::spawn_blocking(move || blocking_get(health, "/metrics"))
        .await
        .unwrap();
    assert!(metrics.contains("belfry_connected_streams"), "{metrics}");
    let other = tokio::task::spawn_blocking(move || blocking_get(health, "/api/admin/events"))
        .await
        .unwrap();
    assert!(
        other.starts_with("HTTP/1.1 404"),
        "only probes here: {other}"
    );

    // Block this test's runtime, which is the server's, until the health
    // port reports the stall (the probe runs on a thread of its own).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + belfry_e2e::WAIT * 2;
        while std::time::Instant::now() < deadline {
            let answer = blocking_get(health, "/healthz");
            if answer.starts_with("HTTP/1.1 503") {
                let _ = tx.send(answer);
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    });
    let stalled = rx.recv_timeout(belfry_e2e::WAIT * 2);
    let stalled = stalled.expect("the health port reported the blocked runtime");
    assert!(stalled.contains("stalled"), "{stalled}");

    // Unblocked, the heartbeat resumes.
    belfry_e2e::wait_until("the health port is healthy again", || async {
        tokio::task::spawn_blocking(move || blocking_get(health, "/healthz"))
            .await
            .unwrap()
            .starts_with("HTTP/1.1 200")
    })
    .await;
}

#[tokio::test]
async fn after_a_restore_ids_continue_in_a_fresh_block_and_clients_from_the_lost_history_reset() {
    let mut app = TestServer::spawn().await;
    let token = app.admin_token("ann");
    let mut kept = Vec::new();
    for title in ["one", "two", "three"] {
        kept.push(app.publish_titled(title).await);
    }
    // As `belfry-server restore` does after putting a backup of these three
    // in place, over a store that had handed out ids up to 10.
    let restore = app.state.store.mark_restored(10).await.unwrap();
    assert_eq!(restore.floor, 3);
    assert!(
        restore.base > 10 && restore.base % 1_000_000_000 == 0,
        "{restore:?}"
    );
    app.restart().await;

    let n = app.publish_titled("after").await;
    assert_eq!(n.id, restore.base);
    // Saw 7 before the restore: 4..=10 are not what this store holds.
    let mut s = app.connect(&token, Some(7), "").await;
    s.ready().await;
    let f = s.next_event().await;
    assert_eq!(f.event.as_deref(), Some("reset"), "{f:?}");
    // Saw 2, which the backup has: 3, then the new one, no reset.
    let mut s = app.connect(&token, Some(2), "").await;
    s.ready().await;
    let got: Vec<u64> = s.notifications(2).await.iter().map(|n| n.id).collect();
    assert_eq!(got, [kept[2].id, n.id]);
    assert_eq!(
        app.state.store.restores().await.unwrap(),
        [restore],
        "recorded"
    );
}
