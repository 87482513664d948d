//! Sign-in under attack: concurrent guessing, someone else's failures, and
//! the client address behind a real reverse proxy (Debian's nginx).

use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use belfry_e2e::{TestServer, WAIT, error_body};
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

/// A client whose connections come from `ip` (any 127.x.y.z is loopback).
fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(ip))
        .build()
        .unwrap()
}

async fn login_via(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::StatusCode {
    let mut req = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": email, "password": password}));
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.unwrap().status()
}

/// This process's resident memory now and at its peak since the last
/// reset, in bytes (the test server runs in this process).
fn rss_and_peak() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    (kib("VmRSS:") * 1024, kib("VmHWM:") * 1024)
}

#[tokio::test]
async fn two_hundred_concurrent_failing_sign_ins_check_only_the_allowance_and_keep_memory_bounded()
{
    let app = TestServer::spawn().await;
    // One sign-in first, so the password checker's memory exists already.
    assert_eq!(
        app.login("warm@shop.example", "wrong password")
            .await
            .status(),
        401
    );
    // Reset the peak (Linux: "5" to clear_refs), then measure from here.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let (before, _) = rss_and_peak();

    let attempts = (0..200).map(|i| {
        let app = &app;
        async move {
            let email = format!("nobody{i}@shop.example");
            app.login(&email, "guess guess guess").await.status()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let count = |code: u16| statuses.iter().filter(|s| s.as_u16() == code).count();
    // One address may fail 20 times; the warm-up was the first. Exactly
    // 19 are checked: 401, or 503 where a check slot did not come free in
    // time on a loaded machine. Every other attempt is paused unchecked.
    assert_eq!(count(429), 181, "{statuses:?}");
    assert_eq!(count(401) + count(503), 19, "{statuses:?}");

    let (_, peak) = rss_and_peak();
    let grew = peak.saturating_sub(before);
    // Argon2 takes 19 MiB per check; unbounded, 19 at once took ~360 MB
    // and 200 took gigabytes. Bounded to one per core in reused memory.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let allowed = cores * 20 * 1024 * 1024 + 64 * 1024 * 1024;
    eprintln!("peak memory grew by {} KiB during the burst", grew >> 10);
    assert!(
        grew < allowed,
        "peak memory grew by {} MB (allowed {} MB)",
        grew >> 20,
        allowed >> 20
    );
}

#[tokio::test]
async fn failures_by_someone_else_with_an_admins_email_do_not_lock_the_admin_out() {
    let app = TestServer::spawn().await;
    app.create_user("ann@shop.example", PASSWORD, true).await;
    let attacker = client_from([127, 0, 0, 2]);
    for _ in 0..5 {
        let status = login_via(
            &attacker,
            &app.base,
            "ann@shop.example",
            "guess guess guess",
            None,
        )
        .await;
        assert_eq!(status, 401);
    }
    // The attacker's own pair is paused, even with the right password...
    let status = login_via(&attacker, &app.base, "ann@shop.example", PASSWORD, None).await;
    assert_eq!(status, 429);
    // ...and so is a spoofed X-Forwarded-For from a peer that is not a proxy.
    let status = login_via(
        &attacker,
        &app.base,
        "ann@shop.example",
        "guess",
        Some("203.0.113.9"),
    )
    .await;
    assert_eq!(status, 429);
    // Ann, from her own address, signs in.
    let ann = client_from([127, 0, 0, 3]);
    let status = login_via(&ann, &app.base, "ann@shop.example", PASSWORD, None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_email_ceiling_pauses_guessing_from_many_addresses() {
    let app = TestServer::spawn().await;
    app.create_user("ann@shop.example", PASSWORD, true).await;
    // Five failures from each of twenty addresses: the email's ceiling.
    for host in 10..30u8 {
        let from = client_from([127, 0, 1, host]);
        for _ in 0..5 {
            let status = login_via(
                &from,
                &app.base,
                "ann@shop.example",
                "guess guess guess",
                None,
            )
            .await;
            assert_eq!(status, 401, "from 127.0.1.{host}");
        }
    }
    let ann = client_from([127, 0, 0, 3]);
    let status = login_via(&ann, &app.base, "ann@shop.example", PASSWORD, None).await;
    assert_eq!(status, 429, "a hundred failures pause the email everywhere");
}

/// nginx from Debian's package, in front of `upstream`, run from a
/// temporary directory; killed on drop.
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Nginx {
    async fn start(upstream: std::net::SocketAddr) -> Self {
        let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("nginx is installed (scripts/setup.sh installs nginx-light)");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path().display();
        // The proxy lines are the ones docs/operations.md documents.
        let conf = format!(
            "worker_processes 1;
events {{ worker_connections 256; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://{upstream};
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
  }}
}}
"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-p")
            .arg(dir.path())
            .args([
                "-g",
                &format!("daemon off; master_process off; pid {d}/nginx.pid; error_log stderr;"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts");
        let nginx = Nginx {
            child,
            port,
            _dir: dir,
        };
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "nginx did not listen"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        nginx
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

#[tokio::test]
async fn behind_nginx_each_client_is_throttled_by_its_own_address_whatever_it_forwards() {
    let app = TestServer::spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    app.create_user("ann@shop.example", PASSWORD, true).await;
    let nginx = Nginx::start(app.addr).await;
    let base = nginx.base();

    // Twenty failures from twenty addresses, each spoofing a header: with
    // the proxy's address as the key this paused everyone.
    for host in 10..30u8 {
        let from = client_from([127, 0, 2, host]);
        let status = login_via(
            &from,
            &base,
            "ann@shop.example",
            "guess",
            Some("198.51.100.1"),
        )
        .await;
        assert_eq!(status, 401, "from 127.0.2.{host}");
    }
    let ann = client_from([127, 0, 0, 3]);
    assert_eq!(
        login_via(&ann, &base, "ann@shop.example", PASSWORD, None).await,
        200,
        "the admin signs in through the proxy"
    );

    // One client rotating spoofed addresses is still one client: nginx
    // appends the address it saw, and that is the one Belfry keys on.
    let guesser = client_from([127, 0, 0, 9]);
    for n in 0..5 {
        let spoof = format!("203.0.113.{n}");
        let status = login_via(&guesser, &base, "ann@shop.example", "guess", Some(&spoof)).await;
        assert_eq!(status, 401);
    }
    let status = login_via(
        &guesser,
        &base,
        "ann@shop.example",
        PASSWORD,
        Some("203.0.113.99"),
    )
    .await;
    assert_eq!(status, 429);
    let res = client_from([127, 0, 0, 9])
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": "ann@shop.example", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(error_body(res).await["code"], "too_many_requests");
}

#[tokio::test]
async fn a_client_that_hangs_up_during_its_check_is_counted_all_the_same() {
    use tokio::io::AsyncWriteExt as _;
    let app = TestServer::spawn().await;
    // Each attempt is sent whole, given time to start its check, and then
    // closed without waiting for the answer, so the server drops the
    // request in the middle of the check.
    for i in 0..30 {
        let body =
            json!({"email": format!("nobody{i}@shop.example"), "password": "guess guess guess"})
                .to_string();
        let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let request = format!(
            "POST /api/auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            app.addr,
            body.len()
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        tcp.shutdown().await.unwrap();
        drop(tcp);
    }
    // Every check that ran recorded its failure, and no more checks ran
    // than the address's allowance of 20.
    let since = time::OffsetDateTime::now_utc() - time::Duration::minutes(15);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (failures, _) = app
            .state
            .store
            .login_failures("ip:127.0.0.1", since)
            .await
            .unwrap();
        let checks = app.state.passwords.finished();
        assert!(checks <= 20, "{checks} checks ran");
        if checks > 0 && failures == checks {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{checks} checks ran but {failures} failures were recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
