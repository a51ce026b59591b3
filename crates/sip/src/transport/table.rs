//! The open TCP connections: who may write to which peer, and the connection limits.
//!
//! Admission and release happen under one lock, so the limits hold however fast peers
//! connect. A source over its limit is reported once, not once per refused connection, until
//! it drops below the limit again: a flood must not become a log flood.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0} connections open in total")]
    Total(usize),
    #[error("{0} connections open from this source")]
    PerSource(usize),
}

/// A refused connection; `report` is set the first time its limit is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub why: Refusal,
    pub report: bool,
}

/// Connections by remote address; `S` is the handle that writes to one.
#[derive(Debug)]
pub struct Table<S> {
    max_total: usize,
    max_per_source: usize,
    writers: HashMap<SocketAddr, (u64, S)>,
    per_source: HashMap<IpAddr, usize>,
    total: usize,
    next_id: u64,
    reported: HashSet<IpAddr>,
    reported_total: bool,
}

impl<S: Clone> Table<S> {
    pub fn new(max_total: usize, max_per_source: usize) -> Self {
        Self {
            max_total,
            max_per_source,
            writers: HashMap::new(),
            per_source: HashMap::new(),
            total: 0,
            next_id: 0,
            reported: HashSet::new(),
            reported_total: false,
        }
    }

    /// Counts a new connection in, returning its id for [`Table::release`].
    pub fn admit(&mut self, remote: SocketAddr, writer: S) -> Result<u64, Refused> {
        let source = remote.ip().to_canonical();
        let from_source = self.per_source.get(&source).copied().unwrap_or(0);
        if self.total >= self.max_total {
            let report = !std::mem::replace(&mut self.reported_total, true);
            return Err(Refused {
                why: Refusal::Total(self.total),
                report,
            });
        }
        if from_source >= self.max_per_source {
            return Err(Refused {
                why: Refusal::PerSource(from_source),
                report: self.reported.insert(source),
            });
        }
        self.total += 1;
        self.per_source.insert(source, from_source + 1);
        self.next_id += 1;
        // A second connection with the same address pair (ours outbound, theirs inbound)
        // takes over writing; the first still counts until it closes.
        self.writers.insert(remote, (self.next_id, writer));
        Ok(self.next_id)
    }

    /// Counts a closed connection out.
    pub fn release(&mut self, remote: SocketAddr, id: u64) {
        if self.writers.get(&remote).is_some_and(|(i, _)| *i == id) {
            self.writers.remove(&remote);
        }
        let source = remote.ip().to_canonical();
        match self.per_source.get_mut(&source) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                self.per_source.remove(&source);
            }
            None => return,
        }
        self.total = self.total.saturating_sub(1);
        if self.per_source.get(&source).copied().unwrap_or(0) < self.max_per_source {
            self.reported.remove(&source);
        }
        if self.total < self.max_total {
            self.reported_total = false;
        }
    }

    pub fn writer(&self, remote: SocketAddr) -> Option<S> {
        self.writers.get(&remote).map(|(_, w)| w.clone())
    }

    pub fn total(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(ip: [u8; 4], port: u16) -> SocketAddr {
        SocketAddr::from((ip, port))
    }

    #[test]
    fn per_source_limit_reports_once_until_below() {
        let mut table = Table::new(10, 2);
        let a = [10, 0, 0, 1];
        let first = table.admit(addr(a, 1), ()).unwrap();
        table.admit(addr(a, 2), ()).unwrap();
        let refused = table.admit(addr(a, 3), ()).unwrap_err();
        assert_eq!(refused.why, Refusal::PerSource(2));
        assert!(refused.report);
        assert!(!table.admit(addr(a, 4), ()).unwrap_err().report);
        // Another source is untouched.
        table.admit(addr([10, 0, 0, 2], 1), ()).unwrap();
        table.release(addr(a, 1), first);
        assert!(table.writer(addr(a, 1)).is_none());
        table.admit(addr(a, 5), ()).unwrap();
        assert!(table.admit(addr(a, 6), ()).unwrap_err().report);
        assert_eq!(table.total(), 3);
    }

    #[test]
    fn total_limit() {
        let mut table = Table::new(2, 2);
        let one = table.admit(addr([10, 0, 0, 1], 1), ()).unwrap();
        table.admit(addr([10, 0, 0, 2], 1), ()).unwrap();
        let refused = table.admit(addr([10, 0, 0, 3], 1), ()).unwrap_err();
        assert_eq!(
            refused,
            Refused {
                why: Refusal::Total(2),
                report: true
            }
        );
        assert!(!table.admit(addr([10, 0, 0, 3], 1), ()).unwrap_err().report);
        table.release(addr([10, 0, 0, 1], 1), one);
        table.admit(addr([10, 0, 0, 3], 1), ()).unwrap();
        assert_eq!(table.total(), 2);
    }

    #[test]
    fn mapped_ipv6_counts_as_its_ipv4_source() {
        let mut table = Table::new(10, 1);
        table.admit(addr([10, 0, 0, 1], 1), ()).unwrap();
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:2".parse().unwrap();
        assert!(table.admit(mapped, ()).is_err());
    }

    #[test]
    fn a_replaced_writer_is_not_removed_by_the_old_connection() {
        let mut table = Table::new(10, 10);
        let remote = addr([10, 0, 0, 1], 5060);
        let old = table.admit(remote, 1).unwrap();
        let new = table.admit(remote, 2).unwrap();
        table.release(remote, old);
        assert_eq!(table.writer(remote), Some(2));
        assert_eq!(table.total(), 1);
        table.release(remote, new);
        assert_eq!((table.writer(remote), table.total()), (None, 0));
        // Releasing twice changes nothing.
        table.release(remote, new);
        assert_eq!(table.total(), 0);
    }
}
