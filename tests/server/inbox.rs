//! The inbox: history, read state synced across one admin's devices,
//! acknowledgements seen by everyone, and preferences.

use std::collections::HashSet;
use std::sync::Arc;

use belfry_e2e::{TestServer, error_body};
use belfry_proto::{AckEvent, InboxPage, Preferences, ReadEvent, UnreadAnswer, UnreadCounts};
use reqwest::Method;
use serde_json::{Value, json};

fn counts(total: u64, info: u64, warning: u64, critical: u64) -> UnreadCounts {
    UnreadCounts {
        total,
        info,
        warning,
        critical,
    }
}

async fn publish_three(app: &TestServer) -> [u64; 3] {
    let i = app
        .publish(json!({"kind": "order.created", "title": "info"}))
        .await
        .id;
    let w = app
        .publish(json!({"kind": "stock.low", "title": "warning"}))
        .await
        .id;
    let c = app
        .publish(json!({"kind": "fraud.detected", "title": "critical"}))
        .await
        .id;
    [i, w, c]
}

#[tokio::test]
async fn the_ready_frame_carries_this_admins_unread_counts() {
    let app = TestServer::spawn().await;
    publish_three(&app).await;
    let mut s = app.connect(&app.admin_token("ann"), None, "").await;
    let ready: Value = s.ready_frame().await.json();
    assert_eq!(
        ready["unread"],
        json!({"total": 3, "info": 1, "warning": 1, "critical": 1})
    );
}

