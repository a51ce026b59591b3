//! ITU-T G.711 µ-law and A-law companding.
//!
//! Hand-written: decoding is a 256-entry table built at compile time and
//! encoding is the standard segment search, so the hot path is a handful of
//! integer operations with no dependency.

const fn ulaw_decode(u: u8) -> i16 {
    let u = !u;
    let t = (((u & 0x0F) as i32) << 3) + 0x84;
    let t = t << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

const fn alaw_decode(a: u8) -> i16 {
    let a = a ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (seg - 1),
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

const fn build_table(alaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if alaw {
            alaw_decode(i as u8)
        } else {
            ulaw_decode(i as u8)
        };
        i += 1;
    }
    table
}

static ULAW_TABLE: [i16; 256] = build_table(false);
static ALAW_TABLE: [i16; 256] = build_table(true);

/// Index of the first segment end that is >= `value` (8 when none is).
fn segment(value: i32, ends: &[i32; 8]) -> usize {
    ends.iter().position(|&end| value <= end).unwrap_or(8)
}

/// Encodes a linear sample to µ-law.
pub fn linear_to_ulaw(s: i16) -> u8 {
    const ENDS: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
    const CLIP: i32 = 8159;
    const BIAS: i32 = 0x84 >> 2;
    let mut v = i32::from(s) >> 2;
    let mask = if v < 0 {
        v = -v;
        0x7F
    } else {
        0xFF
    };
    let v = v.min(CLIP) + BIAS;
    let seg = segment(v, &ENDS);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let code = ((seg as i32) << 4) | ((v >> (seg + 1)) & 0x0F);
    (code as u8) ^ mask
}

/// Decodes a µ-law byte to a linear sample.
pub fn ulaw_to_linear(u: u8) -> i16 {
    ULAW_TABLE[usize::from(u)]
}

/// Encodes a linear sample to A-law.
pub fn linear_to_alaw(s: i16) -> u8 {
    const ENDS: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    let mut v = i32::from(s) >> 3;
    let mask = if v >= 0 {
        0xD5
    } else {
        v = -v - 1;
        0x55
    };
    let seg = segment(v, &ENDS);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let shift = if seg < 2 { 1 } else { seg };
    let code = ((seg as i32) << 4) | ((v >> shift) & 0x0F);
    (code as u8) ^ mask
}

/// Decodes an A-law byte to a linear sample.
pub fn alaw_to_linear(a: u8) -> i16 {
    ALAW_TABLE[usize::from(a)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_known_values() {
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0xFE), 8);
        assert_eq!(ulaw_to_linear(0x7E), -8);
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
    }

    #[test]
    fn alaw_known_values() {
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
    }

    #[test]
    fn codes_are_fixed_points() {
        for b in 0..=255u8 {
            let u = ulaw_to_linear(b);
            assert_eq!(ulaw_to_linear(linear_to_ulaw(u)), u, "ulaw {b:#04x}");
            let a = alaw_to_linear(b);
            assert_eq!(linear_to_alaw(a), b, "alaw {b:#04x}");
        }
    }

    #[test]
    fn round_trip_error_is_bounded() {
        for s in i16::MIN..=i16::MAX {
            let mag = i32::from(s).abs();
            let eu = (i32::from(ulaw_to_linear(linear_to_ulaw(s))) - i32::from(s)).abs();
            let ea = (i32::from(alaw_to_linear(linear_to_alaw(s))) - i32::from(s)).abs();
            // Quantisation error is at most about half a step: 1/32 of the
            // magnitude plus a small constant (beyond the clip points the
            // error grows to the distance from the largest code).
            if mag <= 32124 {
                assert!(eu <= mag / 32 + 8, "ulaw {s}: {eu}");
            } else {
                assert!(eu <= 645, "ulaw {s}: {eu}");
            }
            assert!(ea <= mag / 32 + 16, "alaw {s}: {ea}");
        }
    }
}
