//! Multi-frequency tone generation (ringback, busy, DTMF, test tones).

use std::f64::consts::TAU;

/// Generates the sum of one or more sines, phase-continuous across calls.
#[derive(Clone, Debug)]
pub struct ToneGenerator {
    /// Per-component phase and phase increment, in radians.
    components: Vec<(f64, f64)>,
    /// Peak amplitude of each component, so the sum never exceeds the
    /// requested amplitude.
    component_amplitude: f64,
}

impl ToneGenerator {
    /// A generator of `freqs` (Hz) at `sample_rate` whose sum peaks at
    /// `amplitude`. No frequencies (or a zero sample rate) yield silence.
    pub fn new(freqs: &[f32], amplitude: i16, sample_rate: u32) -> Self {
        let components = if sample_rate == 0 {
            Vec::new()
        } else {
            freqs
                .iter()
                .map(|&f| (0.0, TAU * f64::from(f) / f64::from(sample_rate)))
                .collect()
        };
        let n = freqs.len().max(1) as f64;
        ToneGenerator {
            components,
            component_amplitude: f64::from(amplitude).abs() / n,
        }
    }

    /// Overwrites `out` with the next samples of the tone.
    pub fn fill(&mut self, out: &mut [i16]) {
        for sample in out.iter_mut() {
            let mut sum = 0.0;
            for (phase, step) in &mut self.components {
                sum += phase.sin();
                *phase = (*phase + *step) % TAU;
            }
            *sample = (sum * self.component_amplitude)
                .round()
                .clamp(-32768.0, 32767.0) as i16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel::{dominant_frequency, power};

    #[test]
    fn single_tone_peak_and_frequency() {
        let mut buf = vec![0i16; 8000];
        ToneGenerator::new(&[1000.0], 8000, 8000).fill(&mut buf);
        let peak = buf.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((7990..=8000).contains(&peak), "{peak}");
        assert_eq!(
            dominant_frequency(&buf, 8000, &[400.0, 1000.0, 1400.0]),
            Some(1000.0)
        );
    }

    #[test]
    fn dual_tone_never_exceeds_amplitude() {
        let mut buf = vec![0i16; 16000];
        ToneGenerator::new(&[697.0, 1209.0], 32767, 8000).fill(&mut buf);
        assert!(buf.iter().all(|&s| s != i16::MIN));
        let peak = buf.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak > 30000, "{peak}");
        let p697 = power(&buf, 697.0, 8000);
        let p1209 = power(&buf, 1209.0, 8000);
        assert!((p697 / p1209 - 1.0).abs() < 0.1);
        assert!(p697 > 100.0 * power(&buf, 941.0, 8000));
    }

    #[test]
    fn phase_continuous_across_calls() {
        let mut whole = vec![0i16; 480];
        ToneGenerator::new(&[440.0, 480.0], 10000, 8000).fill(&mut whole);
        let mut gen = ToneGenerator::new(&[440.0, 480.0], 10000, 8000);
        let mut framed = Vec::new();
        for _ in 0..3 {
            let mut frame = [0i16; 160];
            gen.fill(&mut frame);
            framed.extend_from_slice(&frame);
        }
        for (a, b) in whole.iter().zip(&framed) {
            assert!((i32::from(*a) - i32::from(*b)).abs() <= 1);
        }
    }

    #[test]
    fn no_frequencies_is_silence() {
        let mut buf = [5i16; 10];
        ToneGenerator::new(&[], 1000, 8000).fill(&mut buf);
        assert_eq!(buf, [0; 10]);
    }
}
