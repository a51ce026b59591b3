//! Where a leg's packets go: real UDP sockets, or a network in memory for tests.
//!
//! [`LegSocket`] is an enum rather than a trait object so the UDP relay path costs one
//! match per packet and no allocation.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

/// Datagrams a memory socket holds before it drops new ones, as a full UDP buffer would.
const QUEUE: usize = 256;

type Datagram = (Vec<u8>, SocketAddr);

/// A leg's RTP or RTCP socket. A UDP socket is non-blocking and read by an RTP shard;
/// a memory socket by a task of the leg's own.
#[derive(Debug)]
pub(super) enum LegSocket {
    Udp(std::net::UdpSocket),
    Memory(MemorySocket),
}

impl LegSocket {
    /// Sends without waiting: a datagram the socket buffer has no room for is dropped,
    /// as the network would.
    #[inline]
    pub(super) fn try_send_to(&self, packet: &[u8], to: SocketAddr) -> io::Result<usize> {
        match self {
            Self::Udp(socket) => socket.send_to(packet, to),
            Self::Memory(socket) => socket.try_send_to(packet, to),
        }
    }
}

/// A datagram network in memory: a datagram sent to an address reaches the socket bound
/// there, or nothing. Clones share the network.
#[derive(Debug, Clone, Default)]
pub struct MemoryNet {
    bound: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Datagram>>>>,
}

impl MemoryNet {
    pub fn new() -> Self {
        Self::default()
    }

    /// A socket at `addr`; `AddrInUse` if one is bound there already.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<MemorySocket> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let mut bound = self.bound();
        if bound.contains_key(&addr) {
            return Err(io::ErrorKind::AddrInUse.into());
        }
        bound.insert(addr, tx);
        Ok(MemorySocket {
            net: self.clone(),
            addr,
            rx: tokio::sync::Mutex::new(rx),
        })
    }

    fn bound(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, mpsc::Sender<Datagram>>> {
        // The map stays consistent whatever panicked while holding it.
        self.bound
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn deliver(&self, packet: &[u8], from: SocketAddr, to: SocketAddr) {
        if let Some(socket) = self.bound().get(&to) {
            // Full or closed: dropped, as UDP would.
            let _ = socket.try_send((packet.to_vec(), from));
        }
    }
}

/// A socket bound on a [`MemoryNet`]; its address is free again when it is dropped.
#[derive(Debug)]
pub struct MemorySocket {
    net: MemoryNet,
    addr: SocketAddr,
    rx: tokio::sync::Mutex<mpsc::Receiver<Datagram>>,
}

impl MemorySocket {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends `packet` (never blocks; a datagram nobody can take is dropped).
    pub fn try_send_to(&self, packet: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.net.deliver(packet, self.addr, to);
        Ok(packet.len())
    }

    /// The next datagram, truncated to `buf` as UDP does. Cancel-safe.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut rx = self.rx.lock().await;
        let (packet, from) = rx
            .recv()
            .await
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
        let len = packet.len().min(buf.len());
        buf[..len].copy_from_slice(&packet[..len]);
        Ok((len, from))
    }
}

impl Drop for MemorySocket {
    fn drop(&mut self) {
        self.net.bound().remove(&self.addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delivers_to_the_bound_address_only() {
        let net = MemoryNet::new();
        let a = net.bind("10.0.0.1:4000".parse().unwrap()).unwrap();
        let b = net.bind("10.0.0.2:4000".parse().unwrap()).unwrap();
        assert!(net.bind(a.local_addr()).is_err());
        a.try_send_to(b"hello", b.local_addr()).unwrap();
        a.try_send_to(b"lost", "10.0.0.3:1".parse().unwrap())
            .unwrap();
        let mut buf = [0u8; 3];
        let (len, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..len], from), (&b"hel"[..], a.local_addr()));
        let addr = a.local_addr();
        drop(a);
        assert!(net.bind(addr).is_ok());
    }

    #[tokio::test]
    async fn drops_when_the_queue_is_full() {
        let net = MemoryNet::new();
        let a = net.bind("10.0.0.1:4000".parse().unwrap()).unwrap();
        let b = net.bind("10.0.0.2:4000".parse().unwrap()).unwrap();
        for i in 0..QUEUE + 10 {
            a.try_send_to(&[u8::try_from(i % 256).unwrap()], b.local_addr())
                .unwrap();
        }
        let mut buf = [0u8; 4];
        for _ in 0..QUEUE {
            b.recv_from(&mut buf).await.unwrap();
        }
        let more =
            tokio::time::timeout(std::time::Duration::from_millis(50), b.recv_from(&mut buf));
        assert!(more.await.is_err());
    }
}
