//! CI smoke run: 200 streams and 20 notifications against a real server on
//! an ephemeral port. Fails on any loss or duplicate, never on timing.

use std::time::Duration;

use belfry_bench::{Options, run};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "smoke-test-secret-of-enough-length";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_streams_receive_twenty_notifications_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = belfry_server::Config::new(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.jwt.secret = Some(SECRET.to_owned().into());
    let shutdown = CancellationToken::new();
    let server = belfry_server::Server::build(config, shutdown.clone())
        .await
        .unwrap();
    let addr = server.local_addr();
    let serving = tokio::spawn(server.run());

    let mut opts = Options::new(addr, SECRET);
    opts.clients = 200;
    opts.events = 20;
    opts.rate = 50.0;
    opts.publishers = 2;
    opts.settle = Duration::ZERO;
    // Generous: a slow CI machine must not turn into a loss.
    opts.drain_timeout = Duration::from_secs(60);
    let report = run(&opts).await.unwrap();

    shutdown.cancel();
    let _ = serving.await;
    assert_eq!(report.connected, 200, "{}", report.table());
    assert_eq!(report.published, 20, "{}", report.table());
    assert_eq!(report.lost, 0, "{}", report.table());
    assert_eq!(report.duplicates, 0, "{}", report.table());
    assert_eq!(report.deliveries, 200 * 20, "{}", report.table());
}
