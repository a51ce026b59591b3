//! How busy a media thread is: the share of wall-clock time it spends working rather
//! than waiting for work, over windows of a second. A thread near 100 % cannot take
//! more: packets queue behind it, so new calls are better refused (503) than let in.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(super) struct LoadMeter {
    window_start: Instant,
    busy: Duration,
    /// The last full window's busy share in thousandths, for other threads to read.
    published: Arc<AtomicU32>,
}

impl LoadMeter {
    pub(super) fn new(published: Arc<AtomicU32>, now: Instant) -> Self {
        Self {
            window_start: now,
            busy: Duration::ZERO,
            published,
        }
    }

    /// The thread worked from `from` to `to` (and waited before `from`).
    pub(super) fn busy(&mut self, from: Instant, to: Instant) {
        self.busy += to.saturating_duration_since(from);
        let elapsed = to.saturating_duration_since(self.window_start);
        if elapsed >= WINDOW {
            let permille = self.busy.as_micros() * 1000 / elapsed.as_micros().max(1);
            self.published.store(
                u32::try_from(permille.min(1000)).unwrap_or(1000),
                Ordering::Relaxed,
            );
            self.window_start = to;
            self.busy = Duration::ZERO;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_the_busy_share_of_each_full_window() {
        let load = Arc::new(AtomicU32::new(0));
        let t0 = Instant::now();
        let mut meter = LoadMeter::new(load.clone(), t0);
        let ms = Duration::from_millis;
        // 5 ms of work in every 20 ms, for a second: a quarter busy.
        for tick in 0..50u32 {
            let from = t0 + ms(20) * tick + ms(15);
            meter.busy(from, from + ms(5));
            if tick < 49 {
                assert_eq!(
                    load.load(Ordering::Relaxed),
                    0,
                    "published once a window is full"
                );
            }
        }
        assert_eq!(load.load(Ordering::Relaxed), 250);
        // A saturated second that follows reads as (nearly) all busy.
        let start = t0 + ms(1000);
        meter.busy(start, start + ms(1000));
        assert_eq!(load.load(Ordering::Relaxed), 1000);
    }
}
