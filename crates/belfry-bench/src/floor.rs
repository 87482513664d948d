//! The floor: what the kernel alone charges for one delivery on this
//! machine, with no Belfry code in the loop.
//!
//! One thread writes the same frame (the size of a typical notification
//! frame) to each of `clients` loopback TCP connections at `rate` rounds a
//! second, as a server fans a notification out; the other end reads them as
//! subscribers would. The writer thread's own CPU (user and system, from
//! `/proc/thread-self/stat`) divided by the writes is the least any server
//! could spend per delivery here. On loopback the sender's system time
//! includes the receiving side's TCP processing, which a real network card
//! would take off the server's cores.

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

/// A notification frame as the server writes it, chunk framing included.
const FRAME_LEN: usize = 330;

#[derive(Debug, Serialize)]
pub struct FloorReport {
    pub clients: usize,
    pub rounds: usize,
    pub rate: f64,
    pub frame_bytes: usize,
    pub writes: u64,
    /// Writer thread CPU per write.
    pub user_us_per_write: f64,
    pub system_us_per_write: f64,
    /// Time to write one round to every connection, median and worst.
    pub round_p50_ms: f64,
    pub round_max_ms: f64,
}

impl FloorReport {
    pub fn table(&self) -> String {
        let rows = [
            (
                "connections",
                format!("{} (loopback TCP, TCP_NODELAY)", self.clients),
            ),
            (
                "writes",
                format!(
                    "{} of {} B ({} rounds at {}/s)",
                    self.writes, self.frame_bytes, self.rounds, self.rate
                ),
            ),
            (
                "writer CPU / write",
                format!(
                    "{:.2} µs ({:.2} µs system + {:.2} µs user)",
                    self.user_us_per_write + self.system_us_per_write,
                    self.system_us_per_write,
                    self.user_us_per_write
                ),
            ),
            (
                "one round to all",
                format!(
                    "p50 {:.2} ms  max {:.2} ms",
                    self.round_p50_ms, self.round_max_ms
                ),
            ),
        ];
        crate::table(&rows, None)
    }
}

/// (user, system) CPU of the calling thread, in microseconds.
fn thread_cpu_us() -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat")?;
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(") ").context("odd stat line")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let ticks = |i: usize| -> anyhow::Result<u64> {
        Ok(fields.get(i).context("short stat line")?.parse::<u64>()? * 10_000)
    };
    Ok((ticks(11)?, ticks(12)?))
}

/// Runs the floor measurement (blocking; a few seconds).
pub fn measure(clients: usize, rate: f64, rounds: usize) -> anyhow::Result<FloorReport> {
    anyhow::ensure!(
        clients > 0 && rounds > 0 && rate > 0.0,
        "nothing to measure"
    );
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;

    // The subscribers: one thread reading every connection as it becomes
    // readable, until everything has arrived.
    let readers = std::thread::spawn(move || -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        runtime.block_on(async move {
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..clients {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                tasks.spawn(async move {
                    use tokio::io::AsyncReadExt as _;
                    let mut tcp = tcp;
                    let mut buf = vec![0u8; 4096];
                    let mut left = rounds * FRAME_LEN;
                    while left > 0 {
                        let n = tcp.read(&mut buf).await?;
                        anyhow::ensure!(n > 0, "closed early");
                        left = left.saturating_sub(n);
                    }
                    Ok(())
                });
            }
            while let Some(done) = tasks.join_next().await {
                done??;
            }
            anyhow::Ok(())
        })
    });

    let mut conns: Vec<TcpStream> = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (tcp, _) = listener.accept()?;
        tcp.set_nodelay(true)?;
        conns.push(tcp);
    }
    let frame = vec![b'x'; FRAME_LEN];
    let every = Duration::from_secs_f64(1.0 / rate);
    let mut round_ms = Vec::with_capacity(rounds);
    let (u0, s0) = thread_cpu_us()?;
    let start = Instant::now();
    for r in 0..rounds {
        let began = Instant::now();
        for tcp in &mut conns {
            tcp.write_all(&frame)?;
        }
        round_ms.push(began.elapsed().as_secs_f64() * 1000.0);
        let next = start + every * (r as u32 + 1);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let (u1, s1) = thread_cpu_us()?;
    readers
        .join()
        .map_err(|_| anyhow::anyhow!("reader thread panicked"))??;

    let writes = (clients * rounds) as u64;
    round_ms.sort_by(f64::total_cmp);
    Ok(FloorReport {
        clients,
        rounds,
        rate,
        frame_bytes: FRAME_LEN,
        writes,
        user_us_per_write: (u1 - u0) as f64 / writes as f64,
        system_us_per_write: (s1 - s0) as f64 / writes as f64,
        round_p50_ms: round_ms[round_ms.len() / 2],
        round_max_ms: *round_ms.last().expect("at least one round"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_floor_run_delivers_every_byte_and_reports_per_write() {
        // `measure` returns only once the readers got every byte.
        let r = super::measure(20, 200.0, 50).unwrap();
        assert_eq!(r.writes, 1000);
        assert!(r.round_max_ms >= r.round_p50_ms);
        assert!(r.user_us_per_write >= 0.0 && r.system_us_per_write >= 0.0);
    }
}
