//! The sign-in, inbox and read-state calls against the real server (the
//! scripted-server tests in `api.rs` check the edge cases of the same calls).

use belfry_client::{Client, ClientEvent, Error, HistoryQuery};
use belfry_e2e::{TestServer, belfry_cli};
use belfry_proto::MarkRead;
use serde_json::{Value, json};

use crate::helpers::{fast, until};

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn login_history_read_sync_refresh_and_logout_against_the_real_server() {
    let app = TestServer::spawn().await;
    app.create_user("ann@shop.example", PASSWORD, true).await;
    let mut published = Vec::new();
    for (kind, title) in [
        ("order.created", "one"),
        ("stock.low", "two"),
        ("fraud.detected", "three"),
    ] {
        published.push(app.publish(json!({"kind": kind, "title": title})).await.id);
    }

    // Device A signs in; device B streams with its own sign-in.
    let a = Client::new(&app.base).unwrap();
    let tokens = a.login("ann@shop.example", PASSWORD).await.unwrap();
    assert_eq!(tokens.expires_in, 15 * 60);
    let b = Client::new(&app.base).unwrap();
    b.login("ann@shop.example", PASSWORD).await.unwrap();
    let mut b_events = b.events(fast()).unwrap();
    let unread = until(&mut b_events, |e| match e {
        ClientEvent::Live { unread, .. } => Some(unread),
        _ => None,
    })
    .await;
    assert_eq!(unread.total, 3);

    let page = a
        .history(&HistoryQuery {
            limit: Some(2),
            ..HistoryQuery::default()
        })
        .await
        .unwrap();
    let got: Vec<u64> = page.items.iter().map(|i| i.notification.id).collect();
    assert_eq!(got, [published[2], published[1]]);
    assert_eq!(page.next_before, Some(published[1]));

    let answer = a
        .mark_read(&MarkRead {
            ids: Some(vec![published[2]]),
            up_to: None,
        })
        .await
        .unwrap();
    assert_eq!((answer.unread.total, answer.unread.critical), (2, 0));
    let read = until(&mut b_events, |e| match e {
        ClientEvent::Read(r) => Some(r),
        _ => None,
    })
    .await;
    assert_eq!(
        (read.ids, read.unread),
        (Some(vec![published[2]]), answer.unread)
    );

    // Refresh rotates for real: the client holds the new pair.
    let refresh_token = |c: &Client| {
        use secrecy::ExposeSecret as _;
        let tokens = c.tokens().unwrap();
        tokens
            .refresh
            .map(|r| r.expose_secret().to_owned())
            .unwrap()
    };
    let before = refresh_token(&a);
    a.refresh().await.unwrap();
    assert_ne!(refresh_token(&a), before);
    a.history(&HistoryQuery::default()).await.unwrap();

    a.logout().await.unwrap();
    let err = a.history(&HistoryQuery::default()).await.unwrap_err();
    assert!(err.is_auth(), "{err:?}");
}

