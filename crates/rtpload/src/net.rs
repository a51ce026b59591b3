//! Batched UDP I/O (IPv4) over `recvmmsg`/`sendmmsg`, and `ppoll`.
//!
//! Buffers are fixed: [`BATCH`] datagrams of at most [`MAX_DATAGRAM`] bytes;
//! a longer datagram is reported truncated and dropped by the caller.

use std::io;
use std::mem;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::ptr;
use std::time::Duration;

pub const BATCH: usize = 64;
pub const MAX_DATAGRAM: usize = 1500;

fn to_sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in = unsafe { mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = addr.port().to_be();
    sa.sin_addr.s_addr = u32::from(*addr.ip()).to_be();
    sa
}

fn from_sockaddr(sa: &libc::sockaddr_in, len: libc::socklen_t) -> Option<SocketAddrV4> {
    if len as usize != mem::size_of::<libc::sockaddr_in>()
        || sa.sin_family != libc::AF_INET as libc::sa_family_t
    {
        return None;
    }
    Some(SocketAddrV4::new(
        Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr)),
        u16::from_be(sa.sin_port),
    ))
}

/// The `mmsghdr`s and `iovec`s of one `recvmmsg`/`sendmmsg` call.
struct Headers {
    iovs: [libc::iovec; BATCH],
    hdrs: [libc::mmsghdr; BATCH],
}

impl Headers {
    fn new() -> Box<Headers> {
        // SAFETY: iovec and mmsghdr are plain old data; all-zero is valid (null pointers).
        Box::new(unsafe { mem::zeroed() })
    }

    /// Points header `k` at `bufs[k]` (length `lens[k]`, or the whole buffer)
    /// and `addrs[k]`, for every `k` the three slices share (at most [`BATCH`]).
    /// Called before every system call, so the pointers are always fresh.
    fn point(
        &mut self,
        bufs: &mut [[u8; MAX_DATAGRAM]],
        lens: Option<&[usize]>,
        addrs: &mut [libc::sockaddr_in],
    ) {
        let slots = self.iovs.iter_mut().zip(self.hdrs.iter_mut());
        for (k, ((buf, addr), (iov, hdr))) in
            bufs.iter_mut().zip(addrs.iter_mut()).zip(slots).enumerate()
        {
            iov.iov_base = buf.as_mut_ptr().cast();
            iov.iov_len = lens
                .and_then(|l| l.get(k))
                .map_or(MAX_DATAGRAM, |&l| l.min(MAX_DATAGRAM));
            let h = &mut hdr.msg_hdr;
            h.msg_name = (addr as *mut libc::sockaddr_in).cast();
            h.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_iov = iov;
            h.msg_iovlen = 1;
        }
    }
}

/// One received datagram of a [`RecvBatch`].
pub struct Datagram<'a> {
    /// `None` when the source is not IPv4.
    pub from: Option<SocketAddrV4>,
    pub data: &'a [u8],
    pub truncated: bool,
}

/// Buffers for up to [`BATCH`] received datagrams.
pub struct RecvBatch {
    bufs: Vec<[u8; MAX_DATAGRAM]>,
    addrs: Vec<libc::sockaddr_in>,
    addr_lens: Vec<libc::socklen_t>,
    lens: Vec<usize>,
    flags: Vec<libc::c_int>,
    n: usize,
    headers: Box<Headers>,
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            bufs: vec![[0; MAX_DATAGRAM]; BATCH],
            addrs: vec![to_sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)); BATCH],
            addr_lens: vec![0; BATCH],
            lens: vec![0; BATCH],
            flags: vec![0; BATCH],
            n: 0,
            headers: Headers::new(),
        }
    }
}

impl RecvBatch {
    /// Receives what is queued on `sock` without blocking: the number of
    /// datagrams (0 when none is waiting).
    pub fn recv(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        self.n = 0;
        self.headers.point(&mut self.bufs, None, &mut self.addrs);
        let hdrs = &mut self.headers.hdrs;
        // SAFETY: `hdrs` holds BATCH headers pointing into `self`'s buffers,
        // which outlive the call and do not move during it.
        let r = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        let n = usize::try_from(r).unwrap_or(0).min(BATCH);
        for (i, h) in hdrs.iter().enumerate().take(n) {
            self.lens[i] = (h.msg_len as usize).min(MAX_DATAGRAM);
            self.addr_lens[i] = h.msg_hdr.msg_namelen;
            self.flags[i] = h.msg_hdr.msg_flags;
        }
        self.n = n;
        Ok(n)
    }

    /// Datagram `i` of the last [`RecvBatch::recv`].
    pub fn get(&self, i: usize) -> Option<Datagram<'_>> {
        if i >= self.n {
            return None;
        }
        Some(Datagram {
            from: from_sockaddr(&self.addrs[i], self.addr_lens[i]),
            data: &self.bufs[i][..self.lens[i]],
            truncated: self.flags[i] & libc::MSG_TRUNC != 0,
        })
    }
}

/// Up to [`BATCH`] datagrams queued for one `sendmmsg`.
pub struct SendBatch {
    bufs: Vec<[u8; MAX_DATAGRAM]>,
    addrs: Vec<libc::sockaddr_in>,
    lens: Vec<usize>,
    n: usize,
    headers: Box<Headers>,
}

