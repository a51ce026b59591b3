//! A small ARI client for the tests: HTTP/1.1 requests and the events
//! WebSocket over std `TcpStream`, and a checker of JSON values against the
//! models of the server's own api-docs.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::server::{ARI_PASSWORD, ARI_USER};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body as it came (a downloaded file is not text).
    pub bytes: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts the status and returns the JSON body (Null when empty).
    pub fn expect(&self, status: u16, what: &str) -> Value {
        assert_eq!(
            self.status, status,
            "{what}: expected {status}, got {} {}",
            self.status, self.body
        );
        if self.body.trim().is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Asserts an ARI error: the status and `{"message": ...}`.
    pub fn expect_error(&self, status: u16, what: &str) -> String {
        let body = self.expect(status, what);
        body["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no message in {body}"))
            .to_string()
    }
}

/// Credentials of a request.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    None,
    Basic(&'a str, &'a str),
}

/// The ARI HTTP client of a test server.
#[derive(Debug, Clone, Copy)]
pub struct Ari {
    pub addr: SocketAddr,
}

impl Ari {
    pub fn new(addr: SocketAddr) -> Ari {
        Ari { addr }
    }

    /// A request as the configured ARI user; `path` is below `/ari`.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Response {
        let body = body.map(Value::to_string);
        self.raw(
            method,
            &format!("/ari{path}"),
            Auth::Basic(ARI_USER, ARI_PASSWORD),
            body.as_deref(),
            &[],
        )
    }

    pub fn get(&self, path: &str) -> Response {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str) -> Response {
        self.call("POST", path, None)
    }

    pub fn delete(&self, path: &str) -> Response {
        self.call("DELETE", path, None)
    }

    /// Any request: `target` is the full path and query.
    pub fn raw(
        &self,
        method: &str,
        target: &str,
        auth: Auth<'_>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut stream = TcpStream::connect(self.addr).expect("connect to ARI");
        stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        let mut request = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Auth::Basic(user, password) = auth {
            request.push_str(&format!(
                "Authorization: Basic {}\r\n",
                base64(format!("{user}:{password}").as_bytes())
            ));
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = body.unwrap_or_default();
        if !body.is_empty() {
            request.push_str("Content-Type: application/json\r\n");
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        stream.write_all(request.as_bytes()).expect("send request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read response");
        parse_response(&raw).unwrap_or_else(|| {
            panic!(
                "{method} {target}: bad response {:?}",
                String::from_utf8_lossy(&raw)
            )
        })
    }
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    Some(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        bytes: body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// Standard base64 (for HTTP Basic and the WebSocket key).
pub fn base64(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The events WebSocket of one or more applications; a thread reads the
/// events into a queue.
pub struct EventSocket {
    rx: mpsc::Receiver<Value>,
    writer: TcpStream,
    /// Events taken from the queue so far, in the order they were taken.
    pub seen: Vec<Value>,
    /// Every event received, in the order it arrived.
    pub arrived: Vec<Value>,
    pending: VecDeque<Value>,
}

/// Opens `/ari/events?<query>` and completes the WebSocket handshake;
/// returns the HTTP response when the server refuses the upgrade.
pub fn ws_handshake(
    addr: SocketAddr,
    query: &str,
) -> Result<(TcpStream, BufReader<TcpStream>), Response> {
    let mut stream = TcpStream::connect(addr).expect("connect to ARI");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    let request = format!(
        "GET /ari/events?{query} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        base64(&super::random_u64().to_be_bytes().repeat(2))
    );
    stream
        .write_all(request.as_bytes())
        .expect("send handshake");
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read handshake") == 0 {
            break;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad handshake response {head:?}"));
    if status != 101 {
        let length: usize = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        let mut rest = vec![0u8; length];
        reader
            .read_exact(&mut rest)
            .expect("read refused upgrade's body");
        let mut raw = head.into_bytes();
        raw.extend_from_slice(&rest);
        return Err(parse_response(&raw).expect("parse refused upgrade"));
    }
    Ok((stream, reader))
}

impl EventSocket {
    /// Connects as the configured user: `query` is e.g. `app=test-app`.
    pub fn connect(addr: SocketAddr, query: &str) -> EventSocket {
        let query = format!("{query}&api_key={ARI_USER}:{ARI_PASSWORD}");
        let (stream, mut reader) = ws_handshake(addr, &query)
            .unwrap_or_else(|r| panic!("WebSocket refused: {} {}", r.status, r.body));
        stream.set_read_timeout(None).expect("no timeout");
        let mut writer = stream.try_clone().expect("clone stream");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut message = Vec::new();
            while let Some((fin, opcode, payload)) = read_frame(&mut reader) {
                match opcode {
                    0 | 1 => {
                        message.extend_from_slice(&payload);
                        if fin {
                            let text = String::from_utf8_lossy(&message).into_owned();
                            message.clear();
                            let value: Value = serde_json::from_str(&text)
                                .unwrap_or_else(|e| panic!("event is not JSON ({e}): {text}"));
                            if tx.send(value).is_err() {
                                return;
                            }
                        }
                    }
                    8 => return,
                    9 => {
                        let _ = write_frame(&mut writer, 10, &payload);
                    }
                    _ => {}
                }
            }
        });
        EventSocket {
            rx,
            writer: stream,
            seen: Vec::new(),
            arrived: Vec::new(),
            pending: VecDeque::new(),
        }
    }

    /// The next event, if one comes within `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Option<Value> {
        let event = match self.pending.pop_front() {
            Some(event) => event,
            None => {
                let event = self.rx.recv_timeout(timeout).ok()?;
                self.arrived.push(event.clone());
                event
            }
        };
        self.seen.push(event.clone());
        Some(event)
    }

    /// Waits for the next event of type `kind`, keeping the others for later
    /// [`EventSocket::next`] calls (they are not lost).
    pub fn wait_for(&mut self, kind: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        if let Some(i) = self.pending.iter().position(|e| e["type"] == kind) {
            let event = self.pending.remove(i).expect("just found");
            self.seen.push(event.clone());
            return event;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let received = self.rx.recv_timeout(left);
            if let Ok(event) = &received {
                self.arrived.push(event.clone());
            }
            match received {
                Ok(event) if event["type"] == kind => {
                    self.seen.push(event.clone());
                    return event;
                }
                Ok(other) => self.pending.push_back(other),
                Err(_) => panic!(
                    "no {kind} event within {timeout:?}; received meanwhile: {:#?}",
                    self.pending
                ),
            }
        }
    }

    /// Whether the server closed the socket (within `timeout`).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            match self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(event) => {
                    self.arrived.push(event.clone());
                    self.pending.push_back(event);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return true,
                Err(mpsc::RecvTimeoutError::Timeout) => return false,
            }
        }
    }

    /// Sends a close frame.
    pub fn close(mut self) {
        let _ = write_frame(&mut self.writer, 8, &1000u16.to_be_bytes());
    }
}

