//! CI smoke runs against a real server on an ephemeral port: 200 streams
//! and 20 notifications, and a reconnect storm of 50 streams across a
//! restart of the `belfry-server` process. They fail on any loss or
//! duplicate, never on timing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use belfry_bench::spawn::SpawnedServer;
use belfry_bench::storm::{StormOptions, run_storm};
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

/// The `belfry-server` binary cargo built next to this test (CI builds it
/// before the tests; `CARGO_BIN_EXE_*` exists only for a package's own).
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = dir.join("belfry-server");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p belfry-server` first",
        bin.display()
    );
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_streams_resume_across_a_server_restart_without_loss_or_duplicates() {
    let mut server = SpawnedServer::start(&server_binary(), SECRET, 200).unwrap();
    let mut opts = Options::new(server.addr(), SECRET);
    opts.clients = 50;
    opts.events = 10;
    opts.rate = 50.0;
    opts.publishers = 2;
    // Generous: a slow CI machine must not turn into a loss.
    opts.drain_timeout = Duration::from_secs(60);
    let storm = StormOptions {
        timeout: Duration::from_secs(120),
        ..StormOptions::default()
    };
    let report = run_storm(&opts, &storm, &mut server).await.unwrap();
    drop(server);

    let table = report.table();
    assert_eq!(report.connected, 50, "{table}");
    assert!(report.first_batch_everywhere, "{table}");
    assert_eq!(
        report.published_before + report.published_during,
        20,
        "{table}"
    );
    assert_eq!(report.streams_dropped, 50, "{table}");
    assert_eq!(report.streams_live_again, 50, "{table}");
    assert_eq!(report.lost, 0, "{table}");
    assert_eq!(report.duplicates, 0, "{table}");
    assert_eq!(report.deliveries, 50 * 20, "{table}");
}
