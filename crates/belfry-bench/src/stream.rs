//! One subscriber: a raw TCP connection with a hand-written HTTP/1.1 GET, a
//! chunked-transfer decoder and an SSE line scanner. No HTTP client per
//! stream, so the tool itself can hold ten thousand of them on two cores.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use rand::SeedableRng as _;
use rand::rngs::StdRng;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::hist::Histogram;
use crate::now_us;

/// Key of the sequence number the publisher puts in `data`.
pub const SEQ_KEY: &str = "bench_seq";
/// Key of the publisher's send time (µs since the Unix epoch) in `data`.
pub const SENT_KEY: &str = "bench_sent_us";

/// Read buffer per stream: a notification frame is a few hundred bytes.
const READ_BUF: usize = 2048;

/// How long a reconnect may take from TCP connect to `event: ready` before
/// it is abandoned and retried.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Counters shared by every stream of a run.
#[derive(Default)]
pub struct Shared {
    pub ready: AtomicUsize,
    pub failed: AtomicUsize,
    pub changed: Notify,
    /// Delivery latency (of the first batch, when there are two).
    pub latency: Histogram,
    /// Delivery latency of the second batch (published during a storm).
    pub latency_second: Histogram,
    pub connect: Histogram,
    /// Streams that have every sequence number of the first batch.
    pub first_batch_done: AtomicUsize,
    /// Streams that have every sequence number.
    pub complete: AtomicUsize,
    /// Streams whose ready connection ended.
    pub dropped: AtomicUsize,
    /// Dropped streams that got `event: ready` again.
    pub resumed: AtomicUsize,
    /// Connects after a drop, and those that failed before `event: ready`.
    pub reconnect_attempts: AtomicU64,
    pub reconnect_failed: AtomicU64,
    /// `event: reset` frames received (the server could not resume).
    pub resets: AtomicU64,
    /// When the server was restarted (µs since the epoch, 0 before).
    pub restarted_at_us: AtomicU64,
    /// Per stream: restart → `event: ready` again.
    pub resume: Histogram,
}

/// What one stream saw.
#[derive(Debug, Default)]
pub struct Outcome {
    pub connected: bool,
    /// Times each sequence number arrived (index = seq).
    pub counts: Vec<u8>,
    pub error: Option<String>,
}

/// Decodes `Transfer-Encoding: chunked` incrementally.
#[derive(Debug, Default)]
struct Chunked {
    size_line: Vec<u8>,
    /// Payload bytes left in the current chunk.
    left: usize,
    /// CRLF bytes left to skip after a chunk's payload.
    skip: usize,
    done: bool,
}

impl Chunked {
    fn feed(&mut self, mut input: &[u8], out: &mut impl FnMut(&[u8])) {
        while !input.is_empty() && !self.done {
            if self.skip > 0 {
                let n = self.skip.min(input.len());
                self.skip -= n;
                input = &input[n..];
            } else if self.left > 0 {
                let n = self.left.min(input.len());
                out(&input[..n]);
                self.left -= n;
                input = &input[n..];
                if self.left == 0 {
                    self.skip = 2;
                }
            } else {
                match input.iter().position(|&b| b == b'\n') {
                    None => {
                        self.size_line.extend_from_slice(input);
                        input = &[];
                    }
                    Some(i) => {
                        self.size_line.extend_from_slice(&input[..i]);
                        input = &input[i + 1..];
                        let line = String::from_utf8_lossy(&self.size_line);
                        let hex = line.split([';', '\r']).next().unwrap_or("").trim();
                        let size = usize::from_str_radix(hex, 16).unwrap_or(0);
                        self.size_line.clear();
                        if size == 0 {
                            self.done = true;
                        } else {
                            self.left = size;
                        }
                    }
                }
            }
        }
    }
}

/// Splits a byte stream into lines (without the `\n`).
#[derive(Debug, Default)]
struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    fn feed(&mut self, mut input: &[u8], on_line: &mut impl FnMut(&[u8])) {
        while let Some(i) = input.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                on_line(&input[..i]);
            } else {
                self.partial.extend_from_slice(&input[..i]);
                on_line(&self.partial);
                self.partial.clear();
            }
            input = &input[i + 1..];
        }
        self.partial.extend_from_slice(input);
    }
}

