//! Opus through the system's libopus, loaded at run time.
//!
//! Linking libopus at build time would make `cargo build` fail on a machine without
//! its development package; loading `libopus.so.0` when first needed keeps the build
//! self-contained, and Opus is simply not offered where the library is absent.
//! Switchboard runs Opus at 16 kHz mono (wideband, what the mixer uses); RTP still
//! counts 48 kHz as RFC 7587 requires.

use std::ffi::c_int;
use std::sync::OnceLock;

/// Opus's own constants (opus_defines.h).
const OPUS_APPLICATION_VOIP: c_int = 2048;
const OPUS_OK: c_int = 0;
pub(super) const SAMPLE_RATE: u32 = 16_000;
/// The largest frame we decode: 120 ms at 16 kHz.
const MAX_FRAME: usize = 1920;

type CreateEncoder = unsafe extern "C" fn(i32, c_int, c_int, *mut c_int) -> *mut u8;
type Encode = unsafe extern "C" fn(*mut u8, *const i16, c_int, *mut u8, i32) -> i32;
type CreateDecoder = unsafe extern "C" fn(i32, c_int, *mut c_int) -> *mut u8;
type Decode = unsafe extern "C" fn(*mut u8, *const u8, i32, *mut i16, c_int, c_int) -> c_int;
type Destroy = unsafe extern "C" fn(*mut u8);

struct Library {
    // Kept loaded for the life of the process: the function pointers point into it.
    _lib: libloading::Library,
    create_encoder: CreateEncoder,
    encode: Encode,
    destroy_encoder: Destroy,
    create_decoder: CreateDecoder,
    decode: Decode,
    destroy_decoder: Destroy,
}

fn library() -> Option<&'static Library> {
    static LIB: OnceLock<Option<Library>> = OnceLock::new();
    LIB.get_or_init(|| {
        // SAFETY: libopus's initialisers have no preconditions, and each symbol is
        // read with the C signature of opus.h.
        unsafe {
            let lib = libloading::Library::new("libopus.so.0").ok()?;
            let create_encoder = *lib.get::<CreateEncoder>(b"opus_encoder_create\0").ok()?;
            let encode = *lib.get::<Encode>(b"opus_encode\0").ok()?;
            let destroy_encoder = *lib.get::<Destroy>(b"opus_encoder_destroy\0").ok()?;
            let create_decoder = *lib.get::<CreateDecoder>(b"opus_decoder_create\0").ok()?;
            let decode = *lib.get::<Decode>(b"opus_decode\0").ok()?;
            let destroy_decoder = *lib.get::<Destroy>(b"opus_decoder_destroy\0").ok()?;
            Some(Library {
                _lib: lib,
                create_encoder,
                encode,
                destroy_encoder,
                create_decoder,
                decode,
                destroy_decoder,
            })
        }
    })
    .as_ref()
}

/// Whether libopus could be loaded on this machine.
pub fn available() -> bool {
    library().is_some()
}

/// An Opus encoder (16 kHz mono, VoIP tuning); encodes nothing without libopus.
#[derive(Debug)]
pub(super) struct Encoder {
    state: *mut u8,
}

// SAFETY: the encoder state is only touched through `&mut self`; libopus keeps no
// thread-local state.
unsafe impl Send for Encoder {}

impl Encoder {
    pub(super) fn new() -> Self {
        let state = library().map_or(std::ptr::null_mut(), |lib| {
            let mut error: c_int = 0;
            // SAFETY: valid rate/channels/application; `error` outlives the call.
            let state = unsafe {
                (lib.create_encoder)(SAMPLE_RATE as i32, 1, OPUS_APPLICATION_VOIP, &mut error)
            };
            if error == OPUS_OK {
                state
            } else {
                std::ptr::null_mut()
            }
        });
        Self { state }
    }

    /// Encodes one frame (2.5–60 ms of samples at 16 kHz).
    pub(super) fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        let Some(lib) = library().filter(|_| !self.state.is_null()) else {
            return;
        };
        let mut packet = [0u8; 1500];
        let samples = c_int::try_from(pcm.len()).unwrap_or(0);
        // SAFETY: `state` is a live encoder; `pcm` holds `samples` samples and
        // `packet` has the length passed.
        let len = unsafe {
            (lib.encode)(
                self.state,
                pcm.as_ptr(),
                samples,
                packet.as_mut_ptr(),
                packet.len() as i32,
            )
        };
        if let Some(bytes) = usize::try_from(len).ok().and_then(|n| packet.get(..n)) {
            out.extend_from_slice(bytes);
        }
    }
}

impl Clone for Encoder {
    /// A fresh encoder: Opus state is not meant to be duplicated.
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        if let Some(lib) = library().filter(|_| !self.state.is_null()) {
            // SAFETY: created by `opus_encoder_create`, destroyed once.
            unsafe { (lib.destroy_encoder)(self.state) };
        }
    }
}

/// An Opus decoder at 16 kHz mono.
#[derive(Debug)]
pub(super) struct Decoder {
    state: *mut u8,
}

// SAFETY: as for the encoder.
unsafe impl Send for Decoder {}

impl Decoder {
    pub(super) fn new() -> Self {
        let state = library().map_or(std::ptr::null_mut(), |lib| {
            let mut error: c_int = 0;
            // SAFETY: valid rate/channels; `error` outlives the call.
            let state = unsafe { (lib.create_decoder)(SAMPLE_RATE as i32, 1, &mut error) };
            if error == OPUS_OK {
                state
            } else {
                std::ptr::null_mut()
            }
        });
        Self { state }
    }

    /// Decodes one packet (any bytes: libopus rejects what is not Opus).
    pub(super) fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        let Some(lib) = library().filter(|_| !self.state.is_null()) else {
            return;
        };
        let mut pcm = [0i16; MAX_FRAME];
        let len = i32::try_from(payload.len()).unwrap_or(0);
        // SAFETY: `state` is a live decoder; `payload` holds `len` bytes and `pcm`
        // has room for the frame size passed.
        let samples = unsafe {
            (lib.decode)(
                self.state,
                payload.as_ptr(),
                len,
                pcm.as_mut_ptr(),
                MAX_FRAME as c_int,
                0,
            )
        };
        if let Some(decoded) = usize::try_from(samples).ok().and_then(|n| pcm.get(..n)) {
            out.extend_from_slice(decoded);
        }
    }
}

impl Clone for Decoder {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        if let Some(lib) = library().filter(|_| !self.state.is_null()) {
            // SAFETY: created by `opus_decoder_create`, destroyed once.
            unsafe { (lib.destroy_decoder)(self.state) };
        }
    }
}
