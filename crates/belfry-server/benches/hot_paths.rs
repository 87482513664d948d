//! Micro-benchmarks of the hot paths of a delivery (issue 8): encoding a
//! notification's SSE frame, fanning one message out through the in-memory
//! broker, and appending a batch to the SQLite store (a durable commit).
//!
//! `cargo bench -p belfry-server` (figures in BENCHMARKS.md).

use std::hint::black_box;
use std::sync::Arc;

use belfry_proto::{NewNotification, Notification, Severity};
use belfry_server::broker::{Broker as _, BusMessage, Encoded, MemoryBroker};
use belfry_server::store::{Append, NotificationStore as _, SqliteStore};
use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use time::OffsetDateTime;

fn main() {
    divan::main();
}

/// A typical store event: every optional field set, a small `data` object.
fn sample(id: u64) -> Notification {
    let data = serde_json::json!({"order_id": 1042, "items": 2, "total": "84.00"});
    Notification {
        id,
        kind: "order.created".into(),
        severity: Severity::Info,
        title: "New order #1042".into(),
        body: Some("2 items, €84.00".into()),
        link: Some("https://shop.example/admin/orders/1042".into()),
        data: data.as_object().cloned(),
        created_at: OffsetDateTime::now_utc(),
    }
}

/// Serializing one notification into its `id:`/`event:`/`data:` frame:
/// done once per notification, whatever the number of streams.
#[divan::bench]
fn sse_notification_frame(bencher: Bencher<'_, '_>) {
    let n = sample(123_456);
    let len = belfry_server::sse::notification_frame(&n).len();
    bencher
        .counter(BytesCount::new(len))
        .bench(|| belfry_server::sse::notification_frame(black_box(&n)));
}

/// One notification published to the broker and received by each of `n`
/// subscribers. Receivers are read with `try_recv` on this thread, so this
/// is the channel's cost (one clone of an `Arc` per receiver), not the
/// wake-up of `n` stream tasks, which the load tool measures.
#[divan::bench(args = [1, 100, 1_000, 10_000])]
fn memory_broker_fan_out(bencher: Bencher<'_, '_>, n: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let broker = MemoryBroker::new(1024);
    let mut receivers: Vec<_> = (0..n).map(|_| broker.subscribe()).collect();
    let encoded = Arc::new(Encoded::new(&sample(1)));
    bencher.counter(ItemsCount::new(n)).bench_local(|| {
        runtime
            .block_on(broker.publish(BusMessage::Notification(encoded.clone())))
            .unwrap();
        for rx in &mut receivers {
            black_box(rx.try_recv().unwrap());
        }
    });
}

/// Appending a batch of `n` notifications in one transaction (group
/// commit) to a SQLite store in a temporary directory, with the store's
/// `synchronous = FULL`: the fsync dominates, so the cost per item falls
/// with the batch size.
#[divan::bench(args = [1, 16, 128], sample_count = 100, sample_size = 1)]
fn sqlite_append_batch(bencher: Bencher<'_, '_>, n: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = runtime
        .block_on(SqliteStore::open(&dir.path().join("bench.db")))
        .unwrap();
    let n_ = sample(0);
    let item = Append {
        notification: NewNotification {
            kind: n_.kind,
            severity: None,
            title: n_.title,
            body: n_.body,
            link: n_.link,
            data: n_.data,
        },
        publisher: "bench".into(),
        idempotency: None,
        created_at: OffsetDateTime::now_utc(),
    };
    let since = OffsetDateTime::now_utc() - time::Duration::days(1);
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(|| vec![item.clone(); n])
        .bench_local_values(|batch| runtime.block_on(store.append(batch, since)).unwrap());
}
