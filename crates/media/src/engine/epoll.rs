//! A level-triggered epoll set and an eventfd to wake it: the few system calls the RTP
//! shards need, written against libc directly.
//!
//! Level-triggered on purpose: a shard reads one datagram per ready socket per wake-up
//! (one `recvfrom`), and a socket that still holds more is reported again by the next
//! `epoll_wait`. Edge-triggered readiness (tokio's, mio's) needs every socket read until
//! `EAGAIN`, a second system call per packet when, as for RTP, each socket holds one.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// An epoll instance.
#[derive(Debug)]
pub(super) struct Epoll {
    fd: OwnedFd,
}

/// Readiness reported by [`Epoll::wait`]: the token given at [`Epoll::add`].
pub(super) struct Events {
    buf: Vec<libc::epoll_event>,
    len: usize,
}

impl Events {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; capacity.max(1)],
            len: 0,
        }
    }

    pub(super) fn tokens(&self) -> impl Iterator<Item = u64> + '_ {
        self.buf.iter().take(self.len).map(|event| event.u64)
    }
}

/// Reads (and so resets) the 8-byte counter of an eventfd or timerfd; an empty one
/// (EAGAIN) is fine.
fn read_counter(fd: &OwnedFd) {
    let mut count: u64 = 0;
    // SAFETY: reads at most 8 bytes into `count`, which lives through the call.
    unsafe {
        libc::read(
            fd.as_raw_fd(),
            std::ptr::addr_of_mut!(count).cast(),
            std::mem::size_of::<u64>(),
        );
    }
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

impl Epoll {
    pub(super) fn new() -> io::Result<Self> {
        // SAFETY: epoll_create1 takes no pointers; a non-negative result is a new fd
        // that nothing else owns.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        Ok(Self {
            // SAFETY: `fd` was just returned by the kernel and is owned here only.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Watches `fd` for input, reporting `token`.
    pub(super) fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `event` outlives the call; the kernel copies it.
        check(unsafe {
            libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event)
        })?;
        Ok(())
    }

    /// Stops watching `fd` (it must still be open).
    pub(super) fn delete(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: a null event is allowed for EPOLL_CTL_DEL since Linux 2.6.9.
        check(unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        })?;
        Ok(())
    }

    /// Waits at most `timeout_ms` for readiness; an interrupted wait reports nothing.
    pub(super) fn wait(&self, events: &mut Events, timeout_ms: i32) -> io::Result<()> {
        let capacity = libc::c_int::try_from(events.buf.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: the buffer holds `capacity` initialised events and is not otherwise
        // borrowed during the call.
        let result = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.buf.as_mut_ptr(),
                capacity,
                timeout_ms,
            )
        };
        events.len = match check(result) {
            Ok(n) => usize::try_from(n).unwrap_or(0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        Ok(())
    }
}

/// An eventfd: other threads [`wake`](EventFd::wake) a shard blocked in `epoll_wait`.
#[derive(Debug)]
pub(super) struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub(super) fn new() -> io::Result<Self> {
        // SAFETY: no pointers; a non-negative result is a new fd owned here only.
        let fd = check(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        Ok(Self {
            // SAFETY: as above.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub(super) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub(super) fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of `one`, which lives through the call. A full
        // counter (EAGAIN) means a wake-up is pending already.
        unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                std::ptr::addr_of!(one).cast(),
                std::mem::size_of::<u64>(),
            );
        }
    }

    /// Resets the counter after a wake-up.
    pub(super) fn clear(&self) {
        read_counter(&self.fd);
    }
}

/// A periodic timerfd: the kernel's high-resolution timer keeps the period, so a
/// clock driven by it neither drifts nor rounds to `epoll_wait`'s milliseconds.
#[derive(Debug)]
pub(super) struct TimerFd {
    fd: OwnedFd,
}

impl TimerFd {
    pub(super) fn new() -> io::Result<Self> {
        // SAFETY: no pointers; a non-negative result is a new fd owned here only.
        let fd = check(unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        })?;
        Ok(Self {
            // SAFETY: as above.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub(super) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Expires every `period` from one `period` from now; a zero period disarms it.
    pub(super) fn set_period(&self, period: std::time::Duration) -> io::Result<()> {
        let spec = libc::timespec {
            tv_sec: libc::time_t::try_from(period.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: period.subsec_nanos().into(),
        };
        let value = libc::itimerspec {
            it_interval: spec,
            it_value: spec,
        };
        // SAFETY: `value` lives through the call; a null old value is allowed.
        check(unsafe {
            libc::timerfd_settime(self.fd.as_raw_fd(), 0, &value, std::ptr::null_mut())
        })?;
        Ok(())
    }

    /// Resets it after it fired (the count of expirations is not needed).
    pub(super) fn clear(&self) {
        read_counter(&self.fd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_a_ready_socket_until_it_is_read() {
        let epoll = Epoll::new().unwrap();
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        epoll.add(socket.as_raw_fd(), 7).unwrap();
        let mut events = Events::with_capacity(4);
        epoll.wait(&mut events, 0).unwrap();
        assert_eq!(events.tokens().count(), 0);

        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..2 {
            sender.send_to(b"x", socket.local_addr().unwrap()).unwrap();
        }
        let mut buf = [0u8; 8];
        for _ in 0..2 {
            epoll.wait(&mut events, 1000).unwrap();
            assert_eq!(events.tokens().collect::<Vec<_>>(), [7]);
            socket.recv_from(&mut buf).unwrap();
        }
        epoll.wait(&mut events, 0).unwrap();
        assert_eq!(
            events.tokens().count(),
            0,
            "level-triggered: empty once read"
        );

        epoll.delete(socket.as_raw_fd()).unwrap();
        sender.send_to(b"x", socket.local_addr().unwrap()).unwrap();
        epoll.wait(&mut events, 50).unwrap();
        assert_eq!(events.tokens().count(), 0);
    }

    #[test]
    fn a_timerfd_fires_each_period_until_disarmed() {
        let epoll = Epoll::new().unwrap();
        let timer = TimerFd::new().unwrap();
        epoll.add(timer.raw(), 3).unwrap();
        timer
            .set_period(std::time::Duration::from_millis(5))
            .unwrap();
        let mut events = Events::with_capacity(4);
        for _ in 0..2 {
            epoll.wait(&mut events, 1000).unwrap();
            assert_eq!(events.tokens().collect::<Vec<_>>(), [3]);
            timer.clear();
        }
        timer.set_period(std::time::Duration::ZERO).unwrap();
        epoll.wait(&mut events, 30).unwrap();
        assert_eq!(events.tokens().count(), 0);
    }

    #[test]
    fn an_eventfd_wakes_the_wait() {
        let epoll = Epoll::new().unwrap();
        let waker = EventFd::new().unwrap();
        epoll.add(waker.raw(), 1).unwrap();
        waker.wake();
        waker.wake();
        let mut events = Events::with_capacity(4);
        epoll.wait(&mut events, 1000).unwrap();
        assert_eq!(events.tokens().collect::<Vec<_>>(), [1]);
        waker.clear();
        epoll.wait(&mut events, 0).unwrap();
        assert_eq!(events.tokens().count(), 0);
    }
}
