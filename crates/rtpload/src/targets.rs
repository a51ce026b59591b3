//! Where the generator sends: addresses from the command line, a file, or
//! lines appended to a followed file (SIPp's log, "MEDIA <ip> <port> ..."),
//! and the 20-slot wheel that spreads their packets over each 20 ms.

use std::net::{Ipv4Addr, SocketAddrV4};

/// Parses `ip:port`.
pub fn parse_addr(s: &str) -> Option<SocketAddrV4> {
    s.trim().parse().ok()
}

/// The address in a line: "MEDIA <ip> <port>" anywhere in it (SIPp's `<log>`
/// of the answer's SDP), else the whole line as `ip:port`.
pub fn parse_target_line(line: &str) -> Option<SocketAddrV4> {
    if let Some(at) = line.find("MEDIA ") {
        let mut words = line[at + 6..].split_whitespace();
        let ip: Ipv4Addr = words.next()?.parse().ok()?;
        let port: u16 = words.next()?.parse().ok()?;
        if port == 0 {
            return None;
        }
        return Some(SocketAddrV4::new(ip, port));
    }
    parse_addr(line)
}

/// Splits a byte stream read in pieces into complete lines; an incomplete
/// last line is kept for the next piece, up to `MAX_LINE` bytes.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

const MAX_LINE: usize = 64 * 1024;

impl LineSplitter {
    pub fn feed(&mut self, bytes: &[u8], mut on_line: impl FnMut(&str)) {
        for &b in bytes {
            if b == b'\n' {
                on_line(&String::from_utf8_lossy(&self.partial));
                self.partial.clear();
            } else if self.partial.len() < MAX_LINE {
                self.partial.push(b);
            }
        }
    }
}

/// Slots of 1 ms in one 20 ms packet interval.
pub const SLOTS: usize = 20;

/// Target indices spread over [`SLOTS`] slots; slot `k` sends at ms `k` of every 20 ms.
#[derive(Debug, Default)]
pub struct Wheel {
    slots: [Vec<usize>; SLOTS],
    next: usize,
}

impl Wheel {
    /// Puts target `index` in the next slot round-robin (so N targets spread evenly).
    pub fn add(&mut self, index: usize) {
        self.slots[self.next % SLOTS].push(index);
        self.next += 1;
    }

    /// The targets due at tick `tick` (1 ms ticks).
    pub fn due(&self, tick: u64) -> &[usize] {
        &self.slots[(tick % SLOTS as u64) as usize]
    }

    /// The first tick at or after `tick` whose slot holds a target (`None` if none does).
    pub fn next_busy(&self, tick: u64) -> Option<u64> {
        (tick..tick + SLOTS as u64).find(|&t| !self.due(t).is_empty())
    }

    /// Drops targets for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        for s in &mut self.slots {
            s.retain(|&i| keep(i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_lines() {
        let a = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 10_002);
        assert_eq!(
            parse_target_line("2026-12-05 10:00:00.1 MEDIA 127.0.0.1 10002 0 (c=IN IP4 127.0.0.1 / m=audio 10002 RTP/AVP 0)"),
            Some(a)
        );
        assert_eq!(parse_target_line("127.0.0.1:10002"), Some(a));
        assert_eq!(parse_target_line(" 127.0.0.1:10002 \r"), Some(a));
        assert_eq!(parse_target_line("MEDIA 127.0.0.1 0 0"), None);
        assert_eq!(parse_target_line("MEDIA [$srvip] [$srvport]"), None);
        assert_eq!(parse_target_line("hello"), None);
    }

    #[test]
    fn splitter_keeps_partial_lines() {
        let mut s = LineSplitter::default();
        let mut lines = Vec::new();
        s.feed(b"one\ntw", |l| lines.push(l.to_string()));
        s.feed(b"o\n\nthree", |l| lines.push(l.to_string()));
        assert_eq!(lines, ["one", "two", ""]);
        s.feed(b"\n", |l| lines.push(l.to_string()));
        assert_eq!(lines.last().map(String::as_str), Some("three"));
    }

    #[test]
    fn splitter_bounds_a_line() {
        let mut s = LineSplitter::default();
        let mut len = 0;
        s.feed(&vec![b'x'; MAX_LINE * 2], |_| unreachable!());
        s.feed(b"\n", |l| len = l.len());
        assert_eq!(len, MAX_LINE);
    }

    #[test]
    fn wheel_spreads_and_retains() {
        let mut w = Wheel::default();
        for i in 0..45 {
            w.add(i);
        }
        assert_eq!(w.due(0), &[0, 20, 40]);
        assert_eq!(w.due(21), &[1, 21, 41]);
        assert_eq!(w.due(19), &[19, 39]);
        assert_eq!(w.next_busy(7), Some(7));
        w.retain(|i| i % 2 == 0);
        assert_eq!(w.due(20), &[0, 20, 40]);
        assert!(w.due(1).is_empty());
        assert_eq!(w.next_busy(1), Some(2));
        assert_eq!(w.next_busy(39), Some(40));
        assert_eq!(Wheel::default().next_busy(3), None);
    }
}
