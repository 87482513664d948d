//! Open-loop publishing: notification `seq` is due at `start + seq / rate`
//! whatever happened to the ones before it, spread over `publishers`
//! concurrent HTTP connections. A publisher that falls behind sends at once,
//! and the send time recorded is the real one, so lateness shows up in the
//! latency figures instead of being hidden.

use std::ops::Range;
use std::time::{Duration, Instant};

use crate::hist::Histogram;
use crate::stream::{SENT_KEY, SEQ_KEY};
use crate::{Options, now_us, token};

/// What the publishers did.
pub struct Published {
    pub ok: u64,
    pub failed: u64,
    pub elapsed: Duration,
    pub ack: Histogram,
}

/// Publishes sequence numbers `0..opts.events`.
pub async fn publish_all(opts: &Options) -> anyhow::Result<Published> {
    publish_range(opts, 0..opts.events).await
}

/// Publishes the sequence numbers `seqs` at `opts.rate`, the first one at once.
pub async fn publish_range(opts: &Options, seqs: Range<usize>) -> anyhow::Result<Published> {
    let token = token(&opts.secret, "bench-publisher", None, "publish")?;
    let url = format!("http://{}/api/notifications", opts.addr);
    let publishers = opts.publishers.max(1);
    let ack = std::sync::Arc::new(Histogram::default());
    let start = tokio::time::Instant::now();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..publishers {
        // One client per publisher: its own keep-alive connection.
        let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
        let (token, url, ack) = (token.clone(), url.clone(), ack.clone());
        let (seqs, rate) = (seqs.clone(), opts.rate.max(0.001));
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u64, 0u64);
            for seq in seqs.clone().skip(p).step_by(publishers) {
                let due = start + Duration::from_secs_f64((seq - seqs.start) as f64 / rate);
                tokio::time::sleep_until(due).await;
                let sent = now_us();
                let body = serde_json::json!({
                    "kind": "bench.tick",
                    "title": "bench",
                    "data": { SEQ_KEY: seq, SENT_KEY: sent },
                });
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await;
                let created = match response {
                    // Reading the body hands the connection back for reuse.
                    Ok(r) => r.status().as_u16() == 201 && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if created {
                    ack.record(now_us().saturating_sub(sent));
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            (ok, failed)
        }));
    }
    let (mut ok, mut failed) = (0, 0);
    for t in tasks {
        let (o, f) = t.await?;
        ok += o;
        failed += f;
    }
    let elapsed = started.elapsed();
    let ack = std::sync::Arc::try_unwrap(ack).unwrap_or_default();
    Ok(Published {
        ok,
        failed,
        elapsed,
        ack,
    })
}
