//! The transports against real sockets with short limits: a slowloris crowd is closed at
//! the message timeout, idle connections at the idle timeout, the per-source limit refuses
//! extra connections, memory stays flat, and a normal OPTIONS is served meanwhile.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use sipx_sip::{Message, ResponseBuilder, StatusCode};
use switchboard_sip::transport::{Inbound, Transports};
use switchboard_sip::{Flow, Transport, TransportLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

const PER_SOURCE: usize = 20;
const SOURCES: u8 = 15;
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(1);
const IDLE_TIMEOUT: Duration = Duration::from_secs(2);

fn limits() -> TransportLimits {
    TransportLimits {
        tcp_max_connections: 1000,
        tcp_max_connections_per_source: PER_SOURCE,
        tcp_idle_timeout: IDLE_TIMEOUT,
        tcp_message_timeout: MESSAGE_TIMEOUT,
        ..TransportLimits::default()
    }
}

/// Binds on loopback and answers every OPTIONS with 200.
async fn server() -> (SocketAddr, SocketAddr) {
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let (transports, mut inbound) = Transports::bind(any, Some(any), limits())
        .await
        .expect("bind transports");
    let local = (
        transports.local(Transport::Udp),
        transports.local(Transport::Tcp),
    );
    tokio::spawn(async move {
        while let Some(item) = inbound.recv().await {
            if let Inbound::Message(message, flow) = item {
                answer(&transports, *message, flow);
            }
        }
    });
    local
}

fn answer(transports: &Transports, message: Message, flow: Flow) {
    let Message::Request(request) = message else {
        return;
    };
    let status = StatusCode::new(200).expect("200 is a status");
    let response = ResponseBuilder::to_request(&request, status, "OK")
        .expect("OPTIONS has what a response needs")
        .build();
    transports.send(flow, &Message::Response(response));
}

fn options(transport: &str, local: SocketAddr, extra: &str) -> String {
    format!(
        "OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{transport} {local};branch=z9hG4bK{}\r\n\
         From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: {}@t\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n{extra}\r\n",
        local.port(),
        local.port()
    )
}

async fn connect_from(source: u8, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, source), 0)))
        .expect("bind a loopback source");
    socket.connect(server).await.expect("connect")
}

