//! ITU-T G.722 (64 kbit/s, mode 1) sub-band ADPCM.
//!
//! Written by hand from the ITU-T algorithm description: a 24-tap QMF
//! splits 16 kHz audio into two 8 kHz sub-bands; the lower band is coded
//! with 6-bit ADPCM and the upper band with 2-bit ADPCM, each with the
//! "block 4" pole/zero predictor. Every 16-bit sample pair yields one octet
//! (upper-band bits 7..6, lower-band bits 5..0). All arithmetic is integer
//! and every table index is masked, so any input is safe.

/// QMF coefficients (one half of the symmetric 24-tap filter).
const QMF: [i32; 12] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];

/// Lower-band quantiser decision levels.
const Q6: [i32; 32] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0,
];
/// Lower-band codes for negative / positive differences.
const ILN: [i32; 32] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4, 0,
];
const ILP: [i32; 32] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32, 0,
];
/// Lower-band log scale factor multipliers, indexed through RL42.
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
/// Inverse log table for the scale factor.
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];
/// Lower-band inverse quantiser, 4-bit (predictor feedback path).
const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];
/// Lower-band inverse quantiser, 6-bit (decoder output path, mode 1).
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];
/// Upper-band codes, inverse quantiser and scale factor multipliers.
const IHN: [i32; 3] = [0, 1, 0];
const IHP: [i32; 3] = [0, 3, 2];
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];
const WH: [i32; 3] = [0, -214, 798];
const RH2: [usize; 4] = [2, 1, 2, 1];

fn sat16(v: i32) -> i32 {
    v.clamp(-32768, 32767)
}

/// Adaptive predictor and scale factor state of one sub-band.
#[derive(Clone, Debug)]
struct Band {
    /// Predicted signal.
    s: i32,
    /// Zero-section prediction.
    sz: i32,
    /// Reconstructed signal history.
    r: [i32; 3],
    /// Pole coefficients.
    a: [i32; 3],
    /// Partial reconstruction history (pole sign tracking).
    p: [i32; 3],
    /// Quantised difference history.
    d: [i32; 7],
    /// Zero coefficients.
    b: [i32; 7],
    /// Log scale factor.
    nb: i32,
    /// Quantiser scale factor.
    det: i32,
}

impl Band {
    fn new(det: i32) -> Self {
        Band {
            s: 0,
            sz: 0,
            r: [0; 3],
            a: [0; 3],
            p: [0; 3],
            d: [0; 7],
            b: [0; 7],
            nb: 0,
            det,
        }
    }

    /// Log scale factor adaptation (LOGSCL/LOGSCH) followed by the linear
    /// scale factor (SCALEL/SCALEH). `limit` and `shift` differ per band.
    fn adapt_scale(&mut self, w: i32, limit: i32, shift: i32) {
        self.nb = (((self.nb * 127) >> 7) + w).clamp(0, limit);
        let frac = ILB[((self.nb >> 6) & 31) as usize];
        let sh = shift - (self.nb >> 11);
        let wd = if sh < 0 { frac << -sh } else { frac >> sh };
        self.det = wd << 2;
    }

    /// Block 4: reconstruction, predictor coefficient adaptation and the
    /// next prediction, given the quantised difference `d`.
    fn block4(&mut self, d: i32) {
        // RECONS / PARREC
        self.d[0] = d;
        self.r[0] = sat16(self.s + d);
        self.p[0] = sat16(self.sz + d);

        // UPPOL2: second pole coefficient.
        let sg0 = self.p[0] >> 15;
        let sg1 = self.p[1] >> 15;
        let sg2 = self.p[2] >> 15;
        let wd1 = sat16(self.a[1] << 2);
        let wd2 = if sg0 == sg1 { -wd1 } else { wd1 }.min(32767);
        let mut a2 = (wd2 >> 7) + if sg0 == sg2 { 128 } else { -128 };
        a2 += (self.a[2] * 32512) >> 15;
        let a2 = a2.clamp(-12288, 12288);

        // UPPOL1: first pole coefficient, bounded by the second.
        let wd1 = if sg0 == sg1 { 192 } else { -192 };
        let wd2 = (self.a[1] * 32640) >> 15;
        let bound = sat16(15360 - a2);
        let a1 = sat16(wd1 + wd2).clamp(-bound, bound);

        // UPZERO: zero coefficients, from the signs of d and its history.
        let step = if d == 0 { 0 } else { 128 };
        let sgd = d >> 15;
        for (b, &past) in self.b.iter_mut().zip(&self.d).skip(1) {
            let wd = if past >> 15 == sgd { step } else { -step };
            *b = sat16(wd + ((*b * 32640) >> 15));
        }

        // DELAYA: shift the histories.
        self.d.copy_within(0..6, 1);
        self.r.copy_within(0..2, 1);
        self.p.copy_within(0..2, 1);
        self.a[1] = a1;
        self.a[2] = a2;

        // FILTEP / FILTEZ / PREDIC
        let sp1 = (self.a[1] * sat16(self.r[1] + self.r[1])) >> 15;
        let sp2 = (self.a[2] * sat16(self.r[2] + self.r[2])) >> 15;
        let sp = sat16(sp1 + sp2);
        let sz: i32 = (1..7)
            .map(|i| (self.b[i] * sat16(self.d[i] + self.d[i])) >> 15)
            .sum();
        self.sz = sat16(sz);
        self.s = sat16(sp + self.sz);
    }
}

