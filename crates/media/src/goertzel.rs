//! Single-frequency power measurement (Goertzel algorithm), used to detect
//! tones and to check audio in tests.

/// RMS (in 16-bit units) below which a signal counts as silence.
const SILENCE_RMS: f64 = 100.0;

/// Power of `samples` at `freq` Hz: the mean power of that sinusoidal
/// component with samples scaled to [-1, 1). A full-scale sine measured at
/// its own frequency gives about 0.5; at a frequency a few bins away, a
/// value orders of magnitude smaller. Empty input or a zero sample rate
/// gives 0.
pub fn power(samples: &[i16], freq: f32, sample_rate: u32) -> f64 {
    if samples.is_empty() || sample_rate == 0 {
        return 0.0;
    }
    let w = std::f64::consts::TAU * f64::from(freq) / f64::from(sample_rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s = f64::from(x) / 32768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let mag2 = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let n = samples.len() as f64;
    2.0 * mag2 / (n * n)
}

/// The candidate frequency with the largest power, or `None` if there are
/// no candidates or the signal is near-silent (RMS below 100).
pub fn dominant_frequency(samples: &[i16], sample_rate: u32, candidates: &[f32]) -> Option<f32> {
    if samples.is_empty() {
        return None;
    }
    let energy: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    if (energy / samples.len() as f64).sqrt() < SILENCE_RMS {
        return None;
    }
    candidates
        .iter()
        .map(|&f| (f, power(samples, f, sample_rate)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(f, _)| f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::ToneGenerator;

    fn sine(freq: f32, amp: i16, len: usize) -> Vec<i16> {
        let mut v = vec![0i16; len];
        ToneGenerator::new(&[freq], amp, 8000).fill(&mut v);
        v
    }

    #[test]
    fn power_is_normalised() {
        let s = sine(1000.0, 32767, 800);
        let p = power(&s, 1000.0, 8000);
        assert!((p - 0.5).abs() < 0.01, "{p}");
        assert!(p > 1e4 * power(&s, 1500.0, 8000));
        let half = sine(1000.0, 16384, 800);
        assert!((power(&half, 1000.0, 8000) - 0.125).abs() < 0.01);
    }

    #[test]
    fn dominant() {
        let s = sine(852.0, 5000, 400);
        let dtmf_rows = [697.0, 770.0, 852.0, 941.0];
        assert_eq!(dominant_frequency(&s, 8000, &dtmf_rows), Some(852.0));
        assert_eq!(dominant_frequency(&s, 8000, &[]), None);
        assert_eq!(dominant_frequency(&[], 8000, &dtmf_rows), None);
        let quiet = sine(852.0, 100, 400);
        assert_eq!(dominant_frequency(&quiet, 8000, &dtmf_rows), None);
        assert_eq!(power(&s, 852.0, 0), 0.0);
    }
}
