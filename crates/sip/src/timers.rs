//! A deadline queue for the stack task: one sleep for all transaction and dialog timers,
//! instead of a task or timer per transaction.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::Instant;

#[derive(Debug)]
pub struct TimerQueue<K> {
    by_deadline: BTreeMap<(Instant, u64), K>,
    by_key: HashMap<K, (Instant, u64)>,
    seq: u64,
}

impl<K: Clone + Eq + Hash> Default for TimerQueue<K> {
    fn default() -> Self {
        Self {
            by_deadline: BTreeMap::new(),
            by_key: HashMap::new(),
            seq: 0,
        }
    }
}

impl<K: Clone + Eq + Hash> TimerQueue<K> {
    /// Arms `key` at `at`, replacing an earlier arming of the same key.
    pub fn set(&mut self, key: K, at: Instant) {
        self.clear(&key);
        self.seq += 1;
        self.by_deadline.insert((at, self.seq), key.clone());
        self.by_key.insert(key, (at, self.seq));
    }

    pub fn clear(&mut self, key: &K) {
        if let Some(slot) = self.by_key.remove(key) {
            self.by_deadline.remove(&slot);
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.keys().next().map(|(at, _)| *at)
    }

    /// Removes and returns every key due at `now`, earliest first.
    pub fn pop_due(&mut self, now: Instant) -> Vec<K> {
        let mut due = Vec::new();
        while let Some(entry) = self.by_deadline.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.by_key.remove(&key);
            due.push(key);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fires_in_order_and_honours_rearm_and_clear() {
        let t0 = Instant::now();
        let mut q = TimerQueue::default();
        q.set("a", t0 + Duration::from_millis(30));
        q.set("b", t0 + Duration::from_millis(10));
        q.set("c", t0 + Duration::from_millis(20));
        q.set("a", t0 + Duration::from_millis(5));
        q.clear(&"c");
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(5)));
        assert_eq!(q.pop_due(t0 + Duration::from_millis(25)), vec!["a", "b"]);
        assert!(q.pop_due(t0 + Duration::from_secs(1)).is_empty());
        assert_eq!(q.next_deadline(), None);
    }
}
