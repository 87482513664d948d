//! Prometheus metrics, all prefixed `belfry_`, served at `GET /metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Every metric the server keeps. Cheap to update from any task.
pub struct Metrics {
    registry: Registry,
    pub connected_streams: Gauge,
    pub notifications_published: Counter,
    pub idempotent_replays: Counter,
    pub deliveries: Counter,
    pub subscribers_fell_behind: Counter,
    pub auth_failures: Counter,
    pub publish_duration: Histogram,
    pub open_connections: Gauge,
    /// Streams closed by the server while their socket took no bytes, by
    /// reason: `write_timeout`, `token_expired`, `revoked`, `shutdown`.
    pub streams_dropped: Family<[(&'static str, &'static str); 1], Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("belfry");
        let connected_streams = Gauge::default();
        registry.register(
            "connected_streams",
            "Open admin event streams",
            connected_streams.clone(),
        );
        let notifications_published = Counter::default();
        registry.register(
            "notifications_published",
            "Notifications committed to the store",
            notifications_published.clone(),
        );
        let idempotent_replays = Counter::default();
        registry.register(
            "idempotent_replays",
            "Publishes answered with an earlier notification because of their Idempotency-Key",
            idempotent_replays.clone(),
        );
        let deliveries = Counter::default();
        registry.register(
            "deliveries",
            "Notification frames written to admin streams",
            deliveries.clone(),
        );
        let subscribers_fell_behind = Counter::default();
        registry.register(
            "subscribers_fell_behind",
            "Times a stream fell behind live fan-out and caught up from the store",
            subscribers_fell_behind.clone(),
        );
        let auth_failures = Counter::default();
        registry.register(
            "auth_failures",
            "Requests refused for a missing or invalid token",
            auth_failures.clone(),
        );
        // 0.5 ms .. ~1 s: a publish is one group commit plus a broadcast.
        let publish_duration = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(0.0005, 2.0, 12),
        );
        registry.register(
            "publish_duration_seconds",
            "Time from a publish request being accepted to its commit and broadcast",
            publish_duration.clone(),
        );
        let open_connections = Gauge::default();
        registry.register(
            "open_connections",
            "Open connections on the main listener (streams and requests)",
            open_connections.clone(),
        );
        let streams_dropped = Family::default();
        registry.register(
            "streams_dropped",
            "Streams closed while their client was not reading, by reason",
            streams_dropped.clone(),
        );
        Self {
            registry,
            open_connections,
            streams_dropped,
            connected_streams,
            notifications_published,
            idempotent_replays,
            deliveries,
            subscribers_fell_behind,
            auth_failures,
            publish_duration,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
