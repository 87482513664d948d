//! One subscriber: a raw TCP connection with a hand-written HTTP/1.1 GET, a
//! chunked-transfer decoder and an SSE line scanner. No HTTP client per
//! stream, so the tool itself can hold ten thousand of them on two cores.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// Counters shared by every stream of a run.
#[derive(Default)]
pub struct Shared {
    pub ready: AtomicUsize,
    pub failed: AtomicUsize,
    pub changed: Notify,
    pub latency: Histogram,
    pub connect: Histogram,
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

/// The unsigned integer right after `"key":` in `line`.
fn field(line: &[u8], key: &str) -> Option<u64> {
    let needle = format!("\"{key}\":");
    let at = line
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())?;
    let digits = &line[at + needle.len()..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

/// Parameters of one subscriber.
pub struct Subscriber {
    pub addr: SocketAddr,
    pub token: String,
    pub events: usize,
    pub shared: Arc<Shared>,
    pub connect_gate: Arc<Semaphore>,
    pub stop: CancellationToken,
}

impl Subscriber {
    /// Streams until every event arrived, the stream ends, or `stop`.
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

    async fn stream(&self, outcome: &mut Outcome) -> anyhow::Result<()> {
        // Held until the stream is ready: caps simultaneous connects.
        let permit = self.connect_gate.clone().acquire_owned().await?;
        let started = now_us();
        let mut tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        let request = format!(
            "GET /api/admin/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
            self.addr, self.token
        );
        tcp.write_all(request.as_bytes()).await?;

        let mut buf = vec![0u8; READ_BUF];
        let mut head = Vec::new();
        let mut chunked = Chunked::default();
        let mut lines = Lines::default();
        let mut permit = Some(permit);
        let mut unique = 0;
        let mut body_started = false;
        loop {
            let n = tcp.read(&mut buf).await?;
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
                    anyhow::bail!("{}", text.lines().next().unwrap_or_default());
                }
                if !text.contains("transfer-encoding: chunked") {
                    anyhow::bail!("expected a chunked response");
                }
                body_started = true;
                let rest = head.split_off(end + 4);
                head = rest;
                data = &head;
            }
            let events = self.events;
            let shared = &*self.shared;
            let mut on_line = |line: &[u8]| {
                if !outcome.connected && line.starts_with(b"event: ready") {
                    outcome.connected = true;
                    shared.connect.record(now_us().saturating_sub(started));
                    shared.ready.fetch_add(1, Ordering::Relaxed);
                    shared.changed.notify_waiters();
                } else if line.starts_with(b"data: ")
                    && let (Some(seq), Some(sent)) = (field(line, SEQ_KEY), field(line, SENT_KEY))
                {
                    let Some(count) = outcome.counts.get_mut(seq as usize) else {
                        return;
                    };
                    if *count == 0 {
                        shared.latency.record(now_us().saturating_sub(sent));
                        unique += 1;
                    }
                    *count = count.saturating_add(1);
                }
            };
            chunked.feed(data, &mut |payload| lines.feed(payload, &mut on_line));
            head.clear();
            if outcome.connected {
                permit.take();
            }
            // With no events to wait for, an idle stream stays open until `stop`.
            if outcome.connected && events > 0 && unique >= events {
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
    fn fields_are_read_from_a_data_line() {
        let line = br#"data: {"id":7,"data":{"bench_sent_us":1700000000000000,"bench_seq":12},"title":"x"}"#;
        assert_eq!(field(line, SEQ_KEY), Some(12));
        assert_eq!(field(line, SENT_KEY), Some(1_700_000_000_000_000));
        assert_eq!(field(line, "missing"), None);
    }
}
