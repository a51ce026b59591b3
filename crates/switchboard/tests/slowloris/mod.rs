//! Slowloris against the real server: hundreds of TCP connections from several loopback
//! addresses, each trickling a message that never completes. The server closes every one at
//! `tcp_message_timeout`, refuses connections over the per-source limit, closes silent
//! connections at `tcp_idle_timeout`, keeps its memory flat and serves OPTIONS throughout.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::support::server::{Server, ServerConfig};
use crate::support::sip::TcpClient;

const MESSAGE_TIMEOUT: Duration = Duration::from_secs(2);
const IDLE_TIMEOUT: Duration = Duration::from_secs(4);
/// The default `tcp_max_connections_per_source`.
const PER_SOURCE: usize = 32;
/// 127.0.0.2 ..= 127.0.0.11; the test's own OPTIONS come from 127.0.0.1.
const SOURCES: u8 = 10;
const TRICKLE: Duration = Duration::from_millis(400);

async fn connect_from(source: u8, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("TCP socket");
    socket
        .bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, source), 0)))
        .expect("bind a loopback source address");
    socket.connect(server).await.expect("connect to the server")
}

/// Whether the server has closed `stream`, without waiting.
fn is_closed(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 256];
    match stream.try_read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// Waits until the server closes `stream`, at most `timeout`.
async fn closes_within(stream: &TcpStream, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if is_closed(stream) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    is_closed(stream)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("server status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

fn options_ok(server: &Server) {
    let mut client = TcpClient::connect(server.sip_addr());
    let response = client.options(Duration::from_secs(2));
    assert_eq!(
        response.map(|r| r.status),
        Some(200),
        "OPTIONS over TCP during the attack"
    );
}

#[test]
fn slowloris_connections_are_closed_and_memory_stays_flat() {
    // Needs the [security] TCP keys wired from the core config into TransportLimits.
    let server = Server::start_with(
        "slowloris",
        ServerConfig::default().toml(&format!(
            "[security]\ntcp_message_timeout = {}\ntcp_idle_timeout = {}",
            MESSAGE_TIMEOUT.as_secs(),
            IDLE_TIMEOUT.as_secs()
        )),
    );
    let addr = server.sip_addr();
    let pid = server.pid();
    options_ok(&server);
    let rss_before = rss_kib(pid);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    runtime.block_on(async {
        let silent = connect_from(SOURCES + 2, addr).await;
        let silent_since = Instant::now();

        let started = Instant::now();
        let mut crowd = Vec::new();
        for source in 2..SOURCES + 2 {
            for _ in 0..PER_SOURCE {
                let mut stream = connect_from(source, addr).await;
                stream
                    .write_all(b"REGISTER sip:switchboard SIP/2.0\r\nVia: SIP/2.0/TCP ")
                    .await
                    .expect("first bytes");
                crowd.push(stream);
            }
        }
        let opened = started.elapsed();

        // Full sources are refused at once (and logged once), others still served.
        for _ in 0..3 {
            let extra = connect_from(2, addr).await;
            assert!(
                closes_within(&extra, Duration::from_millis(500)).await,
                "a connection over the per-source limit is closed at once"
            );
        }
        options_ok(&server);
        let rss_during = rss_kib(pid);
        if started.elapsed() + Duration::from_millis(200) < MESSAGE_TIMEOUT {
            let early = crowd.iter().filter(|s| is_closed(s)).count();
            assert_eq!(early, 0, "slow connections closed before the message timeout");
        }

        // Trickle a byte per connection: the idle timer stays fresh, the message never ends.
        let mut open = crowd.len();
        let trickle_until = started + MESSAGE_TIMEOUT + Duration::from_secs(2);
        while open > 0 && Instant::now() < trickle_until {
            open = 0;
            for stream in &mut crowd {
                if !is_closed(stream) && stream.write_all(b"1").await.is_ok() {
                    open += 1;
                }
            }
            tokio::time::sleep(TRICKLE).await;
        }
        // A write may still succeed into the just-closed socket: look once more.
        let still_open = crowd.iter().filter(|s| !is_closed(s)).count();
        let closed_after = started.elapsed();
        assert_eq!(
            still_open,
            0,
            "{} slow connections opened in {opened:?}; {still_open} still open after {closed_after:?}",
            crowd.len()
        );
        drop(crowd);

        // Give the server a moment to drop what the crowd held, then compare.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss_after = rss_kib(pid);
        eprintln!(
            "server RSS: before {rss_before} KiB, with {} connections {rss_during} KiB, after {rss_after} KiB",
            PER_SOURCE * usize::from(SOURCES)
        );
        assert!(
            rss_during.saturating_sub(rss_before) < 20 * 1024,
            "RSS grew from {rss_before} to {rss_during} KiB"
        );
        assert!(
            rss_after.saturating_sub(rss_before) < 20 * 1024,
            "RSS grew from {rss_before} to {rss_after} KiB"
        );

        // The source's slots are free again.
        let again = connect_from(2, addr).await;
        assert!(!closes_within(&again, Duration::from_millis(300)).await);

        let left = (silent_since + IDLE_TIMEOUT).saturating_duration_since(Instant::now());
        assert!(
            closes_within(&silent, left + Duration::from_secs(1)).await,
            "a silent connection is closed at the idle timeout"
        );
        let idle_for = silent_since.elapsed();
        assert!(
            idle_for + Duration::from_millis(100) >= IDLE_TIMEOUT,
            "closed after {idle_for:?}"
        );
    });

    let log = server.log();
    assert_eq!(
        log.matches("TCP connections refused").count(),
        1,
        "a source over its limit is logged once"
    );
    assert!(
        log.contains("source=127.0.0.2"),
        "the refusal names its source"
    );
    options_ok(&server);
}
