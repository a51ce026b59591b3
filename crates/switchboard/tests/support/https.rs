//! A small HTTPS client for the Sessions API: one request per connection, the server's
//! self-signed certificate (from its data dir) as the only trusted root, so the test
//! checks real TLS, not a disabled verifier.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// The first error's code and message, from `{"errors":[…]}`.
    pub fn error(&self) -> (String, String) {
        let json = self.json();
        let first = &json["errors"][0];
        (
            first["code"].as_str().unwrap_or_default().to_owned(),
            first["message"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

pub struct Client {
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
}

impl Client {
    /// A client trusting `cert` (PEM), waiting up to 10 s for the server to listen.
    pub fn new(addr: SocketAddr, cert: &Path) -> Client {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !cert.is_file() || TcpStream::connect(addr).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the Sessions API did not listen on {addr} with {}",
                cert.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let pem = std::fs::read(cert).expect("read the server's certificate");
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots
                .add(c.expect("certificate"))
                .expect("trust the certificate");
        }
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Client {
            addr,
            config: Arc::new(config),
        }
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let tls = rustls::ClientConnection::new(self.config.clone(), name).expect("TLS client");
        let tcp = TcpStream::connect(self.addr).expect("connect to the Sessions API");
        tcp.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut stream = rustls::StreamOwned::new(tls, tcp);
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream
            .write_all(request.as_bytes())
            .expect("send the request");
        let mut raw = Vec::new();
        // A close without TLS close_notify still ends the response.
        let _ = stream.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Reply {
            status,
            head: head.to_owned(),
            body,
        }
    }

    /// A request with `Authorization: Bearer <token>`, JSON body.
    pub fn call(&self, method: &str, path: &str, token: &str, body: &str) -> Reply {
        let auth = format!("Bearer {token}");
        self.request(
            method,
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body,
        )
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}