#[tokio::test]
async fn a_read_on_one_device_reaches_the_admins_other_device_and_no_other_admin() {
    let app = TestServer::spawn().await;
    let ann = app.admin_token("ann");
    let bob = app.admin_token("bob");
    let [info, _, critical] = publish_three(&app).await;
    let mut device_a = app.connect(&ann, None, "").await;
    device_a.ready().await;
    let mut device_b = app.connect(&ann, None, "").await;
    device_b.ready().await;
    let mut bobs = app.connect(&bob, None, "").await;
    bobs.ready().await;

    let res = app
        .send_json(
            Method::POST,
            "/api/admin/notifications/read",
            &ann,
            json!({"ids": [critical]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let answer: UnreadAnswer = res.json().await.unwrap();
    assert_eq!(answer.unread, counts(2, 1, 1, 0));

    for device in [&mut device_a, &mut device_b] {
        let f = device.next_event().await;
        assert_eq!(f.event.as_deref(), Some("read"), "{f:?}");
        let ev: ReadEvent = f.json();
        assert_eq!(ev.ids, Some(vec![critical]));
        assert_eq!(ev.unread, answer.unread);
    }

    // Bob's next event is the marker, not Ann's read; his counts did not move.
    let marker = app.publish_titled("marker").await;
    assert_eq!(bobs.notifications(1).await[0].id, marker.id);
    let page: InboxPage = app.get_json("/api/admin/notifications", &bob).await;
    assert_eq!(page.unread, counts(4, 2, 1, 1));

    // "Mark all read" up to an id.
    let res = app
        .send_json(
            Method::POST,
            "/api/admin/notifications/read",
            &ann,
            json!({"up_to": marker.id}),
        )
        .await;
    let answer: UnreadAnswer = res.json().await.unwrap();
    assert_eq!(answer.unread, counts(0, 0, 0, 0));
    device_b.notifications(1).await; // the marker
    let ev: ReadEvent = device_b.next_event().await.json();
    assert_eq!((ev.up_to, ev.unread), (Some(marker.id), answer.unread));

    // And unread again.
    let res = app
        .send_json(
            Method::POST,
            "/api/admin/notifications/unread",
            &ann,
            json!({"ids": [info]}),
        )
        .await;
    let answer: UnreadAnswer = res.json().await.unwrap();
    assert_eq!(answer.unread, counts(1, 1, 0, 0));
    let ev: ReadEvent = device_b.next_event().await.json();
    assert!(ev.unread_again);
    assert_eq!(ev.ids, Some(vec![info]));

    let page: InboxPage = app
        .get_json("/api/admin/notifications?unread=true", &ann)
        .await;
    let ids: Vec<u64> = page.items.iter().map(|i| i.notification.id).collect();
    assert_eq!(ids, [info]);
}

#[tokio::test]
async fn read_state_survives_a_restart() {
    let mut app = TestServer::spawn().await;
    let ann = app.admin_token("ann");
    let [_, warning, _] = publish_three(&app).await;
    app.send_json(
        Method::POST,
        "/api/admin/notifications/read",
        &ann,
        json!({"ids": [warning]}),
    )
    .await;
    app.restart().await;
    let page: InboxPage = app.get_json("/api/admin/notifications", &ann).await;
    assert_eq!(page.unread, counts(2, 1, 0, 1));
    let read: Vec<bool> = page.items.iter().map(|i| i.read).collect();
    assert_eq!(read, [false, true, false], "newest first");
}

#[tokio::test]
async fn history_filters_by_severity_kind_and_unread() {
    let app = TestServer::spawn().await;
    let ann = app.admin_token("ann");
    let [info, warning, critical] = publish_three(&app).await;
    let ids = |p: InboxPage| {
        p.items
            .iter()
            .map(|i| i.notification.id)
            .collect::<Vec<_>>()
    };
    let page = app
        .get_json("/api/admin/notifications?min_severity=warning", &ann)
        .await;
    assert_eq!(ids(page), [critical, warning]);
    let page = app
        .get_json("/api/admin/notifications?kind=order.created", &ann)
        .await;
    assert_eq!(ids(page), [info]);
    let page: InboxPage = app.get_json("/api/admin/notifications?limit=2", &ann).await;
    assert_eq!(page.next_before, Some(warning));
    let page: InboxPage = app
        .get_json("/api/admin/notifications?limit=2&before=2", &ann)
        .await;
    assert_eq!((ids(page.clone()), page.next_before), (vec![info], None));
}

#[tokio::test]
async fn bad_history_parameters_are_a_400_naming_the_parameter() {
    let app = TestServer::spawn().await;
    let ann = app.admin_token("ann");
    for (query, name) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("before=abc", "before"),
        ("min_severity=loud", "min_severity"),
        ("kind=Bad Kind", "kind"),
        ("unread=maybe", "unread"),
        ("colour=red", "colour"),
    ] {
        let res = app
            .http
            .get(app.url(&format!("/api/admin/notifications?{query}")))
            .bearer_auth(&ann)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{query}");
        let err = error_body(res).await;
        assert!(
            err["message"].as_str().unwrap().starts_with(name),
            "{query}: {err}"
        );
    }
}

#[tokio::test]
async fn pagination_skips_and_repeats_nothing_while_new_notifications_arrive() {
    let app = Arc::new(TestServer::spawn().await);
    let ann = app.admin_token("ann");
    for i in 0..40 {
        app.publish_titled(&format!("old {i}")).await;
    }
    let publisher = {
        let app = app.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                app.publish_titled(&format!("new {i}")).await;
            }
        })
    };
    let mut seen = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let path = match before {
            Some(b) => format!("/api/admin/notifications?limit=7&before={b}"),
            None => "/api/admin/notifications?limit=7".to_owned(),
        };
        let page: InboxPage = app.get_json(&path, &ann).await;
        seen.extend(page.items.iter().map(|i| i.notification.id));
        match page.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    publisher.await.unwrap();
    let top = seen[0];
    assert!(top >= 40);
    assert_eq!(
        seen,
        (1..=top).rev().collect::<Vec<_>>(),
        "every id once, newest first"
    );
}

