//! Sleeping until the next deadline or until poked, for loops whose next
//! deadline can move while they sleep (re-alerts: a new critical is due
//! sooner, an ack leaves nothing to wait for). The poke is a
//! [`Notify::notify_one`], which keeps a permit when nobody waits yet, so a
//! poke between reading the deadline and starting to sleep is not lost.

use std::time::Instant;

use tokio::sync::Notify;

/// Returns at `due` (at once if it passed), or when `wake` is poked; with
/// no deadline, only when poked.
pub async fn until_due_or_woken(due: Option<Instant>, wake: &Notify) {
    match due {
        Some(at) => {
            tokio::select! {
                () = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
                () = wake.notified() => {}
            }
        }
        None => wake.notified().await,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn in_(d: Duration) -> Instant {
        tokio::time::Instant::now().into_std() + d
    }

    #[tokio::test(start_paused = true)]
    async fn it_sleeps_until_the_deadline_and_no_longer() {
        let wake = Notify::new();
        let start = tokio::time::Instant::now();
        until_due_or_woken(Some(in_(5 * MIN)), &wake).await;
        assert_eq!(start.elapsed(), 5 * MIN);
    }

    #[tokio::test(start_paused = true)]
    async fn with_nothing_due_it_sleeps_until_poked() {
        let wake = Notify::new();
        let waiting = tokio::time::timeout(24 * 60 * MIN, until_due_or_woken(None, &wake));
        assert!(waiting.await.is_err(), "woke without a poke");
        let start = tokio::time::Instant::now();
        tokio::join!(until_due_or_woken(None, &wake), async {
            tokio::time::sleep(MIN).await;
            wake.notify_one();
        });
        assert_eq!(start.elapsed(), MIN);
    }

    #[tokio::test(start_paused = true)]
    async fn a_poke_ends_a_long_sleep_early() {
        let wake = Notify::new();
        let start = tokio::time::Instant::now();
        tokio::join!(until_due_or_woken(Some(in_(60 * MIN)), &wake), async {
            tokio::time::sleep(MIN).await;
            wake.notify_one();
        });
        assert_eq!(start.elapsed(), MIN);
    }

    #[tokio::test(start_paused = true)]
    async fn a_poke_before_sleeping_is_not_lost() {
        let wake = Notify::new();
        wake.notify_one();
        let start = tokio::time::Instant::now();
        until_due_or_woken(None, &wake).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_already_passed_returns_at_once() {
        let wake = Notify::new();
        let past = in_(Duration::ZERO);
        tokio::time::sleep(MIN).await;
        let start = tokio::time::Instant::now();
        until_due_or_woken(Some(past), &wake).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
