//! In-band DTMF: detecting digits in decoded audio (for peers that send
//! tones instead of RFC 4733 events) and generating the dual tones.
//!
//! The detector follows the classic spandsp/Asterisk design: Goertzel
//! filters for the eight DTMF frequencies over 102-sample blocks (12.75 ms
//! at 8 kHz, scaled with the rate), and a block counts as a digit only if
//! one row and one column tone are each strong enough, clearly above the
//! other tones of their group, within the twist limits, and together carry
//! most of the block's energy (which rejects speech and noise). A digit
//! starts after two such blocks in a row, ends after two blocks without it,
//! and is reported, once, when it ends, if it lasted long enough.

use super::rfc4733::Digit;
use crate::goertzel;
use crate::tone::ToneGenerator;

const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Block length at 8 kHz.
const BLOCK_8K: u64 = 102;
/// Minimum power of each tone, as [`goertzel::power`] measures it (about
/// -34 dBm0 per tone).
const MIN_TONE_POWER: f64 = 1.0e-4;
/// The row tone may exceed the column tone by 8 dB ("normal twist" in
/// spandsp/Asterisk terms), the column the row by 4 dB ("reverse twist").
const NORMAL_TWIST: f64 = 6.31;
const REVERSE_TWIST: f64 = 2.51;
/// Each peak must be 8 dB above the other tones of its group.
const RELATIVE_PEAK: f64 = 6.31;
/// Share of the block's energy the two tones must carry.
const MIN_TONE_SHARE: f64 = 0.6;
/// Consecutive detecting blocks that start a digit, and non-detecting
/// blocks that end it.
const HITS_TO_BEGIN: u32 = 2;
const MISSES_TO_END: u32 = 2;
/// Digits shorter than this (as measured in whole blocks) are ignored.
const MIN_DURATION_MS: u32 = 35;

/// The (row, column) frequencies of a DTMF digit (0-9, *, #, A-D).
fn frequencies(digit: char) -> Option<(f32, f32)> {
    let digit = digit.to_ascii_uppercase();
    KEYS.iter().enumerate().find_map(|(r, row)| {
        let c = row.iter().position(|&k| k == digit)?;
        Some((ROWS[r], COLS[c]))
    })
}

/// The dual tone of `digit` for `duration_ms`, peaking at `amplitude`
/// (both tones at the same level). `None` for a non-DTMF character or a
/// zero sample rate.
pub fn generate(
    digit: char,
    duration_ms: u32,
    sample_rate: u32,
    amplitude: i16,
) -> Option<Vec<i16>> {
    let (row, col) = frequencies(digit)?;
    if sample_rate == 0 {
        return None;
    }
    let len = u64::from(duration_ms) * u64::from(sample_rate) / 1000;
    let mut pcm = vec![0i16; len as usize];
    ToneGenerator::new(&[row, col], amplitude, sample_rate).fill(&mut pcm);
    Some(pcm)
}

/// A digit being received: the blocks from its first to its latest
/// detection, and the non-detecting blocks since.
#[derive(Debug, Clone, Copy)]
struct Active {
    digit: char,
    blocks: u32,
    misses: u32,
}

/// Detects DTMF digits in a stream of PCM.
#[derive(Debug, Clone)]
pub struct Detector {
    sample_rate: u32,
    block_len: usize,
    /// Samples of the block being filled.
    block: Vec<i16>,
    /// A digit seen in the last blocks but not yet started, and how often.
    candidate: Option<(char, u32)>,
    active: Option<Active>,
}

impl Detector {
    pub fn new(sample_rate: u32) -> Self {
        let sample_rate = if sample_rate == 0 { 8000 } else { sample_rate };
        let block_len = ((BLOCK_8K * u64::from(sample_rate) + 4000) / 8000).max(1) as usize;
        Detector {
            sample_rate,
            block_len,
            block: Vec::with_capacity(block_len),
            candidate: None,
            active: None,
        }
    }

    /// Feeds PCM of any length; returns the digits that ended within it,
    /// each reported once, with its duration. (A digit still sounding at
    /// the end of the input is reported by a later call.)
    pub fn feed(&mut self, pcm: &[i16]) -> Vec<Digit> {
        let mut digits = Vec::new();
        let mut rest = pcm;
        while !rest.is_empty() {
            let take = (self.block_len - self.block.len()).min(rest.len());
            self.block.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.block.len() == self.block_len {
                let hit = self.classify();
                self.block.clear();
                if let Some(digit) = self.on_block(hit) {
                    digits.push(digit);
                }
            }
        }
        digits
    }