#[tokio::test]
async fn an_ack_reaches_every_admin_a_competing_ack_gets_409_and_release_works() {
    let app = TestServer::spawn().await;
    let ann = app.admin_token("ann");
    let bob = app.admin_token("bob");
    let [_, _, critical] = publish_three(&app).await;
    let mut anns = app.connect(&ann, None, "").await;
    anns.ready().await;
    let mut bobs = app.connect(&bob, None, "").await;
    bobs.ready().await;

    let path = format!("/api/admin/notifications/{critical}/ack");
    let res = app
        .send_json(
            Method::POST,
            &path,
            &ann,
            json!({"note": "calling the bank"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    for s in [&mut anns, &mut bobs] {
        let f = s.next_event().await;
        assert_eq!(f.event.as_deref(), Some("ack"));
        let ev: AckEvent = f.json();
        let ack = ev.ack.expect("acked");
        assert_eq!((ev.id, ack.by.sub.as_str()), (critical, "ann"));
        assert_eq!(ack.by.email.as_deref(), Some("ann@shop.example"));
        assert_eq!(ack.note.as_deref(), Some("calling the bank"));
    }

    let res = app.send_json(Method::POST, &path, &bob, json!({})).await;
    assert_eq!(res.status(), 409);
    let err = error_body(res).await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("ann@shop.example"),
        "{err}"
    );

    let page: InboxPage = app.get_json("/api/admin/notifications", &bob).await;
    let item = page
        .items
        .iter()
        .find(|i| i.notification.id == critical)
        .unwrap();
    assert_eq!(
        item.ack.as_ref().unwrap().by.sub,
        "ann",
        "history carries the ack"
    );

    let res = app.send_json(Method::DELETE, &path, &bob, json!({})).await;
    assert_eq!(res.status(), 409, "only the owner releases without force");
    let res = app
        .send_json(Method::POST, &path, &bob, json!({"force": true}))
        .await;
    assert_eq!(res.status(), 200, "force takes over");
    let ev: AckEvent = anns.next_event().await.json();
    assert_eq!(ev.ack.unwrap().by.sub, "bob");

    let res = app.send_json(Method::DELETE, &path, &bob, json!({})).await;
    assert_eq!(res.status(), 204);
    let ev: AckEvent = anns.next_event().await.json();
    assert_eq!((ev.id, ev.ack), (critical, None));

    let res = app
        .send_json(
            Method::POST,
            "/api/admin/notifications/99999/ack",
            &bob,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 404);
    let long = "n".repeat(501);
    let res = app
        .send_json(Method::POST, &path, &bob, json!({"note": long}))
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(error_body(res).await["field"], "note");
}

#[tokio::test]
async fn a_preferences_change_reaches_the_admins_other_device_and_is_validated() {
    let app = TestServer::spawn().await;
    let ann = app.admin_token("ann");
    let defaults: Preferences = app.get_json("/api/admin/preferences", &ann).await;
    assert_eq!(defaults, Preferences::default());
    assert_eq!(defaults.popup_min_severity, belfry_proto::Severity::Warning);

    let mut other_device = app.connect(&ann, None, "").await;
    other_device.ready().await;
    let mut bobs = app.connect(&app.admin_token("bob"), None, "").await;
    bobs.ready().await;

    let prefs = json!({
        "popup_min_severity": "critical",
        "muted_kinds": [{"kind": "stock.low", "until": "2030-01-01T00:00:00Z"}],
        "quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Europe/Amsterdam"},
        "sounds": {"info": false, "warning": false, "critical": true},
        "realert_minutes": 10
    });
    let res = app
        .send_json(Method::PUT, "/api/admin/preferences", &ann, prefs.clone())
        .await;
    assert_eq!(res.status(), 200);
    let saved: Preferences = res.json().await.unwrap();
    assert!(
        saved.quiet_hours.as_ref().unwrap().critical_breaks_through,
        "defaults to yes"
    );

    let f = other_device.next_event().await;
    assert_eq!(f.event.as_deref(), Some("preferences"));
    assert_eq!(f.json::<Preferences>(), saved);
    let again: Preferences = app.get_json("/api/admin/preferences", &ann).await;
    assert_eq!(again, saved);

    let marker = app.publish_titled("marker").await;
    assert_eq!(
        bobs.notifications(1).await[0].id,
        marker.id,
        "bob saw no preferences event"
    );

    let mut bad_tz = prefs.clone();
    bad_tz["quiet_hours"]["time_zone"] = json!("Mars/Olympus");
    let mut bad_time = prefs.clone();
    bad_time["quiet_hours"]["start"] = json!("25:00");
    // Signs are no part of HH:MM (the desktop and browser policies read
    // them as malformed: fixtures/popup-policy.json).
    let mut signed_time = prefs.clone();
    signed_time["quiet_hours"]["end"] = json!("07:+5");
    let mut signed_hour = prefs.clone();
    signed_hour["quiet_hours"]["start"] = json!("+7:00");
    let mut bad_kind = prefs.clone();
    bad_kind["muted_kinds"][0]["kind"] = json!("Not A Kind");
    let mut unknown = prefs.clone();
    unknown["colour"] = json!("red");
    let mut bad_severity = prefs;
    bad_severity["popup_min_severity"] = json!("loud");
    for (body, field) in [
        (bad_tz, "quiet_hours.time_zone"),
        (bad_time, "quiet_hours.start"),
        (signed_time, "quiet_hours.end"),
        (signed_hour, "quiet_hours.start"),
        (bad_kind, "muted_kinds[0].kind"),
        (unknown, "colour"),
        (bad_severity, "popup_min_severity"),
    ] {
        let res = app
            .send_json(Method::PUT, "/api/admin/preferences", &ann, body)
            .await;
        assert_eq!(res.status(), 422);
        assert_eq!(error_body(res).await["field"], field);
    }
    let unchanged: Preferences = app.get_json("/api/admin/preferences", &ann).await;
    assert_eq!(unchanged, saved, "a refused change loses nothing");
}

#[tokio::test]
async fn retention_prunes_by_severity_and_a_resume_from_before_it_gets_a_reset() {
    let app = TestServer::spawn().await;
    let ann = app.admin_token("ann");
    let [info, warning, critical] = publish_three(&app).await;
    app.send_json(
        Method::POST,
        "/api/admin/notifications/read",
        &ann,
        json!({"ids": [info]}),
    )
    .await;

    // What the hourly pruner does, with a horizon that covers info only.
    let later = time::OffsetDateTime::now_utc() + time::Duration::minutes(1);
    let long_ago = time::OffsetDateTime::UNIX_EPOCH;
    let pruned = app
        .state
        .store
        .prune(&[
            (belfry_proto::Severity::Info, later),
            (belfry_proto::Severity::Warning, long_ago),
            (belfry_proto::Severity::Critical, long_ago),
        ])
        .await
        .unwrap();
    assert_eq!(pruned, 1);

    let page: InboxPage = app.get_json("/api/admin/notifications", &ann).await;
    let ids: HashSet<u64> = page.items.iter().map(|i| i.notification.id).collect();
    assert_eq!(ids, HashSet::from([warning, critical]));

    let mut s = app.connect(&ann, Some(info - 1), "").await;
    s.ready().await;
    assert_eq!(s.next_event().await.event.as_deref(), Some("reset"));
    let mut s = app.connect(&ann, Some(info), "").await;
    s.ready().await;
    let got: Vec<u64> = s.notifications(2).await.iter().map(|n| n.id).collect();
    assert_eq!(
        got,
        [warning, critical],
        "a resume from the horizon replays the rest"
    );
}

/// Many admins acknowledging and marking at the same moment: every request
/// is answered on its merits (200 or 409), never with a 503 from a write
/// that lost a race for the database.
#[tokio::test]
async fn simultaneous_acks_and_read_marks_all_succeed_or_conflict() {
    let app = Arc::new(TestServer::spawn().await);
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(app.publish_titled(&format!("incident {i}")).await.id);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for admin in 0..16 {
        let app = app.clone();
        let ids = ids.clone();
        tasks.spawn(async move {
            let token = app.admin_token(&format!("admin{admin}"));
            let id = ids[admin % ids.len()];
            let path = format!("/api/admin/notifications/{id}/ack");
            let ack = app.send_json(Method::POST, &path, &token, json!({}));
            let read = app.send_json(
                Method::POST,
                "/api/admin/notifications/read",
                &token,
                json!({"ids": [id]}),
            );
            let (ack, read) = tokio::join!(ack, read);
            (ack.status().as_u16(), read.status().as_u16())
        });
    }
    let mut acked = 0;
    while let Some(done) = tasks.join_next().await {
        let (ack, read) = done.unwrap();
        assert!(matches!(ack, 200 | 409), "ack answered {ack}");
        assert_eq!(read, 200, "read mark answered {read}");
        acked += usize::from(ack == 200);
    }
    // Each notification was acknowledged by exactly one of its two admins.
    assert_eq!(acked, ids.len());
}
