//! Sample-rate conversion for mono 16-bit PCM.
//!
//! 2:1 conversions (8 kHz <-> 16 kHz, and 16 <-> 32, 24 <-> 48 kHz) use a
//! linear-phase windowed-sinc half-band FIR; other ratios low-pass filter
//! (when reducing the rate) and then interpolate linearly. All filter state
//! is kept between calls so consecutive frames join without clicks.
//!
//! This runs on every transcoded packet, so the filters are written to be cheap: 2:1
//! interpolation is polyphase (the stuffed zeros are never multiplied), decimation
//! computes only the samples it keeps, and every output is one dot product over a
//! contiguous window that the compiler vectorises.

/// Taps of the half-band filter used for 2:1 conversions.
const HALF_BAND_TAPS: usize = 47;

/// A streaming sample-rate converter.
#[derive(Clone, Debug)]
pub struct Resampler {
    mode: Mode,
}

#[derive(Clone, Debug)]
enum Mode {
    Copy,
    /// Zero-stuffing by 2 followed by the half-band low-pass, in polyphase form.
    Up2(Polyphase2),
    /// Half-band low-pass followed by dropping every other sample;
    /// `skip` is true when the next filtered sample is to be dropped.
    Down2 {
        fir: Fir,
        skip: bool,
    },
    /// Optional anti-alias low-pass, then linear interpolation. `pos` is the
    /// position of the next output between `prev` and the next input
    /// sample, in units of 1/`to` of an input period.
    Linear {
        fir: Option<Fir>,
        from: u64,
        to: u64,
        prev: f32,
        pos: u64,
    },
}

impl Resampler {
    /// A converter from `from_rate` to `to_rate` Hz. Equal rates (or a rate
    /// of zero) copy the input unchanged.
    pub fn new(from_rate: u32, to_rate: u32) -> Self {
        let mode = if from_rate == to_rate || from_rate == 0 || to_rate == 0 {
            Mode::Copy
        } else if u64::from(to_rate) == 2 * u64::from(from_rate) {
            Mode::Up2(Polyphase2::new(&Fir::low_pass(0.25, HALF_BAND_TAPS)))
        } else if u64::from(from_rate) == 2 * u64::from(to_rate) {
            Mode::Down2 {
                fir: Fir::low_pass(0.25, HALF_BAND_TAPS),
                skip: false,
            }
        } else {
            let fir = (to_rate < from_rate).then(|| {
                let ratio = f64::from(from_rate) / f64::from(to_rate);
                // Hamming transition width is about 3.3/N of the input rate;
                // aim for a fifth of the output Nyquist band.
                let taps = ((16.5 * ratio) as usize).clamp(31, 255) | 1;
                Fir::low_pass(0.45 * f64::from(to_rate) / f64::from(from_rate), taps)
            });
            Mode::Linear {
                fir,
                from: u64::from(from_rate),
                to: u64::from(to_rate),
                prev: 0.0,
                pos: 0,
            }
        };
        Resampler { mode }
    }

    /// Converts `input` and appends the result to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        match &mut self.mode {
            Mode::Copy => out.extend_from_slice(input),
            Mode::Up2(poly) => {
                out.reserve(input.len() * 2);
                for &x in input {
                    poly.history.push(f32::from(x));
                    // The output at the real sample, then at the stuffed zero; the
                    // factor 2 restores the gain zero-stuffing halved.
                    for phase in [&poly.even, &poly.odd] {
                        out.push(to_i16(2.0 * dot(poly.history.newest(phase.len()), phase)));
                    }
                }
            }
            Mode::Down2 { fir, skip } => {
                out.reserve(input.len() / 2 + 1);
                for &x in input {
                    fir.history.push(f32::from(x));
                    if !*skip {
                        out.push(to_i16(fir.output()));
                    }
                    *skip = !*skip;
                }
            }
            Mode::Linear {
                fir,
                from,
                to,
                prev,
                pos,
            } => {
                for &x in input {
                    let cur = match fir {
                        Some(fir) => {
                            fir.history.push(f32::from(x));
                            fir.output()
                        }
                        None => f32::from(x),
                    };
                    while *pos < *to {
                        let t = *pos as f32 / *to as f32;
                        out.push(to_i16(*prev + (cur - *prev) * t));
                        *pos += *from;
                    }
                    *pos -= *to;
                    *prev = cur;
                }
            }
        }
    }
}

fn to_i16(v: f32) -> i16 {
    v.round().clamp(-32768.0, 32767.0) as i16
}

/// The newest samples of a stream, stored twice over (at `at` and `at + len`), so the
/// newest `n` of them are always one contiguous slice, oldest first.
#[derive(Clone, Debug)]
struct History {
    buf: Vec<f32>,
    len: usize,
    /// Where the next sample goes: the oldest one's place.
    at: usize,
}

impl History {
    fn new(len: usize) -> Self {
        Self {
            buf: vec![0.0; 2 * len],
            len,
            at: 0,
        }
    }

    fn push(&mut self, x: f32) {
        self.buf[self.at] = x;
        self.buf[self.at + self.len] = x;
        self.at = (self.at + 1) % self.len;
    }

    /// The newest `n` samples (at most the length kept), oldest first.
    fn newest(&self, n: usize) -> &[f32] {
        let end = self.at + self.len;
        &self.buf[end - n.min(self.len)..end]
    }
}

/// `a · b` over the shorter length, in eight independent lanes so that it vectorises
/// (a single running f32 sum must be kept in order and cannot be).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// A symmetric (linear-phase) FIR filter with its delay line.
#[derive(Clone, Debug)]
struct Fir {
    taps: Vec<f32>,
    history: History,
}