    /// The digit a full block holds, if it passes every check.
    fn classify(&self) -> Option<char> {
        let block = &self.block;
        let energy = block
            .iter()
            .map(|&s| (f64::from(s) / 32768.0).powi(2))
            .sum::<f64>()
            / block.len() as f64;
        let rows = ROWS.map(|f| goertzel::power(block, f, self.sample_rate));
        let cols = COLS.map(|f| goertzel::power(block, f, self.sample_rate));
        let (r, row) = peak(&rows)?;
        let (c, col) = peak(&cols)?;
        let clear = row >= MIN_TONE_POWER
            && col >= MIN_TONE_POWER
            && row <= col * NORMAL_TWIST
            && col <= row * REVERSE_TWIST
            && row + col >= MIN_TONE_SHARE * energy;
        (clear && stands_out(&rows, r) && stands_out(&cols, c)).then_some(KEYS[r][c])
    }

    /// Advances the debouncing state by one block; returns a digit that
    /// just ended.
    fn on_block(&mut self, hit: Option<char>) -> Option<Digit> {
        let mut ended = None;
        if let Some(active) = &mut self.active {
            if hit == Some(active.digit) {
                active.blocks += active.misses + 1;
                active.misses = 0;
                return None;
            }
            active.misses += 1;
            if hit.is_none() && active.misses < MISSES_TO_END {
                return None;
            }
            let (digit, blocks) = (active.digit, active.blocks);
            self.active = None;
            let duration_ms = self.blocks_ms(blocks);
            ended = (duration_ms >= MIN_DURATION_MS).then_some(Digit { digit, duration_ms });
        }
        match hit {
            None => self.candidate = None,
            Some(digit) => {
                let hits = match self.candidate {
                    Some((d, n)) if d == digit => n + 1,
                    _ => 1,
                };
                if hits >= HITS_TO_BEGIN {
                    self.active = Some(Active {
                        digit,
                        blocks: hits,
                        misses: 0,
                    });
                    self.candidate = None;
                } else {
                    self.candidate = Some((digit, hits));
                }
            }
        }
        ended
    }

    fn blocks_ms(&self, blocks: u32) -> u32 {
        let samples = u64::from(blocks) * self.block_len as u64;
        ((samples * 1000 + u64::from(self.sample_rate) / 2) / u64::from(self.sample_rate)) as u32
    }
}