/// The unsigned integer right after `"key":` in `line` (`needle` is
/// `"key":`, built once per run rather than per line).
fn field(line: &[u8], needle: &memchr::memmem::Finder<'_>) -> Option<u64> {
    let at = needle.find(line)?;
    let digits = &line[at + needle.needle().len()..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

/// Finders for the two keys the publisher puts in `data`.
struct Keys {
    seq: memchr::memmem::Finder<'static>,
    sent: memchr::memmem::Finder<'static>,
}

impl Keys {
    fn new() -> Self {
        let finder =
            |key: &str| memchr::memmem::Finder::new(format!("\"{key}\":").as_bytes()).into_owned();
        Self {
            seq: finder(SEQ_KEY),
            sent: finder(SENT_KEY),
        }
    }
}

/// Reconnect delays like the real client's: exponential backoff with full
/// jitter, so clients that lost the same server do not come back in step.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Ceiling of the first retry.
    pub base: Duration,
    /// Largest ceiling; it doubles per failed attempt up to this.
    pub cap: Duration,
}

impl Backoff {
    /// The client's schedule: uniform in `[0, min(cap, base · 2^attempt)]`
    /// ([`belfry_proto::backoff`]).
    fn delay(&self, attempt: u32, rng: &mut StdRng) -> Duration {
        belfry_proto::backoff::delay(attempt, self.base, 2, self.cap, rng)
    }
}

/// A connect that got an answer other than the stream, with the server's
/// `Retry-After` if it sent one.
#[derive(Debug)]
pub struct Refused {
    pub status: String,
    pub retry_after: Option<Duration>,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.status)
    }
}

impl std::error::Error for Refused {}

/// `Retry-After` in delta-seconds from a lowercased response head.
fn retry_after(head: &str) -> Option<Duration> {
    head.lines()
        .find_map(|l| l.strip_prefix("retry-after:"))
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_secs)
}

/// What a stream carries from one connection to the next.
#[derive(Debug, Default)]
struct Progress {
    /// Distinct sequence numbers received.
    unique: usize,
    /// The id of the last event dispatched: sent as `Last-Event-ID`.
    last_id: Option<u64>,
    /// The current connection got its `event: ready`.
    live: bool,
    /// The stream lost a connection that had been ready.
    dropped: bool,
    /// Ready again after the drop.
    resumed: bool,
    /// Fields of the event being read; applied at its blank line, as an
    /// `EventSource` does, so a connection cut mid-event neither moves the
    /// resume point nor counts a delivery the server will send again.
    pending_id: Option<u64>,
    pending_data: Option<(u64, u64)>,
}

/// Parameters of one subscriber.
pub struct Subscriber {
    pub addr: SocketAddr,
    pub token: String,
    /// Sequence numbers `0..events` are expected (all batches together).
    pub events: usize,
    /// With a second batch: the size of the first one, whose completion is
    /// counted in [`Shared::first_batch_done`] (0 for a single batch).
    pub first_batch: usize,
    pub shared: Arc<Shared>,
    pub connect_gate: Arc<Semaphore>,
    pub stop: CancellationToken,
    /// Reconnect with `Last-Event-ID` when a stream that was ready ends;
    /// `None` makes the end of the stream a failure.
    pub reconnect: Option<Backoff>,
    /// Seed of this stream's jitter.
    pub seed: u64,
}

impl Subscriber {
    /// Streams until every event arrived, the stream fails, or `stop`.
    pub async fn run(self) -> Outcome {
        let mut outcome = Outcome {
            counts: vec![0; self.events],
            ..Outcome::default()
        };
        let result = tokio::select! {
            r = self.stream(&mut outcome) => r,
            () = self.stop.cancelled() => Ok(()),
        };
        if let Err(e) = result {
            outcome.error = Some(e.to_string());
        }
        if !outcome.connected {
            self.shared.failed.fetch_add(1, Ordering::Relaxed);
            self.shared.changed.notify_waiters();
        }
        outcome
    }