/// Reads until `pattern` has arrived, the peer closes, or `timeout`.
async fn read_until(stream: &mut TcpStream, pattern: &str, timeout: Duration) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = tokio::time::Instant::now() + timeout;
    while !String::from_utf8_lossy(&got).contains(pattern) {
        match tokio::time::timeout_at(end, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// True when the server closes the stream within `timeout`.
async fn closed_within(stream: &mut TcpStream, timeout: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let end = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(end, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

async fn tcp_options(server: SocketAddr) -> String {
    let mut stream = connect_from(200, server).await;
    let local = stream.local_addr().expect("local address");
    let request = options("TCP", local, "Content-Length: 0\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    read_until(&mut stream, "\r\n\r\n", Duration::from_secs(2)).await
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_crowd_is_closed_and_memory_stays_flat() {
    let (_, tcp) = server().await;
    let rss_before = rss_kib();

    // PER_SOURCE connections from each of SOURCES addresses, each trickling a partial head.
    let started = Instant::now();
    let mut crowd = Vec::new();
    for source in 1..=SOURCES {
        for _ in 0..PER_SOURCE {
            let mut stream = connect_from(source, tcp).await;
            stream
                .write_all(b"INVITE sip:x@y SIP/2.0\r\n")
                .await
                .expect("send");
            crowd.push(stream);
        }
    }
    let crowd_size = crowd.len();
    let trickle = tokio::spawn(async move {
        let mut closed = vec![false; crowd.len()];
        let mut buf = [0u8; 64];
        for _ in 0..12 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            for (stream, closed) in crowd.iter_mut().zip(closed.iter_mut()) {
                if *closed {
                    continue;
                }
                // A read of 0 (or an error) is the server's close; otherwise keep trickling.
                match stream.try_read(&mut buf) {
                    Ok(0) => {
                        *closed = true;
                        continue;
                    }
                    Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => {
                        *closed = true;
                        continue;
                    }
                    _ => {}
                }
                if stream.write_all(b"X").await.is_err() {
                    *closed = true;
                }
            }
        }
        closed
    });

    // While the crowd is held: the per-source limit refuses one more, others are served.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = connect_from(1, tcp).await;
    assert!(
        closed_within(&mut extra, Duration::from_millis(500)).await,
        "a connection over the per-source limit is closed at once"
    );
    let response = tcp_options(tcp).await;
    assert!(response.starts_with("SIP/2.0 200 OK\r\n"), "{response:?}");
    let rss_during = rss_kib();

    let closed = trickle.await.expect("trickle task");
    let elapsed = started.elapsed();
    let open = closed.iter().filter(|c| !**c).count();
    assert_eq!(
        open, 0,
        "of {crowd_size} slow connections, {open} still open after {elapsed:?}"
    );
    let rss_after = rss_kib();
    eprintln!("RSS: before {rss_before} KiB, during {rss_during} KiB, after {rss_after} KiB");
    assert!(
        rss_during.saturating_sub(rss_before) < 20 * 1024,
        "RSS grew from {rss_before} to {rss_during} KiB"
    );

    // Their slots are free again.
    let mut again = connect_from(1, tcp).await;
    let local = again.local_addr().expect("local address");
    let request = options("TCP", local, "Content-Length: 0\r\n");
    again.write_all(request.as_bytes()).await.expect("send");
    let response = read_until(&mut again, "\r\n\r\n", Duration::from_secs(2)).await;
    assert!(response.starts_with("SIP/2.0 200 OK\r\n"), "{response:?}");
}

#[tokio::test]
async fn idle_connection_is_closed_and_keepalives_answered() {
    let (_, tcp) = server().await;
    let mut quiet = connect_from(30, tcp).await;
    let mut pinger = connect_from(31, tcp).await;
    let started = Instant::now();
    // RFC 5626 pings keep a connection alive past the idle timeout, each answered by a pong.
    for _ in 0..5 {
        pinger.write_all(b"\r\n\r\n").await.expect("ping");
        assert_eq!(
            read_until(&mut pinger, "\r\n", Duration::from_secs(1)).await,
            "\r\n"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(closed_within(&mut quiet, Duration::from_secs(1)).await);
    let idle_for = started.elapsed();
    assert!(
        idle_for >= IDLE_TIMEOUT && idle_for < IDLE_TIMEOUT + Duration::from_secs(1),
        "closed after {idle_for:?}"
    );
    let local = pinger.local_addr().expect("local address");
    let request = options("TCP", local, "Content-Length: 0\r\n");
    pinger.write_all(request.as_bytes()).await.expect("send");
    let response = read_until(&mut pinger, "\r\n\r\n", Duration::from_secs(2)).await;
    assert!(response.starts_with("SIP/2.0 200 OK\r\n"), "{response:?}");
}

#[tokio::test]
async fn tcp_without_content_length_gets_400_and_close() {
    let (_, tcp) = server().await;
    let mut stream = connect_from(40, tcp).await;
    let local = stream.local_addr().expect("local address");
    let request = options("TCP", local, "");
    stream.write_all(request.as_bytes()).await.expect("send");
    let response = read_until(&mut stream, "\r\n\r\n", Duration::from_secs(2)).await;
    assert!(
        response.starts_with("SIP/2.0 400 Bad Request\r\n"),
        "{response:?}"
    );
    assert!(closed_within(&mut stream, Duration::from_secs(1)).await);
}

#[tokio::test]
async fn oversized_datagram_gets_513() {
    let (udp, _) = server().await;
    let socket = UdpSocket::bind((IpAddr::from(Ipv4Addr::LOCALHOST), 0))
        .await
        .expect("bind");
    let local = socket.local_addr().expect("local address");
    let vias = "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKflood\r\n".repeat(500);
    let request = options("UDP", local, &format!("{vias}Content-Length: 0\r\n"));
    socket.send_to(request.as_bytes(), udp).await.expect("send");
    let mut buf = vec![0u8; 65536];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf))
        .await
        .expect("an answer")
        .expect("recv");
    let response = String::from_utf8_lossy(&buf[..n]);
    assert!(
        response.starts_with("SIP/2.0 513 Message Too Large\r\n"),
        "{response}"
    );
    assert_eq!(response.matches("Via:").count(), 1);
}

#[tokio::test]
async fn a_good_message_before_garbage_is_still_answered() {
    let (_, tcp) = server().await;
    let mut stream = connect_from(41, tcp).await;
    let local = stream.local_addr().expect("local address");
    let request = options("TCP", local, "Content-Length: 0\r\n");
    let wire = format!("{request}NOT A REQUEST\r\n\r\n");
    stream.write_all(wire.as_bytes()).await.expect("send");
    let response = read_until(&mut stream, "\r\n\r\n", Duration::from_secs(2)).await;
    assert!(response.starts_with("SIP/2.0 200 OK\r\n"), "{response:?}");
    assert!(closed_within(&mut stream, Duration::from_secs(1)).await);
}
