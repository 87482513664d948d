//! What the tool reads from Linux `/proc`: a process's proportional set size
//! and CPU time, and the kernel's listen-queue overflow counters.

/// `Pss:` of `/proc/PID/smaps_rollup`, in KiB.
pub fn pss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Clock ticks per second of `/proc/PID/stat` (`USER_HZ`); 100 on every
/// Linux architecture this runs on.
const TICKS_PER_SEC: u64 = 100;

/// utime + stime of `/proc/PID/stat` (or `self`), in microseconds.
pub fn cpu_us(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces; fields restart after its `)`.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 14 (utime) and 15 (stime) of the full line are 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 1_000_000 / TICKS_PER_SEC)
}

/// `TcpExt: ListenOverflows` + `ListenDrops` from `/proc/net/netstat`:
/// a SYN or an accept-queue entry the kernel threw away (and the client
/// will retry after a second).
pub fn listen_drops() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines();
    while let Some(header) = lines.next() {
        let values = lines.next()?;
        if !header.starts_with("TcpExt:") {
            continue;
        }
        let mut total = 0;
        for (name, value) in header.split_whitespace().zip(values.split_whitespace()) {
            if name == "ListenOverflows" || name == "ListenDrops" {
                total += value.parse::<u64>().ok()?;
            }
        }
        return Some(total);
    }
    None
}
