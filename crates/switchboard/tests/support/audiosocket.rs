//! The test's side of AudioSocket (Asterisk's `res_audiosocket` protocol over
//! TCP): a server that switchboard's external media connects to. It records
//! every frame that arrives and answers with a tone, 20 ms frames of 8 kHz
//! signed linear paced in real time, until the test asks it to hang up.
//!
//! A frame is a kind byte, a 2-byte big-endian payload length, the payload.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::Range;
use std::sync::mpsc::{self, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use switchboard_media::tone::ToneGenerator;
use switchboard_media::wav::Pcm;

use super::media::{AMPLITUDE, PTIME};

/// Hang up (no payload).
pub const KIND_HANGUP: u8 = 0x00;
/// The call's UUID, 16 bytes: always the first frame.
pub const KIND_UUID: u8 = 0x01;
/// Audio: signed 16-bit little-endian linear PCM at [`SAMPLE_RATE`].
pub const KIND_AUDIO: u8 = 0x10;
/// Sample rate of AudioSocket audio.
pub const SAMPLE_RATE: u32 = 8000;
/// Payload bytes of a 20 ms audio frame (160 samples).
pub const AUDIO_LEN: usize = 320;
/// How long the server may take to connect.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the connection may stay silent before reading fails.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the tone lasts if the test never asks for the hang-up.
const MAX_TONE: Duration = Duration::from_secs(30);

/// A listening AudioSocket server (127.0.0.1, kernel-chosen port).
pub struct AudioSocketServer {
    listener: TcpListener,
}

impl AudioSocketServer {
    pub fn bind() -> AudioSocketServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind AudioSocket listener");
        AudioSocketServer { listener }
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("AudioSocket listener address")
    }

    /// In a thread: accepts one connection, records every frame that arrives
    /// and sends `freq` back until [`AudioSocketSession::hang_up`].
    pub fn start(self, freq: f32) -> AudioSocketSession {
        let (hang_up, hang_up_rx) = mpsc::channel();
        let thread = std::thread::spawn(move || serve(&self.listener, freq, hang_up_rx));
        AudioSocketSession { hang_up, thread }
    }
}

/// An [`AudioSocketServer`] at work.
pub struct AudioSocketSession {
    hang_up: mpsc::Sender<()>,
    thread: JoinHandle<Result<Conversation, String>>,
}

impl AudioSocketSession {
    /// Stops the tone and sends a hangup frame.
    pub fn hang_up(&self) {
        let _ = self.hang_up.send(());
    }

    /// Waits for the server to close the connection; what went both ways.
    pub fn finish(self) -> Conversation {
        self.thread
            .join()
            .expect("AudioSocket thread")
            .unwrap_or_else(|e| panic!("AudioSocket server: {e}"))
    }
}

/// One frame received.
pub struct Frame {
    pub at: Instant,
    pub kind: u8,
    pub payload: Vec<u8>,
}

/// What an [`AudioSocketSession`] received and sent.
pub struct Conversation {
    /// Every frame received, in order, until the server closed the connection.
    pub frames: Vec<Frame>,
    /// Audio frames sent (before the hangup frame).
    pub sent: usize,
}

impl Conversation {
    /// The audio of the frames that arrived in `window`, as one stream.
    pub fn audio(&self, window: Range<Instant>) -> Pcm {
        let samples = self
            .frames
            .iter()
            .filter(|f| f.kind == KIND_AUDIO && window.contains(&f.at))
            .flat_map(|f| f.payload.chunks_exact(2))
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        Pcm {
            samples,
            sample_rate: SAMPLE_RATE,
        }
    }
}

fn serve(
    listener: &TcpListener,
    freq: f32,
    hang_up: mpsc::Receiver<()>,
) -> Result<Conversation, String> {
    let stream = accept(listener)?;
    let writer = stream
        .try_clone()
        .map_err(|e| format!("clone the connection: {e}"))?;
    let sender = std::thread::spawn(move || send_tone(writer, freq, &hang_up));
    let frames = read_frames(stream);
    let sent = sender.join().expect("AudioSocket tone thread")?;
    Ok(Conversation {
        frames: frames?,
        sent,
    })
}

fn accept(listener: &TcpListener) -> Result<TcpStream, String> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("nonblocking listener: {e}"))?;
    let deadline = Instant::now() + ACCEPT_TIMEOUT;
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(format!("no connection within {ACCEPT_TIMEOUT:?}: {e}")),
        }
    };
    stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(READ_TIMEOUT)))
        .map_err(|e| format!("set up the connection: {e}"))?;
    Ok(stream)
}

/// Every frame until the peer closes the connection.
fn read_frames(mut stream: TcpStream) -> Result<Vec<Frame>, String> {
    let mut frames = Vec::new();
    loop {
        let mut header = [0u8; 3];
        match stream.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(frames),
            Err(e) => return Err(format!("reading after {} frames: {e}", frames.len())),
        }
        let at = Instant::now();
        let [kind, hi, lo] = header;
        let mut payload = vec![0u8; usize::from(u16::from_be_bytes([hi, lo]))];
        stream
            .read_exact(&mut payload)
            .map_err(|e| format!("payload of frame {} (kind {kind:#04x}): {e}", frames.len()))?;
        frames.push(Frame { at, kind, payload });
    }
}

/// Sends `freq` in real time until `hang_up` (or [`MAX_TONE`]), then a
/// hangup frame; the number of audio frames sent.
fn send_tone(
    mut stream: TcpStream,
    freq: f32,
    hang_up: &mpsc::Receiver<()>,
) -> Result<usize, String> {
    let mut tone = ToneGenerator::new(&[freq], AMPLITUDE, SAMPLE_RATE);
    let mut pcm = vec![0i16; AUDIO_LEN / 2];
    let mut frame = Vec::with_capacity(3 + AUDIO_LEN);
    let start = Instant::now();
    let mut sent = 0u32;
    loop {
        let due = start + PTIME * sent;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        match hang_up.try_recv() {
            Err(TryRecvError::Empty) if due - start < MAX_TONE => {}
            _ => break,
        }
        tone.fill(&mut pcm);
        frame.clear();
        frame.push(KIND_AUDIO);
        frame.extend_from_slice(
            &u16::try_from(AUDIO_LEN)
                .expect("frame length")
                .to_be_bytes(),
        );
        frame.extend(pcm.iter().flat_map(|s| s.to_le_bytes()));
        stream
            .write_all(&frame)
            .map_err(|e| format!("sending audio frame {sent}: {e}"))?;
        sent += 1;
    }
    stream
        .write_all(&[KIND_HANGUP, 0, 0])
        .map_err(|e| format!("sending the hangup frame after {sent} audio frames: {e}"))?;
    Ok(sent as usize)
}