#[tokio::test]
async fn the_cli_lists_history_and_marks_read_on_the_real_server() {
    let app = TestServer::spawn().await;
    let token = app.admin_token("ann");
    let mut ids = Vec::new();
    for title in ["one", "two", "three"] {
        ids.push(app.publish_titled(title).await.id);
    }
    // Async processes: the server runs on this test's runtime.
    let run = async |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(belfry_cli());
        cmd.args(args)
            .args(["--server", &app.base])
            .env("BELFRY_TOKEN", &token)
            .env("NO_COLOR", "1")
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/belfry-test-bus",
            );
        let out = cmd.output().await.unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let unread_ids = |text: String| -> Vec<u64> {
        text.lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["id"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(
        unread_ids(run(&["history", "--unread", "--json"]).await),
        [ids[2], ids[1], ids[0]]
    );
    run(&["read", "--id", &ids[1].to_string()]).await;
    assert_eq!(
        unread_ids(run(&["history", "--unread", "--json"]).await),
        [ids[2], ids[0]]
    );
    run(&["read", "--all"]).await;
    assert!(unread_ids(run(&["history", "--unread", "--json"]).await).is_empty());
    let all = run(&["history", "--json"]).await;
    assert_eq!(all.lines().count(), 3, "read ones are still listed");
}

#[tokio::test]
async fn ack_release_unread_and_preferences_reach_every_device_of_the_admin() {
    let app = TestServer::spawn().await;
    app.create_user("ann@shop.example", PASSWORD, true).await;
    app.create_user("bob@shop.example", PASSWORD, true).await;
    let id = app
        .publish(json!({"kind": "fraud.detected", "title": "Card testing"}))
        .await
        .id;
    let ann = Client::new(&app.base).unwrap();
    ann.login("ann@shop.example", PASSWORD).await.unwrap();
    let bob = Client::new(&app.base).unwrap();
    bob.login("bob@shop.example", PASSWORD).await.unwrap();
    let mut ann_events = ann.events(fast()).unwrap();
    until(&mut ann_events, |e| match e {
        ClientEvent::Live { last_id, .. } => Some(last_id),
        _ => None,
    })
    .await;

    // Bob takes it; Ann hears of it; Ann cannot release it without force.
    let acked = bob
        .ack(
            id,
            &belfry_proto::AckRequest {
                note: Some("on it".into()),
                force: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(acked.ack.as_ref().unwrap().note.as_deref(), Some("on it"));
    let heard = until(&mut ann_events, |e| match e {
        ClientEvent::Ack(a) => Some(a),
        _ => None,
    })
    .await;
    assert_eq!(heard, acked);
    match ann.release(id, false).await {
        Err(Error::Status { status: 409, .. }) => {}
        other => panic!("expected 409, got {other:?}"),
    }
    ann.release(id, true).await.unwrap();

    // Read, then unread again.
    ann.mark_read(&MarkRead {
        ids: Some(vec![id]),
        up_to: None,
    })
    .await
    .unwrap();
    let answer = ann.mark_unread(&[id]).await.unwrap();
    assert_eq!(answer.unread.critical, 1);

    // Preferences round-trip and reach the stream.
    let mut prefs = ann.preferences().await.unwrap();
    prefs.realert_minutes = 15;
    let saved = ann.put_preferences(&prefs).await.unwrap();
    assert_eq!(saved.realert_minutes, 15);
    let pushed = until(&mut ann_events, |e| match e {
        ClientEvent::Preferences(p) => Some(p),
        _ => None,
    })
    .await;
    assert_eq!(pushed, saved);
    prefs.realert_minutes = 100_000;
    assert!(matches!(
        ann.put_preferences(&prefs).await,
        Err(Error::Status { status: 422, .. } | Error::Status { status: 400, .. })
    ));
}

#[tokio::test]
async fn an_admin_lists_the_servers_channels_and_tests_one() {
    let app = TestServer::spawn_with(|config| {
        // Nothing listens on port 9 here: the test answers "would be retried".
        config.channels.insert(
            "ops-slack".into(),
            belfry_server::channels::ChannelSettings::Slack {
                url: "http://127.0.0.1:9/services/T0/B0/sEcReT".into(),
            },
        );
    })
    .await;
    app.create_user("ann@shop.example", PASSWORD, true).await;
    let client = Client::new(&app.base).unwrap();
    client.login("ann@shop.example", PASSWORD).await.unwrap();

    let list = client.channels().await.unwrap();
    assert_eq!(list.channels.len(), 1);
    assert_eq!(list.channels[0].kind, "slack");
    assert!(!list.channels[0].target.contains("sEcReT"), "{list:?}");
    let result = client
        .test_channel("ops-slack", Some(belfry_proto::Severity::Critical))
        .await
        .unwrap();
    assert_eq!(result.outcome, belfry_proto::ChannelOutcome::Retry);
    assert!(result.detail.contains("could not connect"), "{result:?}");
    // A name is one path segment: `..` cannot reach another route.
    for name in ["nowhere", "..", "ops-slack/../../notifications"] {
        match client.test_channel(name, None).await {
            Err(Error::Status { status: 404, .. }) => {}
            other => panic!("{name}: {other:?}"),
        }
    }
}