    /// One connection, then, with `reconnect`, as many more as it takes.
    async fn stream(&self, outcome: &mut Outcome) -> anyhow::Result<()> {
        let mut progress = Progress::default();
        let Some(backoff) = self.reconnect else {
            return self.connection(outcome, &mut progress).await;
        };
        let shared = &*self.shared;
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut attempt = 0;
        loop {
            let Err(e) = self.connection(outcome, &mut progress).await else {
                // Errors on the way are in the counters; this stream is fine.
                outcome.error = None;
                return Ok(());
            };
            // Failing to connect the first time is a failed stream, as
            // without `reconnect`; only a stream that was live comes back.
            if !outcome.connected {
                return Err(e);
            }
            if progress.live {
                // That connection worked: this is a new incident.
                attempt = 0;
                progress.live = false;
                if !progress.dropped {
                    progress.dropped = true;
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                    shared.changed.notify_waiters();
                }
            } else {
                shared.reconnect_failed.fetch_add(1, Ordering::Relaxed);
            }
            outcome.error = Some(e.to_string());
            let asked = e.downcast_ref::<Refused>().and_then(|r| r.retry_after);
            let delay = backoff.delay(attempt, &mut rng);
            attempt = attempt.saturating_add(1);
            tokio::time::sleep(asked.map_or(delay, |a| delay.max(a))).await;
            shared.reconnect_attempts.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn connection(&self, outcome: &mut Outcome, p: &mut Progress) -> anyhow::Result<()> {
        // Held until the first stream is ready: caps simultaneous connects.
        // Reconnects take none: real clients do not coordinate, and the
        // storm is what is measured.
        let permit = if outcome.connected {
            None
        } else {
            Some(self.connect_gate.clone().acquire_owned().await?)
        };
        // A reconnect that hangs (a listener that stopped accepting) is
        // abandoned and retried, as the real client's watchdog would.
        let handshake_deadline = outcome
            .connected
            .then(|| tokio::time::Instant::now() + HANDSHAKE_TIMEOUT);
        let started = now_us();
        let mut tcp = match handshake_deadline {
            Some(d) => tokio::time::timeout_at(d, TcpStream::connect(self.addr))
                .await
                .map_err(|_| anyhow::anyhow!("connect timed out"))??,
            None => TcpStream::connect(self.addr).await?,
        };
        tcp.set_nodelay(true)?;
        let mut request = format!(
            "GET /api/admin/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n",
            self.addr, self.token
        );
        if let Some(id) = p.last_id {
            request.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        request.push_str("\r\n");
        tcp.write_all(request.as_bytes()).await?;

        let mut buf = vec![0u8; READ_BUF];
        let keys = Keys::new();
        let mut head = Vec::new();
        let mut chunked = Chunked::default();
        let mut lines = Lines::default();
        let mut permit = permit;
        let mut body_started = false;
        p.pending_id = None;
        p.pending_data = None;
        loop {
            let n = match handshake_deadline.filter(|_| !p.live) {
                Some(d) => tokio::time::timeout_at(d, tcp.read(&mut buf))
                    .await
                    .map_err(|_| anyhow::anyhow!("no event: ready in time"))??,
                None => tcp.read(&mut buf).await?,
            };
            if n == 0 {
                anyhow::bail!("server closed the stream");
            }
            let mut data = &buf[..n];
            if !body_started {
                head.extend_from_slice(data);
                let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
                if !text.starts_with("http/1.1 200") {
                    return Err(Refused {
                        status: text.lines().next().unwrap_or_default().to_owned(),
                        retry_after: retry_after(&text),
                    }
                    .into());
                }
                if !text.contains("transfer-encoding: chunked") {
                    anyhow::bail!("expected a chunked response");
                }
                body_started = true;
                let rest = head.split_off(end + 4);
                head = rest;
                data = &head;
            }
            let (events, first_batch) = (self.events, self.first_batch);
            let shared = &*self.shared;
            let mut on_line = |line: &[u8]| {
                if line.is_empty() {
                    // The blank line dispatches the event.
                    if let Some(id) = p.pending_id.take() {
                        p.last_id = Some(id);
                    }
                    let Some((seq, sent)) = p.pending_data.take() else {
                        return;
                    };
                    let Some(count) = outcome.counts.get_mut(seq as usize) else {
                        return;
                    };
                    if *count == 0 {
                        let latency = now_us().saturating_sub(sent);
                        if first_batch > 0 && seq as usize >= first_batch {
                            shared.latency_second.record(latency);
                        } else {
                            shared.latency.record(latency);
                        }
                        p.unique += 1;
                        if first_batch > 0 && p.unique == first_batch {
                            shared.first_batch_done.fetch_add(1, Ordering::Relaxed);
                            shared.changed.notify_waiters();
                        }
                    }
                    *count = count.saturating_add(1);
                } else if !p.live && line.starts_with(b"event: ready") {
                    p.live = true;
                    if !outcome.connected {
                        outcome.connected = true;
                        shared.connect.record(now_us().saturating_sub(started));
                        shared.ready.fetch_add(1, Ordering::Relaxed);
                    } else if p.dropped && !p.resumed {
                        p.resumed = true;
                        let restarted = shared.restarted_at_us.load(Ordering::Relaxed);
                        if restarted > 0 {
                            shared.resume.record(now_us().saturating_sub(restarted));
                        }
                        shared.resumed.fetch_add(1, Ordering::Relaxed);
                    }
                    shared.changed.notify_waiters();
                } else if let Some(id) = line.strip_prefix(b"id: ") {
                    p.pending_id = std::str::from_utf8(id).ok().and_then(|s| s.parse().ok());
                } else if line.starts_with(b"event: reset") {
                    shared.resets.fetch_add(1, Ordering::Relaxed);
                } else if line.starts_with(b"data: ")
                    && let (Some(seq), Some(sent)) =
                        (field(line, &keys.seq), field(line, &keys.sent))
                {
                    p.pending_data = Some((seq, sent));
                }
            };
            chunked.feed(data, &mut |payload| lines.feed(payload, &mut on_line));
            head.clear();
            if outcome.connected {
                permit.take();
            }
            // With no events to wait for, an idle stream stays open until `stop`.
            if p.live && events > 0 && p.unique >= events {
                shared.complete.fetch_add(1, Ordering::Relaxed);
                shared.changed.notify_waiters();
                return Ok(());
            }
            if chunked.done {
                anyhow::bail!("server ended the stream");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_boundaries_anywhere_yield_the_same_lines() {
        let wire = b"5\r\nab\ncd\r\n3\r\n\nef\r\n2\r\n\n\n\r\n0\r\n\r\n";
        for split in 0..wire.len() {
            let mut c = Chunked::default();
            let mut l = Lines::default();
            let mut got = Vec::new();
            for part in [&wire[..split], &wire[split..]] {
                c.feed(part, &mut |p| {
                    l.feed(p, &mut |line| got.push(line.to_vec()))
                });
            }
            assert_eq!(
                got,
                vec![b"ab".to_vec(), b"cd".to_vec(), b"ef".to_vec(), b"".to_vec()]
            );
            assert!(c.done);
        }
    }

    #[test]
    fn backoff_delays_spread_under_a_ceiling_that_doubles_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
        };
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 0..10 {
            let top = (100u64 << attempt).min(5000);
            let delays: Vec<u64> = (0..500)
                .map(|_| b.delay(attempt, &mut rng).as_millis() as u64)
                .collect();
            assert!(delays.iter().all(|&d| d <= top), "attempt {attempt}");
            // Full jitter: both ends of the range are used.
            assert!(delays.iter().any(|&d| d < top / 4), "attempt {attempt}");
            assert!(delays.iter().any(|&d| d > top * 3 / 4), "attempt {attempt}");
        }
    }

    #[test]
    fn retry_after_is_read_in_seconds_from_a_response_head() {
        let head = "http/1.1 429 too many requests\r\nretry-after: 30\r\ncontent-length: 0";
        assert_eq!(retry_after(head), Some(Duration::from_secs(30)));
        assert_eq!(retry_after("http/1.1 503 service unavailable"), None);
    }

    #[test]
    fn fields_are_read_from_a_data_line() {
        let line = br#"data: {"id":7,"data":{"bench_sent_us":1700000000000000,"bench_seq":12},"title":"x"}"#;
        let keys = Keys::new();
        assert_eq!(field(line, &keys.seq), Some(12));
        assert_eq!(field(line, &keys.sent), Some(1_700_000_000_000_000));
        let missing = memchr::memmem::Finder::new(b"\"missing\":");
        assert_eq!(field(line, &missing), None);
    }
}
