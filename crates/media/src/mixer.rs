//! N-party mix-minus for conference bridges.
//!
//! Each party must hear everyone but itself: summing the others separately
//! for every party costs O(N²) per sample, so the full mix is summed once in
//! 32 bits and each party's own frame is subtracted from it, which is exact
//! before the final saturation to 16 bits.

/// Mixes one frame per party per media clock tick, at a fixed rate and
/// frame size.
#[derive(Debug, Clone)]
pub struct Mixer {
    sample_rate: u32,
    frame_samples: usize,
    /// Scratch buffer for the 32-bit full mix, kept between ticks.
    sum: Vec<i32>,
}

/// The result of one tick.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MixOutput {
    /// For party `i`, everyone else's audio (the full mix if `i` was absent).
    pub per_party: Vec<Vec<i16>>,
    /// Everyone's audio, e.g. for recording the bridge.
    pub full: Vec<i16>,
}

impl Mixer {
    /// A mixer for `frame_samples`-sample frames at `sample_rate` Hz (8000
    /// or 16000 in practice; the rate only documents what the frames are).
    pub fn new(sample_rate: u32, frame_samples: usize) -> Self {
        Mixer {
            sample_rate,
            frame_samples,
            sum: vec![0; frame_samples],
        }
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    pub fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    /// Mixes one tick. `inputs[i]` is party `i`'s frame, or `None` when the
    /// party is silent or absent. A frame shorter than the mixer's frame
    /// size counts as padded with silence; extra samples are ignored. Every
    /// output frame has exactly `frame_samples` samples, saturated to i16.
    pub fn mix(&mut self, inputs: &[Option<&[i16]>]) -> MixOutput {
        self.sum.iter_mut().for_each(|s| *s = 0);
        for frame in inputs.iter().flatten() {
            for (acc, &x) in self.sum.iter_mut().zip(frame.iter()) {
                *acc += i32::from(x);
            }
        }
        let full: Vec<i16> = self.sum.iter().map(|&s| saturate(s)).collect();
        let per_party = inputs
            .iter()
            .map(|input| match input {
                None => full.clone(),
                Some(own) => {
                    let own = own.iter().copied().chain(std::iter::repeat(0));
                    self.sum
                        .iter()
                        .zip(own)
                        .map(|(&s, x)| saturate(s - i32::from(x)))
                        .collect()
                }
            })
            .collect();
        MixOutput { per_party, full }
    }
}

fn saturate(s: i32) -> i16 {
    s.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel::power;
    use crate::tone::ToneGenerator;

    const RATE: u32 = 8000;
    const FRAME: usize = 160;

    #[test]
    fn each_party_hears_the_others_but_not_itself() {
        let freqs = [500.0, 1100.0, 1700.0];
        let mut gens: Vec<ToneGenerator> = freqs
            .iter()
            .map(|&f| ToneGenerator::new(&[f], 8000, RATE))
            .collect();
        let mut mixer = Mixer::new(RATE, FRAME);
        let mut heard = vec![Vec::new(); 3];
        let mut full = Vec::new();
        for _ in 0..5 {
            let frames: Vec<Vec<i16>> = gens
                .iter_mut()
                .map(|g| {
                    let mut f = vec![0i16; FRAME];
                    g.fill(&mut f);
                    f
                })
                .collect();
            let inputs: Vec<Option<&[i16]>> = frames.iter().map(|f| Some(f.as_slice())).collect();
            let out = mixer.mix(&inputs);
            assert_eq!(out.per_party.len(), 3);
            for (h, o) in heard.iter_mut().zip(&out.per_party) {
                assert_eq!(o.len(), FRAME);
                h.extend_from_slice(o);
            }
            full.extend_from_slice(&out.full);
        }
        for (i, h) in heard.iter().enumerate() {
            for (j, &f) in freqs.iter().enumerate() {
                let p = power(h, f, RATE);
                if i == j {
                    assert!(p < 1e-6, "party {i} hears itself: {p}");
                } else {
                    assert!(p > 0.02, "party {i} misses party {j}: {p}");
                }
            }
        }
        for &f in &freqs {
            assert!(power(&full, f, RATE) > 0.02);
        }
    }

    #[test]
    fn clipping_saturates() {
        let loud = vec![30000i16; FRAME];
        let neg = vec![-30000i16; FRAME];
        let mut mixer = Mixer::new(RATE, FRAME);
        let out = mixer.mix(&[Some(&loud), Some(&loud), Some(&loud)]);
        assert!(out.full.iter().all(|&s| s == i16::MAX));
        // Each party hears 60000, saturated; the 32-bit sum keeps the
        // subtraction exact even though the full mix clipped.
        assert!(out.per_party.iter().flatten().all(|&s| s == i16::MAX));
        let out = mixer.mix(&[Some(&loud), Some(&neg), Some(&neg)]);
        assert!(out.full.iter().all(|&s| s == -30000));
        assert!(out.per_party[0].iter().all(|&s| s == i16::MIN));
        assert!(out.per_party[1].iter().all(|&s| s == 0));
    }

    #[test]
    fn absent_and_short_inputs() {
        let a = vec![1000i16; FRAME];
        let short = vec![50i16; 10];
        let mut mixer = Mixer::new(RATE, FRAME);
        let out = mixer.mix(&[Some(&a), None, Some(&short)]);
        assert_eq!(out.full[0], 1050);
        assert_eq!(out.full[FRAME - 1], 1000);
        assert_eq!(out.per_party[0][0], 50);
        assert_eq!(out.per_party[0][FRAME - 1], 0);
        // An absent party hears everyone.
        assert_eq!(out.per_party[1], out.full);
        assert!(out.per_party[2].iter().all(|&s| s == 1000));

        let out = mixer.mix(&[None, None]);
        assert_eq!(out.full, vec![0; FRAME]);
        assert_eq!(out.per_party, vec![vec![0; FRAME]; 2]);
        let out = mixer.mix(&[]);
        assert!(out.per_party.is_empty());
        assert_eq!(out.full.len(), FRAME);
        assert_eq!((mixer.sample_rate(), mixer.frame_samples()), (RATE, FRAME));
    }
}
