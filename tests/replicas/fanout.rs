//! What one replica does reaches the clients of every other.

use std::sync::Arc;

use belfry_proto::ReadEvent;
use futures_util::FutureExt as _;
use serde_json::json;

use crate::cluster::{Api, Replica, shared_backends};

#[tokio::test]
async fn a_notification_and_a_read_on_replica_a_reach_clients_of_replica_b() {
    let (shared, _db) = shared_backends().await;
    let a = Replica::start(&shared);
    let b = Replica::start(&shared);
    let api = Api::new();
    let ann = Api::admin("ann");

    let mut on_b = api.connect(&b.base, &ann, None).await.expect("stream on B");
    on_b.ready().await;
    let mut bob_on_b = api
        .connect(&b.base, &Api::admin("bob"), None)
        .await
        .unwrap();
    bob_on_b.ready().await;

    let (status, id) = api.publish(&a.base, "published on A").await;
    assert_eq!(status, 201);
    let id = id.unwrap();
    assert_eq!(on_b.notifications(1).await[0].id, id);
    assert_eq!(bob_on_b.notifications(1).await[0].id, id);

    // Ann marks it read through replica A; her stream on B learns it.
    let res = api
        .http
        .post(format!("{}/api/admin/notifications/read", a.base))
        .bearer_auth(&ann)
        .json(&json!({"ids": [id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let f = on_b.next_event().await;
    assert_eq!(f.event.as_deref(), Some("read"), "{f:?}");
    let ev: ReadEvent = f.json();
    assert_eq!((ev.ids, ev.unread.total), (Some(vec![id]), 0));

    // Bob's view did not change: his next event is the next notification.
    let (_, next) = api.publish(&b.base, "published on B").await;
    assert_eq!(bob_on_b.notifications(1).await[0].id, next.unwrap());
}

#[tokio::test]
async fn ids_arrive_gapless_and_in_order_while_two_replicas_publish_and_clients_resume() {
    const PER_TASK: usize = 40;
    const TASKS: usize = 8;
    let (shared, _db) = shared_backends().await;
    let replicas = Arc::new([Replica::start(&shared), Replica::start(&shared)]);
    let api = Arc::new(Api::new());

    let publishers: Vec<_> = (0..TASKS)
        .map(|t| {
            let (replicas, api) = (replicas.clone(), api.clone());
            tokio::spawn(async move {
                for i in 0..PER_TASK {
                    let base = &replicas[t % 2].base;
                    let (status, _) = api.publish(base, &format!("t{t} #{i}")).await;
                    assert_eq!(status, 201);
                }
            })
        })
        .collect();

    // Two clients that keep dropping their stream and resuming, each time
    // on the other replica.
    let total = (TASKS * PER_TASK) as u64;
    let clients: Vec<_> = (0..2)
        .map(|c| {
            let (replicas, api) = (replicas.clone(), api.clone());
            tokio::spawn(async move {
                let token = Api::admin(&format!("client{c}"));
                let mut seen: Vec<u64> = Vec::new();
                let mut last = Some(0);
                let mut hop = c;
                while (seen.len() as u64) < total {
                    let base = &replicas[hop % 2].base;
                    hop += 1;
                    let mut s = api.connect(base, &token, last).await.expect("stream");
                    s.ready().await;
                    let take = (1 + hop % 23).min(total as usize - seen.len());
                    for n in s.notifications(take).await {
                        seen.push(n.id);
                        last = Some(n.id);
                    }
                }
                (seen, hop)
            })
        })
        .collect();

    for p in publishers {
        p.await.unwrap();
    }
    for c in clients {
        let (seen, hops) = c.await.unwrap();
        assert_eq!(
            seen,
            (1..=total).collect::<Vec<_>>(),
            "every id once, in order, over {hops} resumes"
        );
    }
}

#[tokio::test]
async fn the_per_admin_stream_limit_counts_streams_on_every_replica() {
    let (shared, _db) = shared_backends().await;
    let limit = ["--max-streams-per-user", "2"];
    let a = Replica::start_with(&shared, &limit);
    let b = Replica::start_with(&shared, &limit);
    let api = Api::new();
    let ann = Api::admin("ann");
    let status = |base: String| {
        let (api, ann) = (&api, &ann);
        async move {
            api.http
                .get(format!("{base}/api/admin/events"))
                .bearer_auth(ann)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };

    let mut on_a = api.connect(&a.base, &ann, None).await.unwrap();
    on_a.ready().await;
    let mut on_b = api.connect(&b.base, &ann, None).await.unwrap();
    on_b.ready().await;
    // Once the replicas have shared their counts, a third stream is refused
    // on either of them, though each holds only one.
    belfry_e2e::wait_until("a third stream is refused on A", || {
        status(a.base.clone()).map(|s| s == 429)
    })
    .await;
    assert_eq!(status(b.base.clone()).await, 429);
    // Another admin is not affected.
    let bob = api.connect(&a.base, &Api::admin("bob"), None).await;
    assert!(bob.is_some());

    drop(on_b);
    belfry_e2e::wait_until("a place is free again", || {
        status(a.base.clone()).map(|s| s == 200)
    })
    .await;
    let n = api.publish(&b.base, "still delivered").await.1.unwrap();
    assert_eq!(on_a.notifications(1).await[0].id, n);
}
