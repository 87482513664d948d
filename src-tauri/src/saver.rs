//! Writing the settings file coalesced and off the async runtime. The core
//! asks for a save on every live notification (the resume position), which
//! can be many a second during an incident; rewriting the file each time,
//! under the state lock, would put disk I/O on the stream's path. Instead
//! [`Saver::save`] only records the newest value, and one task writes what
//! is pending at most once per [`SAVE_EVERY`], on a blocking thread.
//! [`Saver::flush`] writes what is left at once (at quit).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

/// One second: the resume position is at most a second stale after a
/// crash (the stream then replays that second), and a burst of
/// notifications costs one write instead of one each.
pub const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Saves values of `T` with [`SAVE_EVERY`]-style coalescing.
pub struct Saver<T> {
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    /// The newest value not written yet (`None` once written). A `watch`
    /// so the task wakes when there is something to write.
    pending: watch::Sender<Option<T>>,
    /// Held from taking the pending value until it is on disk, so of two
    /// writers (the task and a flush) the later one writes the newer value.
    writing: Mutex<()>,
    write: Box<dyn Fn(T) + Send + Sync>,
}

impl<T: Send + Sync + 'static> Shared<T> {
    /// Writes the pending value, if any (blocking).
    fn write_pending(&self) {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let mut taken = None;
        // Taking the value is no news for the task: do not wake it.
        self.pending.send_if_modified(|v| {
            taken = v.take();
            false
        });
        if let Some(value) = taken {
            (self.write)(value);
        }
    }
}

impl<T: Send + Sync + 'static> Saver<T> {
    /// A saver calling `write` (blocking I/O is fine there), and the task
    /// for the caller to spawn, which writes at most once per `every`.
    pub fn new(
        every: Duration,
        write: impl Fn(T) + Send + Sync + 'static,
    ) -> (Self, impl Future<Output = ()> + Send + 'static) {
        let shared = Arc::new(Shared {
            pending: watch::Sender::new(None),
            writing: Mutex::new(()),
            write: Box::new(write),
        });
        let task = run(shared.clone(), shared.pending.subscribe(), every);
        (Self { shared }, task)
    }

    /// Records `value` to be written within `every`; replaces any value not
    /// written yet. Never blocks.
    pub fn save(&self, value: T) {
        self.shared.pending.send_replace(Some(value));
    }

    /// Writes the pending value now, if there is one (blocking; at quit).
    pub fn flush(&self) {
        self.shared.write_pending();
    }
}

/// Waits for a value, lets `every` pass so the saves in between coalesce,
/// then writes the newest. Lives as long as the [`Saver`]'s shared state.
async fn run<T: Send + Sync + 'static>(
    shared: Arc<Shared<T>>,
    mut changed: watch::Receiver<Option<T>>,
    every: Duration,
) {
    while changed.changed().await.is_ok() {
        tokio::time::sleep(every).await;
        // Saves up to here are in this write; later ones wake the next round.
        changed.mark_unchanged();
        let s = shared.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || s.write_pending()).await {
            tracing::warn!(error = %e, "the settings writer failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::time::{Instant, advance, sleep};

    /// What was written, and when (since the test began).
    type Written = Arc<Mutex<Vec<(u32, Duration)>>>;

    /// A saver recording what it writes and when (on the paused clock).
    fn recording() -> (Saver<u32>, Written) {
        let start = Instant::now();
        let written = Arc::new(Mutex::new(Vec::new()));
        let log = written.clone();
        let (saver, task) = Saver::new(SAVE_EVERY, move |v| {
            log.lock().unwrap().push((v, start.elapsed()));
        });
        tokio::spawn(task);
        (saver, written)
    }

    fn values(written: &Mutex<Vec<(u32, Duration)>>) -> Vec<u32> {
        written.lock().unwrap().iter().map(|(v, _)| *v).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_hundred_saves_within_a_second_write_once_the_last_value() {
        let (saver, written) = recording();
        for i in 1..=100 {
            saver.save(i);
            sleep(Duration::from_millis(5)).await;
        }
        sleep(2 * SAVE_EVERY).await;
        assert_eq!(values(&written), [100]);
        assert!(written.lock().unwrap()[0].1 <= SAVE_EVERY + Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_save_after_quiet_is_written_within_a_second() {
        let (saver, written) = recording();
        sleep(Duration::from_secs(60)).await;
        saver.save(7);
        sleep(SAVE_EVERY + Duration::from_millis(10)).await;
        let w = written.lock().unwrap().clone();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].0, 7);
        assert!(w[0].1 <= Duration::from_secs(61) + Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn steady_saves_are_written_at_most_once_a_second_ending_with_the_last() {
        let (saver, written) = recording();
        for i in 1..=50 {
            saver.save(i);
            sleep(Duration::from_millis(100)).await;
        }
        sleep(2 * SAVE_EVERY).await;
        let w = written.lock().unwrap().clone();
        assert!(w.len() <= 6, "{w:?}");
        assert_eq!(w.last().map(|(v, _)| *v), Some(50));
        for pair in w.windows(2) {
            assert!(pair[1].1 - pair[0].1 >= SAVE_EVERY, "{w:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_flush_writes_what_is_pending_at_once_and_only_once() {
        let (saver, written) = recording();
        saver.save(1);
        saver.save(2);
        saver.flush();
        assert_eq!(values(&written), [2]);
        advance(2 * SAVE_EVERY).await;
        sleep(Duration::from_millis(1)).await;
        assert_eq!(values(&written), [2]);
        saver.flush();
        assert_eq!(values(&written), [2]);
    }
}