fn read_frame(reader: &mut impl Read) -> Option<(bool, u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    reader.read_exact(&mut head).ok()?;
    let fin = head[0] & 0x80 != 0;
    let opcode = head[0] & 0x0f;
    let masked = head[1] & 0x80 != 0;
    let len = match head[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            reader.read_exact(&mut b).ok()?;
            u64::from(u16::from_be_bytes(b))
        }
        127 => {
            let mut b = [0u8; 8];
            reader.read_exact(&mut b).ok()?;
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    };
    let mut mask = [0u8; 4];
    if masked {
        reader.read_exact(&mut mask).ok()?;
    }
    let mut payload = vec![0u8; usize::try_from(len).ok()?];
    reader.read_exact(&mut payload).ok()?;
    if masked {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    Some((fin, opcode, payload))
}

/// A masked client frame.
fn write_frame(writer: &mut impl Write, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
    let mut frame = vec![0x80 | opcode];
    let len = payload.len();
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    }
    let mask = (super::random_u64() as u32).to_be_bytes();
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    writer.write_all(&frame)
}

/// Every model of every declaration of the server, by name.
pub fn all_models(ari: &Ari) -> Map<String, Value> {
    let listing = ari
        .get("/api-docs/resources.json")
        .expect(200, "resources.json");
    let mut models = Map::new();
    for api in listing["apis"].as_array().expect("apis") {
        let path = api["path"]
            .as_str()
            .expect("path")
            .replace("{format}", "json");
        let declaration = ari.get(&path).expect(200, &path);
        if let Some(m) = declaration["models"].as_object() {
            models.extend(m.clone());
        }
    }
    models
}

/// Checks `value` against model `name`: required properties present, types
/// right, allowable values respected, nested models checked too.
pub fn check_model(models: &Map<String, Value>, name: &str, value: &Value) -> Result<(), String> {
    let model = models
        .get(name)
        .ok_or_else(|| format!("no model {name} in the api-docs"))?;
    let object = value
        .as_object()
        .ok_or_else(|| format!("{name}: not an object: {value}"))?;
    let mut properties = model["properties"].as_object().cloned().unwrap_or_default();
    // Events inherit Event's (and Message's) properties.
    let mut base = model.get("extends").and_then(Value::as_str);
    while let Some(parent) = base {
        let parent_model = models
            .get(parent)
            .ok_or_else(|| format!("no model {parent}"))?;
        if let Some(p) = parent_model["properties"].as_object() {
            for (k, v) in p {
                properties.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        base = parent_model.get("extends").and_then(Value::as_str);
    }
    for (prop, spec) in &properties {
        let required = spec["required"].as_bool().unwrap_or(false);
        let Some(v) = object.get(prop) else {
            if required {
                return Err(format!("{name}.{prop} is required but missing in {value}"));
            }
            continue;
        };
        let ty = spec["type"].as_str().unwrap_or("object");
        check_type(models, &format!("{name}.{prop}"), ty, v)?;
        if let Some(values) = spec["allowableValues"]["values"].as_array() {
            if !values.contains(v) {
                return Err(format!("{name}.{prop}: {v} is not one of {values:?}"));
            }
        }
    }
    Ok(())
}

fn check_type(models: &Map<String, Value>, what: &str, ty: &str, v: &Value) -> Result<(), String> {
    let ok = match ty {
        "string" | "Date" => v.is_string(),
        "int" | "long" => v.is_i64() || v.is_u64(),
        "double" | "float" | "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        _ => {
            if let Some(inner) = ty.strip_prefix("List[").and_then(|t| t.strip_suffix(']')) {
                let items = v
                    .as_array()
                    .ok_or_else(|| format!("{what}: not a list: {v}"))?;
                for item in items {
                    check_type(models, what, inner, item)?;
                }
                return Ok(());
            }
            return check_model(models, ty, v).map_err(|e| format!("{what}: {e}"));
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{what}: {v} is not a {ty}"))
    }
}