impl Fir {
    /// Hamming-windowed sinc low-pass with cutoff `fc` (a fraction of the
    /// sample rate, < 0.5), normalised to unity gain at DC.
    fn low_pass(fc: f64, len: usize) -> Self {
        let mid = (len - 1) as f64 / 2.0;
        let mut taps: Vec<f64> = (0..len)
            .map(|n| {
                let x = n as f64 - mid;
                let sinc = if x == 0.0 {
                    2.0 * fc
                } else {
                    (2.0 * std::f64::consts::PI * fc * x).sin() / (std::f64::consts::PI * x)
                };
                let window =
                    0.54 - 0.46 * (2.0 * std::f64::consts::PI * n as f64 / (len - 1) as f64).cos();
                sinc * window
            })
            .collect();
        let sum: f64 = taps.iter().sum();
        taps.iter_mut().for_each(|t| *t /= sum);
        Fir {
            taps: taps.into_iter().map(|t| t as f32).collect(),
            history: History::new(len),
        }
    }

    /// Filter output for the current delay line. The taps are symmetric, so
    /// walking the history oldest-first is the same as newest-first.
    fn output(&self) -> f32 {
        dot(self.history.newest(self.taps.len()), &self.taps)
    }
}

/// A FIR filter run over a stream zero-stuffed by 2, split into its two phases: at a
/// real sample the output takes the even taps over the real samples only, at a stuffed
/// zero the odd taps. Each phase of a symmetric odd-length filter is symmetric itself,
/// so the windows can be walked oldest-first.
#[derive(Clone, Debug)]
struct Polyphase2 {
    even: Vec<f32>,
    odd: Vec<f32>,
    history: History,
}

impl Polyphase2 {
    fn new(fir: &Fir) -> Self {
        let phase = |first: usize| fir.taps.iter().skip(first).step_by(2).copied().collect();
        let even: Vec<f32> = phase(0);
        Self {
            history: History::new(even.len()),
            odd: phase(1),
            even,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel::{dominant_frequency, power};
    use crate::tone::ToneGenerator;

    const CANDIDATES: [f32; 6] = [300.0, 500.0, 1000.0, 2000.0, 3000.0, 3500.0];

    fn tone(freq: f32, rate: u32, len: usize) -> Vec<i16> {
        let mut v = vec![0i16; len];
        ToneGenerator::new(&[freq], 10000, rate).fill(&mut v);
        v
    }

    fn run_in_frames(r: &mut Resampler, input: &[i16], frame: usize) -> Vec<i16> {
        let mut out = Vec::new();
        for chunk in input.chunks(frame) {
            r.process(chunk, &mut out);
        }
        out
    }

    #[test]
    fn up_8k_to_16k_keeps_tone() {
        let input = tone(1000.0, 8000, 1600);
        let out = run_in_frames(&mut Resampler::new(8000, 16000), &input, 160);
        assert_eq!(out.len(), 3200);
        let tail = &out[100..];
        assert_eq!(dominant_frequency(tail, 16000, &CANDIDATES), Some(1000.0));
        // The spectral image at 7 kHz is suppressed.
        assert!(power(tail, 1000.0, 16000) > 1000.0 * power(tail, 7000.0, 16000));
        // Amplitude is preserved (peak near 10000).
        let peak = tail.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((9500..=10500).contains(&peak), "peak {peak}");
    }

    #[test]
    fn down_16k_to_8k_keeps_tone_and_rejects_alias() {
        let input = tone(1000.0, 16000, 3200);
        let out = run_in_frames(&mut Resampler::new(16000, 8000), &input, 321);
        assert_eq!(out.len(), 1600);
        let tail = &out[50..];
        assert_eq!(dominant_frequency(tail, 8000, &CANDIDATES), Some(1000.0));

        // A 7 kHz tone would alias to 1 kHz; the low-pass removes it.
        let hi = tone(7000.0, 16000, 3200);
        let out = run_in_frames(&mut Resampler::new(16000, 8000), &hi, 320);
        let rms = (out[50..].iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
            / (out.len() - 50) as f64)
            .sqrt();
        assert!(rms < 100.0, "alias rms {rms}");
    }

    #[test]
    fn framing_does_not_change_output() {
        for (from, to) in [(8000, 16000), (16000, 8000), (44100, 8000), (8000, 11025)] {
            let input = tone(440.0, from, 4410);
            let whole = run_in_frames(&mut Resampler::new(from, to), &input, input.len());
            let framed = run_in_frames(&mut Resampler::new(from, to), &input, 97);
            assert_eq!(whole, framed, "{from}->{to}");
        }
    }

    #[test]
    fn other_rates_to_telephony() {
        for from in [11025u32, 22050, 32000, 44100, 48000] {
            for to in [8000u32, 16000] {
                let input = tone(1000.0, from, from as usize);
                let out = run_in_frames(&mut Resampler::new(from, to), &input, 441);
                let diff = out.len() as i64 - to as i64;
                assert!(diff.abs() <= 1, "{from}->{to}: {}", out.len());
                let tail = &out[200..];
                assert_eq!(
                    dominant_frequency(tail, to, &CANDIDATES),
                    Some(1000.0),
                    "{from}->{to}"
                );
            }
        }
    }

    #[test]
    fn equal_rates_copy() {
        let input = tone(1000.0, 8000, 160);
        let mut out = vec![1];
        Resampler::new(8000, 8000).process(&input, &mut out);
        assert_eq!(&out[1..], &input[..]);
    }
}
