//! Replicas and backing services failing under load: nothing is lost.

use std::time::Duration;

use belfry_e2e::{FreshDatabase, WAIT};

use crate::cluster::{
    Api, PrivatePostgres, PrivateRedis, Replica, Shared, free_port, shared_backends,
};

#[tokio::test]
async fn a_client_whose_replica_is_killed_resumes_on_another_and_misses_nothing() {
    let (shared, _db) = shared_backends().await;
    let mut a = Replica::start(&shared);
    let b = Replica::start(&shared);
    let api = Api::new();
    let ann = Api::admin("ann");

    let mut stream = api.connect(&a.base, &ann, None).await.unwrap();
    let mut last = stream.ready().await;
    let mut seen = Vec::new();
    let mut published = Vec::new();
    for i in 0..10 {
        published.push(
            api.publish(&b.base, &format!("before {i}"))
                .await
                .1
                .unwrap(),
        );
    }
    for n in stream.notifications(5).await {
        seen.push(n.id);
        last = n.id;
    }

    a.kill();
    // The client notices: its stream breaks (or ends) instead of hanging.
    let broken = tokio::time::timeout(WAIT, async {
        loop {
            match tokio::time::timeout(Duration::from_secs(5), stream.next_frame_raw()).await {
                Ok(None) | Ok(Some(Err(()))) => break,
                Ok(Some(Ok(f))) => {
                    if f.event.as_deref() == Some("notification") {
                        let n: belfry_proto::Notification = f.json();
                        seen.push(n.id);
                        last = n.id;
                    }
                }
                Err(_) => break,
            }
        }
    })
    .await;
    assert!(broken.is_ok(), "the stream of a killed replica ends");
    for i in 0..10 {
        published.push(api.publish(&b.base, &format!("after {i}")).await.1.unwrap());
    }

    let mut stream = api.connect(&b.base, &ann, Some(last)).await.unwrap();
    stream.ready().await;
    let rest = published.len() - seen.len();
    seen.extend(stream.notifications(rest).await.iter().map(|n| n.id));
    assert_eq!(seen, published, "nothing lost, nothing twice, in order");
}

#[tokio::test]
async fn redis_restarting_mid_stream_delays_delivery_but_loses_nothing() {
    let db = FreshDatabase::create().await;
    let mut redis = PrivateRedis::start();
    let shared = Shared {
        store: db.url.clone(),
        broker: redis.url(),
        channel: "belfry:bus".to_owned(),
    };
    let a = Replica::start(&shared);
    let b = Replica::start(&shared);
    let api = Api::new();
    let mut on_b = api
        .connect(&b.base, &Api::admin("ann"), None)
        .await
        .unwrap();
    on_b.ready().await;

    let first = api.publish(&a.base, "before").await.1.unwrap();
    assert_eq!(on_b.notifications(1).await[0].id, first);

    redis.stop();
    let mut during = Vec::new();
    for i in 0..5 {
        let (status, id) = api
            .publish(&a.base, &format!("while Redis is down {i}"))
            .await;
        assert_eq!(status, 201, "publishing does not need Redis");
        during.push(id.unwrap());
    }
    redis.restart();
    let after = api.publish(&a.base, "after").await.1.unwrap();

    let got: Vec<u64> = on_b.notifications(6).await.iter().map(|n| n.id).collect();
    let mut expected = during;
    expected.push(after);
    assert_eq!(got, expected);
}

#[tokio::test]
async fn postgres_down_answers_503_keeps_streams_open_and_recovers() {
    let pg = PrivatePostgres::start();
    let shared = Shared {
        store: pg.url(),
        broker: belfry_e2e::redis_url(),
        channel: format!("belfry_pg_down_{}", free_port()),
    };
    let a = Replica::start(&shared);
    let api = Api::new();
    let mut stream = api
        .connect(&a.base, &Api::admin("ann"), None)
        .await
        .unwrap();
    stream.ready().await;

    pg.down();
    let res = api
        .http
        .post(format!("{}/api/notifications", a.base))
        .bearer_auth(Api::publisher())
        .json(&serde_json::json!({"kind": "order.created", "title": "while down"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let err: serde_json::Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "store_unavailable");
    let ready = api
        .http
        .get(format!("{}/readyz", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    // The open stream is still alive: keepalives keep coming.
    let f = stream.next_frame().await.expect("stream still open");
    assert_eq!(f.comments, ["keepalive"]);

    pg.up();
    belfry_e2e::wait_until("the store is ready again", || async {
        api.http
            .get(format!("{}/readyz", a.base))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    let (status, id) = api.publish(&a.base, "after recovery").await;
    assert_eq!(status, 201);
    assert_eq!(stream.notifications(1).await[0].id, id.unwrap());
}
