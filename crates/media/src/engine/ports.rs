//! RTP port allocation: even ports for RTP, the next odd one for RTCP (RFC 3550 §11).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Mutex;

use crate::MediaError;

#[derive(Debug)]
pub struct PortPool {
    first: u16,
    pairs: u16,
    next: Mutex<u16>,
}

impl PortPool {
    pub fn new(min: u16, max: u16) -> Self {
        let first = min + (min % 2);
        let pairs = max.saturating_sub(first).saturating_add(1) / 2;
        Self {
            first,
            pairs: pairs.max(1),
            next: Mutex::new(0),
        }
    }

    /// Binds the next free pair, walking the range round-robin so a just-released port
    /// is not reused at once (late packets of the old call would land in the new one).
    pub fn bind_pair(&self, ip: IpAddr) -> Result<(UdpSocket, UdpSocket), MediaError> {
        self.take_pair(|port| {
            let rtp = UdpSocket::bind(SocketAddr::new(ip, port)).ok()?;
            let rtcp = UdpSocket::bind(SocketAddr::new(ip, port + 1)).ok()?;
            Some((rtp, rtcp))
        })
        .and_then(|(rtp, rtcp)| {
            rtp.set_nonblocking(true)?;
            rtcp.set_nonblocking(true)?;
            Ok((rtp, rtcp))
        })
    }

    /// The first pair `bind` manages to bind (given the RTP port), in the same
    /// round-robin order as [`PortPool::bind_pair`].
    pub fn take_pair<T>(&self, mut bind: impl FnMut(u16) -> Option<T>) -> Result<T, MediaError> {
        for _ in 0..self.pairs {
            let index = {
                let mut next = self
                    .next
                    .lock()
                    .map_err(|_| MediaError::Engine("port pool poisoned".into()))?;
                let index = *next;
                *next = (*next + 1) % self.pairs;
                index
            };
            if let Some(pair) = bind(self.first + index * 2) {
                return Ok(pair);
            }
        }
        Err(MediaError::Engine(
            "no free RTP port in the configured range".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_even_pairs_and_skips_busy_ones() {
        let pool = PortPool::new(41_001, 41_010);
        let ip = IpAddr::from([127, 0, 0, 1]);
        let (a, a_rtcp) = pool.bind_pair(ip).unwrap();
        let port = a.local_addr().unwrap().port();
        assert_eq!(port % 2, 0);
        assert_eq!(a_rtcp.local_addr().unwrap().port(), port + 1);
        let (b, _) = pool.bind_pair(ip).unwrap();
        assert_ne!(b.local_addr().unwrap().port(), port);
    }
}