/// Initial state of the two bands (lower band scale factor 32, upper 8).
fn new_bands() -> [Band; 2] {
    [Band::new(32), Band::new(8)]
}

/// Lower band: log scale limit 18432, scale shift 8.
fn adapt_low(band: &mut Band, code4: usize, dlow: i32) {
    band.adapt_scale(WL[RL42[code4 & 15]], 18432, 8);
    band.block4(dlow);
}

/// Upper band: log scale limit 22528, scale shift 10.
fn adapt_high(band: &mut Band, code2: usize, dhigh: i32) {
    band.adapt_scale(WH[RH2[code2 & 3]], 22528, 10);
    band.block4(dhigh);
}

#[derive(Clone, Debug)]
pub(super) struct Encoder {
    bands: [Band; 2],
    /// Transmit QMF delay line.
    x: [i32; 24],
    /// Odd sample left over from the previous call.
    pending: Option<i16>,
}

impl Encoder {
    pub(super) fn new() -> Self {
        Encoder {
            bands: new_bands(),
            x: [0; 24],
            pending: None,
        }
    }

    pub(super) fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        let mut rest = pcm;
        if let Some(first) = self.pending.take() {
            match rest.split_first() {
                Some((&second, tail)) => {
                    out.push(self.encode_pair(first, second));
                    rest = tail;
                }
                None => {
                    self.pending = Some(first);
                    return;
                }
            }
        }
        let mut pairs = rest.chunks_exact(2);
        for pair in &mut pairs {
            out.push(self.encode_pair(pair[0], pair[1]));
        }
        self.pending = pairs.remainder().first().copied();
    }

    fn encode_pair(&mut self, s0: i16, s1: i16) -> u8 {
        // Transmit QMF: split into lower and upper sub-band samples.
        self.x.copy_within(2.., 0);
        self.x[22] = i32::from(s0);
        self.x[23] = i32::from(s1);
        let (mut odd, mut even) = (0i32, 0i32);
        for i in 0..12 {
            odd += self.x[2 * i] * QMF[i];
            even += self.x[2 * i + 1] * QMF[11 - i];
        }
        let xlow = (even + odd) >> 14;
        let xhigh = (even - odd) >> 14;

        // Lower band: SUBTRA, QUANTL, INVQAL.
        let low = &mut self.bands[0];
        let el = sat16(xlow - low.s);
        let mag = if el >= 0 { el } else { -(el + 1) };
        // The first decision level above the difference (30 if none): the levels grow
        // with the index, so a binary search (5 steps, not up to 29).
        let level = 1 + Q6[1..30].partition_point(|&q| mag >= (q * low.det) >> 12);
        let ilow = if el < 0 { ILN[level] } else { ILP[level] };
        let code4 = (ilow >> 2) as usize & 15;
        let dlow = (low.det * QM4[code4]) >> 15;
        adapt_low(low, code4, dlow);

        // Upper band: SUBTRA, QUANTH, INVQAH.
        let high = &mut self.bands[1];
        let eh = sat16(xhigh - high.s);
        let mag = if eh >= 0 { eh } else { -(eh + 1) };
        let mih = if mag >= (564 * high.det) >> 12 { 2 } else { 1 };
        let ihigh = if eh < 0 { IHN[mih] } else { IHP[mih] };
        let code2 = ihigh as usize & 3;
        let dhigh = (high.det * QM2[code2]) >> 15;
        adapt_high(high, code2, dhigh);

        ((ihigh << 6) | ilow) as u8
    }
}

#[derive(Clone, Debug)]
pub(super) struct Decoder {
    bands: [Band; 2],
    /// Receive QMF delay line.
    x: [i32; 24],
}

impl Decoder {
    pub(super) fn new() -> Self {
        Decoder {
            bands: new_bands(),
            x: [0; 24],
        }
    }

    pub(super) fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        out.reserve(payload.len() * 2);
        for &code in payload {
            let (a, b) = self.decode_octet(code);
            out.push(a);
            out.push(b);
        }
    }

    fn decode_octet(&mut self, code: u8) -> (i16, i16) {
        let ilow = usize::from(code & 0x3F);
        let ihigh = usize::from(code >> 6);

        // Lower band: INVQBL, RECONS, LIMIT, then adaptation via INVQAL.
        let low = &mut self.bands[0];
        let rlow = (low.s + ((low.det * QM6[ilow]) >> 15)).clamp(-16384, 16383);
        let code4 = ilow >> 2;
        let dlow = (low.det * QM4[code4]) >> 15;
        adapt_low(low, code4, dlow);

        // Upper band: INVQAH, RECONS, LIMIT, adaptation.
        let high = &mut self.bands[1];
        let dhigh = (high.det * QM2[ihigh]) >> 15;
        let rhigh = (high.s + dhigh).clamp(-16384, 16383);
        adapt_high(high, ihigh, dhigh);

        // Receive QMF: recombine the sub-bands into two 16 kHz samples.
        self.x.copy_within(2.., 0);
        self.x[22] = rlow + rhigh;
        self.x[23] = rlow - rhigh;
        let (mut out1, mut out2) = (0i32, 0i32);
        for i in 0..12 {
            out2 += self.x[2 * i] * QMF[i];
            out1 += self.x[2 * i + 1] * QMF[11 - i];
        }
        (sat16(out1 >> 11) as i16, sat16(out2 >> 11) as i16)
    }
}