/// Index and power of the strongest of `powers`.
fn peak(powers: &[f64; 4]) -> Option<(usize, f64)> {
    powers
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Whether `powers[i]` is `RELATIVE_PEAK` above every other entry.
fn stands_out(powers: &[f64; 4], i: usize) -> bool {
    powers
        .iter()
        .enumerate()
        .all(|(j, &p)| j == i || powers[i] >= p * RELATIVE_PEAK)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random numbers in -1..1.
    struct Lcg(u32);

    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            f64::from(self.0 >> 8) / f64::from(1u32 << 23) - 1.0
        }
    }

    fn silence(ms: u32, rate: u32) -> Vec<i16> {
        vec![0; (ms * rate / 1000) as usize]
    }

    /// Feeds `pcm` in awkward chunk sizes, then half a second of silence.
    fn detect(pcm: &[i16], rate: u32) -> Vec<Digit> {
        let mut det = Detector::new(rate);
        let mut digits = Vec::new();
        for chunk in pcm.chunks(37) {
            digits.extend(det.feed(chunk));
        }
        digits.extend(det.feed(&silence(500, rate)));
        digits
    }

    fn sequence(digits: &str, on_ms: u32, off_ms: u32, rate: u32, amplitude: i16) -> Vec<i16> {
        let mut pcm = silence(off_ms, rate);
        for d in digits.chars() {
            pcm.extend(generate(d, on_ms, rate, amplitude).unwrap());
            pcm.extend(silence(off_ms, rate));
        }
        pcm
    }

    #[test]
    fn detects_generated_digits_at_8k_and_16k() {
        for rate in [8000, 16000] {
            for amplitude in [20000, 2000] {
                let pcm = sequence("123#", 100, 100, rate, amplitude);
                let digits = detect(&pcm, rate);
                let chars: String = digits.iter().map(|d| d.digit).collect();
                assert_eq!(chars, "123#", "{rate} Hz, amplitude {amplitude}");
                for d in &digits {
                    assert!((80..=120).contains(&d.duration_ms), "{rate} Hz: {d:?}");
                }
            }
        }
        let all = sequence("0123456789*#ABCD", 60, 60, 8000, 10000);
        let chars: String = detect(&all, 8000).iter().map(|d| d.digit).collect();
        assert_eq!(chars, "0123456789*#ABCD");
    }

    #[test]
    fn digits_end_within_the_chunk_that_ends_them() {
        let mut det = Detector::new(8000);
        assert!(det
            .feed(&generate('5', 200, 8000, 10000).unwrap())
            .is_empty());
        // Still sounding: nothing yet; 30 ms of silence ends it.
        let digits = det.feed(&silence(30, 8000));
        assert_eq!(digits.len(), 1);
        assert_eq!(digits[0].digit, '5');
        assert!(det.feed(&silence(500, 8000)).is_empty());
        // Lower-case generation works too.
        assert_eq!(generate('a', 10, 8000, 1000).unwrap().len(), 80);
        assert_eq!(generate('x', 10, 8000, 1000), None);
        assert_eq!(generate('1', 10, 0, 1000), None);
    }

    #[test]
    fn short_blips_are_rejected() {
        let mut pcm = silence(100, 8000);
        pcm.extend(generate('7', 30, 8000, 10000).unwrap());
        pcm.extend(silence(100, 8000));
        assert_eq!(detect(&pcm, 8000), []);
        let mut pcm = silence(100, 16000);
        pcm.extend(generate('7', 30, 16000, 10000).unwrap());
        assert_eq!(detect(&pcm, 16000), []);
        // 50 ms is a valid digit.
        let mut pcm = silence(100, 8000);
        pcm.extend(generate('7', 50, 8000, 10000).unwrap());
        assert_eq!(detect(&pcm, 8000).len(), 1);
    }

    /// A row and a column tone at given levels (peak amplitudes).
    fn twisted(row_amp: i16, col_amp: i16) -> Vec<i16> {
        let mut row = vec![0i16; 1600];
        let mut col = vec![0i16; 1600];
        ToneGenerator::new(&[770.0], row_amp, 8000).fill(&mut row);
        ToneGenerator::new(&[1336.0], col_amp, 8000).fill(&mut col);
        let mut pcm = silence(50, 8000);
        pcm.extend(row.iter().zip(&col).map(|(&r, &c)| r + c));
        pcm
    }

    #[test]
    fn twist_limits() {
        let db = |base: f64, db: f64| (base * 10f64.powf(db / 20.0)) as i16;
        let found = |pcm: Vec<i16>| {
            detect(&pcm, 8000)
                .iter()
                .map(|d| d.digit)
                .collect::<String>()
        };
        // Row louder by 6 dB, column louder by 3 dB: fine.
        assert_eq!(found(twisted(db(4000.0, 6.0), 4000)), "5");
        assert_eq!(found(twisted(4000, db(4000.0, 3.0))), "5");
        // Row louder by 10 dB, column louder by 6 dB: rejected.
        assert_eq!(found(twisted(db(4000.0, 10.0), 4000)), "");
        assert_eq!(found(twisted(4000, db(4000.0, 6.0))), "");
        // Either tone alone is no digit.
        assert_eq!(found(twisted(8000, 0)), "");
        assert_eq!(found(twisted(0, 8000)), "");
        // Too quiet.
        assert_eq!(found(twisted(200, 200)), "");
    }

    #[test]
    fn noise_and_speech_like_signals_give_no_digits() {
        let mut rng = Lcg(12345);
        let white: Vec<i16> = (0..16000).map(|_| (rng.next() * 12000.0) as i16).collect();
        assert_eq!(detect(&white, 8000), []);

        // Speech-like: a few partials of a wandering fundamental with
        // random levels, changing every 40 ms.
        let mut speech = Vec::new();
        for _ in 0..100 {
            let f0 = 100.0 + 150.0 * (rng.next() + 1.0);
            let mut seg = vec![0f64; 320];
            for k in 1..=8 {
                let amp = 3000.0 * (rng.next() + 1.0) / f64::from(k);
                let phase = rng.next() * std::f64::consts::PI;
                let w = std::f64::consts::TAU * f0 * f64::from(k) / 8000.0;
                for (i, s) in seg.iter_mut().enumerate() {
                    *s += amp * (w * i as f64 + phase).sin();
                }
            }
            speech.extend(seg.iter().map(|&s| s.clamp(-32768.0, 32767.0) as i16));
        }
        assert_eq!(detect(&speech, 8000), []);

        // Digits still come through moderate noise.
        let mut pcm = sequence("9", 100, 100, 8000, 16000);
        for s in &mut pcm {
            *s = s.saturating_add((rng.next() * 1000.0) as i16);
        }
        let digits = detect(&pcm, 8000);
        assert_eq!(digits.iter().map(|d| d.digit).collect::<String>(), "9");
    }
}