/// Outcome of [`SendBatch::flush`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub sent: u64,
    /// Dropped because the socket buffer was full.
    pub would_block: u64,
    /// Dropped on another error (the datagram is skipped, the rest still sent).
    pub errors: u64,
}

impl Default for SendBatch {
    fn default() -> Self {
        SendBatch {
            bufs: vec![[0; MAX_DATAGRAM]; BATCH],
            addrs: vec![to_sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)); BATCH],
            lens: vec![0; BATCH],
            n: 0,
            headers: Headers::new(),
        }
    }
}

impl SendBatch {
    pub fn is_full(&self) -> bool {
        self.n == BATCH
    }

    /// Queues a datagram to `to`, built by `fill` into a [`MAX_DATAGRAM`]
    /// buffer (it returns the length used). `false` when the batch is full.
    pub fn push(&mut self, to: SocketAddrV4, fill: impl FnOnce(&mut [u8]) -> usize) -> bool {
        if self.is_full() {
            return false;
        }
        let len = fill(&mut self.bufs[self.n]).min(MAX_DATAGRAM);
        self.lens[self.n] = len;
        self.addrs[self.n] = to_sockaddr(to);
        self.n += 1;
        true
    }

    /// Sends everything queued on `sock` and empties the batch.
    pub fn flush(&mut self, sock: &UdpSocket) -> Sent {
        let mut out = Sent::default();
        let mut start = 0;
        while start < self.n {
            let count = self.n - start;
            self.headers.point(
                &mut self.bufs[start..self.n],
                Some(&self.lens[start..self.n]),
                &mut self.addrs[start..self.n],
            );
            let hdrs = &mut self.headers.hdrs;
            // SAFETY: the first `count` headers point into `self`'s buffers (as in
            // RecvBatch::recv), valid during the call.
            let r = unsafe {
                libc::sendmmsg(
                    sock.as_raw_fd(),
                    hdrs.as_mut_ptr(),
                    count as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => {
                        out.would_block += count as u64;
                        break;
                    }
                    _ => {
                        // the first datagram failed: skip it, send the rest
                        out.errors += 1;
                        start += 1;
                    }
                }
            } else {
                let sent = usize::try_from(r).unwrap_or(0).min(count);
                out.sent += sent as u64;
                start += sent.max(1).min(count);
                if sent == 0 {
                    out.errors += 1;
                }
            }
        }
        self.n = 0;
        out
    }
}

/// Waits until one of `socks` is readable or `timeout` passes. Returns the
/// indices' readiness in `ready` (same length as `socks`).
pub fn wait_readable(
    socks: &[UdpSocket],
    timeout: Duration,
    ready: &mut Vec<bool>,
) -> io::Result<()> {
    let mut fds: Vec<libc::pollfd> = socks
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: `fds` is a valid array of fds.len() pollfds; `ts` a valid timespec.
    let r = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &ts,
            ptr::null(),
        )
    };
    ready.clear();
    if r < 0 {
        let e = io::Error::last_os_error();
        ready.resize(socks.len(), false);
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(())
        } else {
            Err(e)
        };
    }
    ready.extend(
        fds.iter()
            .map(|f| f.revents & (libc::POLLIN | libc::POLLERR) != 0),
    );
    Ok(())
}

/// This process's user and system CPU time (getrusage), in seconds.
pub fn cpu_times() -> (f64, f64) {
    // SAFETY: rusage is plain old data; getrusage fills it.
    let mut ru: libc::rusage = unsafe { mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    let r = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if r != 0 {
        return (0.0, 0.0);
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(ru.ru_utime), secs(ru.ru_stime))
}

/// Peak resident set size of this process, KiB.
pub fn max_rss_kib() -> i64 {
    // SAFETY: as in cpu_times.
    let mut ru: libc::rusage = unsafe { mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0;
    }
    ru.ru_maxrss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_round_trip() {
        let a = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 40_000);
        let sa = to_sockaddr(a);
        let len = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(from_sockaddr(&sa, len), Some(a));
        assert_eq!(from_sockaddr(&sa, 0), None);
    }

    #[test]
    fn batch_over_loopback() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = match b.local_addr().unwrap() {
            std::net::SocketAddr::V4(v4) => v4,
            _ => unreachable!(),
        };
        let mut batch = SendBatch::default();
        for i in 0..3u8 {
            assert!(batch.push(to, |buf| {
                buf[..2].copy_from_slice(&[i, i]);
                2
            }));
        }
        let sent = batch.flush(&a);
        assert_eq!(
            sent,
            Sent {
                sent: 3,
                would_block: 0,
                errors: 0
            }
        );
        let mut ready = Vec::new();
        let mut got = Vec::new();
        let mut rb = RecvBatch::default();
        while got.len() < 3 {
            wait_readable(std::slice::from_ref(&b), Duration::from_secs(5), &mut ready).unwrap();
            let n = rb.recv(&b).unwrap();
            for i in 0..n {
                let d = rb.get(i).unwrap();
                assert!(!d.truncated);
                assert_eq!(
                    d.from.map(|f| f.port()),
                    Some(a.local_addr().unwrap().port())
                );
                got.push(d.data.to_vec());
            }
        }
        assert_eq!(got, vec![vec![0, 0], vec![1, 1], vec![2, 2]]);
        assert!(rb.get(3).is_none());
    }
}
