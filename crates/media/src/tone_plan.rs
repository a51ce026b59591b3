//! Call progress tones as playable plans: Asterisk indications (by name and
//! country, or as `Playtones()` tone lists) and FreeSWITCH `tone_stream://`
//! specifications, rendered frame by frame.
//!
//! Both syntaxes describe a sequence of (frequencies, duration) segments
//! with some repetition rule, so both parse into the same [`TonePlan`];
//! [`TonePlayer`] renders any plan at any rate. The named tones are the
//! values published in Asterisk's `indications.conf.sample`.

use std::f64::consts::TAU;

use crate::tone::ToneGenerator;
use crate::MediaError;

/// Asterisk's default `Playtones()` level for each frequency component.
const ASTERISK_COMPONENT_AMPLITUDE: i16 = 7219;
/// Asterisk's (documented) modulation depth for `f1*f2`.
const MODULATION_DEPTH: f64 = 0.9;
/// FreeSWITCH's default tone level (dBm0) and the level range it accepts.
const FS_DEFAULT_VOLUME_DB: f64 = -7.0;
const FS_VOLUME_RANGE_DB: std::ops::RangeInclusive<f64> = -63.0..=0.0;
/// libteletone's scale: a sine at `DBM0_MAX_POWER` (3.14 + 3.02 dB) is
/// full scale.
const FS_DBM0_MAX_POWER: f64 = 6.16;
/// Cap on segments after expanding loop counts.
const MAX_SEGMENTS: usize = 1000;

/// A sequence of tone segments and how it repeats.
#[derive(Debug, Clone, PartialEq)]
pub struct TonePlan {
    pub segments: Vec<ToneSegment>,
    /// Index of the segment playback returns to after the last one, or
    /// `None` to stop after the last one. (Asterisk: the first element not
    /// marked `!`; so `!a,!b,c,d` plays `a b` once and then `c d` forever.)
    pub repeat_from: Option<usize>,
}

/// One segment: the sum of `freqs` (silence if empty) for `duration_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneSegment {
    pub freqs: Vec<f32>,
    /// `freqs[0]` amplitude-modulated by `freqs[1]` (Asterisk's `f1*f2`)
    /// instead of their sum.
    pub modulate: bool,
    /// `None` plays forever.
    pub duration_ms: Option<u32>,
    /// Peak amplitude of the segment's signal.
    pub amplitude: i16,
}

/// An Asterisk tone zone: the tone lists of the indications this crate
/// knows, from Asterisk's `indications.conf.sample`.
struct Zone {
    countries: &'static [&'static str],
    dial: &'static str,
    busy: &'static str,
    ring: &'static str,
    congestion: &'static str,
    callwaiting: &'static str,
    info: &'static str,
}

const ZONES: &[Zone] = &[
    Zone {
        countries: &["us"],
        dial: "350+440",
        busy: "480+620/500,0/500",
        ring: "440+480/2000,0/4000",
        congestion: "480+620/250,0/250",
        callwaiting: "440/300,0/10000",
        info: "!950/330,!1400/330,!1800/330,0",
    },
    Zone {
        countries: &["uk", "gb"],
        dial: "350+440",
        busy: "400/375,0/375",
        ring: "400+450/400,0/200,400+450/400,0/2000",
        congestion: "400/400,0/350,400/225,0/525",
        callwaiting: "400/100,0/4000",
        info: "950/330,0/15,1400/330,0/15,1800/330,0/1000",
    },
    Zone {
        countries: &["de"],
        dial: "425",
        busy: "425/480,0/480",
        ring: "425/1000,0/4000",
        congestion: "425/240,0/240",
        callwaiting: "!425/200,!0/200,!425/200,!0/5000,!425/200,!0/200,!425/200,!0/5000,\
                      !425/200,!0/200,!425/200,!0/5000,!425/200,!0/200,!425/200,!0/5000,\
                      !425/200,!0/200,!425/200,0",
        info: "950/330,1400/330,1800/330,0/1000",
    },
    Zone {
        countries: &["fr"],
        dial: "440",
        busy: "440/500,0/500",
        ring: "440/1500,0/3500",
        congestion: "440/250,0/250",
        callwaiting: "440/300,0/10000",
        info: "!950/330,!1400/330,!1800/330",
    },
    Zone {
        countries: &["it"],
        dial: "425/200,0/200,425/600,0/1000",
        busy: "425/500,0/500",
        ring: "425/1000,0/4000",
        congestion: "425/200,0/200",
        callwaiting: "425/400,0/100,425/250,0/100,425/150,0/14000",
        info: "!950/330,!1400/330,!1800/330,!0/1000,!950/330,!1400/330,!1800/330,!0/1000,\
               !950/330,!1400/330,!1800/330,!0/1000,0",
    },
    Zone {
        countries: &["nl"],
        dial: "425",
        busy: "425/500,0/500",
        ring: "425/1000,0/4000",
        congestion: "425/250,0/250",
        callwaiting: "425/500,0/9500",
        info: "950/330,1400/330,1800/330,0/1000",
    },
    Zone {
        countries: &["au"],
        dial: "413+438",
        busy: "425/375,0/375",
        ring: "413+438/400,0/200,413+438/400,0/2000",
        congestion: "425/375,0/375,420/375,0/375",
        callwaiting: "425/200,0/200,425/200,0/4400",
        info: "425/2500,0/500",
    },
    Zone {
        countries: &["jp"],
        dial: "400",
        busy: "400/500,0/500",
        ring: "400+15/1000,0/2000",
        congestion: "400/500,0/500",
        callwaiting: "400+16/500,0/8000",
        info: "!950/330,!1400/330,!1800/330,0",
    },
    Zone {
        countries: &["se"],
        dial: "425",
        busy: "425/250,0/250",
        ring: "425/1000,0/5000",
        congestion: "425/250,0/750",
        callwaiting: "425/200,0/500,425/200,0/9100",
        info: "!950/332,!0/24,!1400/332,!0/24,!1800/332,!0/2024,\
               !950/332,!0/24,!1400/332,!0/24,!1800/332,!0/2024,\
               !950/332,!0/24,!1400/332,!0/24,!1800/332,!0/2024,\
               !950/332,!0/24,!1400/332,!0/24,!1800/332,!0/2024,\
               !950/332,!0/24,!1400/332,!0/24,!1800/332,0",
    },
];

fn syntax(msg: impl Into<String>) -> MediaError {
    MediaError::ToneSyntax(msg.into())
}

impl TonePlan {
    /// The indication `name` (`dial`, `busy`, `ring`, `congestion`,
    /// `callwaiting`, `info`) of `country` (`us`, `uk`/`gb`, `de`, `fr`,
    /// `it`, `nl`, `au`, `jp`, `se`), both case-insensitive.
    pub fn named(name: &str, country: &str) -> Option<TonePlan> {
        let zone = ZONES
            .iter()
            .find(|z| z.countries.iter().any(|c| c.eq_ignore_ascii_case(country)))?;
        let list = match name.to_ascii_lowercase().as_str() {
            "dial" => zone.dial,
            "busy" => zone.busy,
            "ring" => zone.ring,
            "congestion" => zone.congestion,
            "callwaiting" | "callwait" => zone.callwaiting,
            "info" => zone.info,
            _ => return None,
        };
        Self::parse_asterisk(list).ok()
    }

    /// An Asterisk/ARI `tone:` media URI: `tone:name[;tonezone=cc]` for an
    /// indication (of `default_country` unless a zone is given), or
    /// `tone:<tone list>` for an explicit [`TonePlan::parse_asterisk`] list.
    /// The `tone:` prefix is optional.
    pub fn parse_tone_uri(uri: &str, default_country: &str) -> Result<TonePlan, MediaError> {
        let spec = uri.strip_prefix("tone:").unwrap_or(uri);
        let mut parts = spec.split(';');
        let tone = parts.next().unwrap_or("").trim();
        let mut country = default_country;
        for param in parts {
            match param.trim().split_once('=') {
                Some((key, value)) if key.trim().eq_ignore_ascii_case("tonezone") => {
                    country = value.trim();
                }
                _ => return Err(syntax(format!("unknown tone parameter '{param}'"))),
            }
        }
        if !tone.is_empty() && tone.chars().all(|c| c.is_ascii_alphabetic()) {
            return Self::named(tone, country)
                .ok_or_else(|| syntax(format!("no tone '{tone}' in tone zone '{country}'")));
        }
        Self::parse_asterisk(tone)
    }

    /// Parses an Asterisk tone list, as used by `Playtones()` and
    /// `indications.conf`: elements `[!]freq[+freq...|*freq][/ms]`
    /// separated by `,` (or `|`). A frequency may be a MIDI note `M<n>`;
    /// `0` is silence; no duration (or `/0`) plays forever; `f1*f2` is `f1`
    /// modulated by `f2`. Elements marked `!` play once; repetition restarts
    /// at the first element not so marked.
    pub fn parse_asterisk(list: &str) -> Result<TonePlan, MediaError> {
        let separator = if list.contains('|') { '|' } else { ',' };
        let mut items: Vec<&str> = list.split(separator).map(str::trim).collect();
        if items.len() > 1 && items.last() == Some(&"") {
            items.pop(); // a trailing separator
        }
        let mut plan = TonePlan {
            segments: Vec::with_capacity(items.len()),
            repeat_from: None,
        };
        for item in items {
            let (once, element) = match item.strip_prefix('!') {
                Some(rest) => (true, rest.trim_start()),
                None => (false, item),
            };
            if !once && plan.repeat_from.is_none() {
                plan.repeat_from = Some(plan.segments.len());
            }
            plan.segments.push(parse_element(element)?);
        }
        Ok(plan)
    }

    /// Parses a FreeSWITCH tone stream (the part after `tone_stream://`,
    /// which may be included): `;`-separated instructions, in order:
    ///
    /// * `%(on_ms,off_ms,freq[,freq...])`: the frequencies for `on_ms`, then
    ///   `off_ms` of silence; several may follow each other;
    /// * `v=<dB>`: level of the following tones, -63..=0 dBm0 (default -7);
    /// * `l=<n>`: play the next tone `n` times (-1: forever);
    /// * `L=<n>`: play the whole stream `n` times; `loops=<n>` (as in
    ///   `mod_tone_stream`) likewise, with -1 for forever;
    /// * `r=`, `c=` (rate, channels) are accepted and ignored: the player
    ///   decides those.
    ///
    /// A stream without loops plays once.
    pub fn parse_tone_stream(spec: &str) -> Result<TonePlan, MediaError> {
        let spec = spec.strip_prefix("tone_stream://").unwrap_or(spec);
        let mut volume = FS_DEFAULT_VOLUME_DB;
        let mut tone_loops: i64 = 1;
        let mut stream_loops: Option<i64> = None;
        let mut segments = Vec::new();
        let mut repeat_from = None;
        'items: for item in spec.split(';').map(str::trim) {
            if let Some((key, value)) = item.split_once('=') {
                let value = value.trim();
                match key.trim() {
                    "v" => {
                        volume = parse_num::<f64>(value, "volume")?;
                        if !FS_VOLUME_RANGE_DB.contains(&volume) {
                            return Err(syntax(format!("volume {value} outside -63..=0")));
                        }
                    }
                    "l" => tone_loops = parse_num(value, "loop count")?,
                    // FreeSWITCH honours only the first L, and only if positive.
                    "L" => {
                        let n: i64 = parse_num(value, "loop count")?;
                        if n > 0 && stream_loops.is_none() {
                            stream_loops = Some(n);
                        }
                    }
                    "loops" => stream_loops = Some(parse_num(value, "loop count")?),
                    "r" | "c" => {
                        parse_num::<u32>(value, key)?;
                    }
                    _ => return Err(syntax(format!("unsupported tone stream setting '{item}'"))),
                }
                continue;
            }
            let mut rest = item;
            while !rest.is_empty() {
                let body = rest
                    .strip_prefix("%(")
                    .ok_or_else(|| syntax(format!("expected '%(' in '{item}'")))?;
                let (args, after) = body
                    .split_once(')')
                    .ok_or_else(|| syntax(format!("missing ')' in '{item}'")))?;
                rest = after.trim_start();
                let tone = parse_fs_tone(args, volume)?;
                if tone_loops < 0 {
                    // This tone forever: nothing after it can play.
                    repeat_from = Some(segments.len());
                    segments.extend(tone);
                    break 'items;
                }
                for _ in 0..tone_loops.max(1) {
                    if segments.len() + tone.len() > MAX_SEGMENTS {
                        return Err(syntax("tone stream too long"));
                    }
                    segments.extend(tone.iter().cloned());
                }
                tone_loops = 1;
            }
        }
        if segments.is_empty() {
            return Err(syntax(format!("no tones in '{spec}'")));
        }
        if repeat_from.is_none() {
            match stream_loops {
                Some(n) if n < 0 => repeat_from = Some(0),
                Some(n) if n > 1 => {
                    let count = usize::try_from(n).unwrap_or(usize::MAX);
                    if segments.len().saturating_mul(count) > MAX_SEGMENTS {
                        return Err(syntax("tone stream too long"));
                    }
                    segments = (0..count).flat_map(|_| segments.clone()).collect();
                }
                _ => {}
            }
        }
        Ok(TonePlan {
            segments,
            repeat_from,
        })
    }
}

fn parse_num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, MediaError> {
    s.trim()
        .parse()
        .map_err(|_| syntax(format!("invalid {what} '{s}'")))
}

/// A frequency in Hz, or a MIDI note `M<n>` (0..=127).
fn parse_freq(s: &str) -> Result<f32, MediaError> {
    let s = s.trim();
    if let Some(note) = s.strip_prefix('M') {
        let note: u8 = parse_num(note, "MIDI note")?;
        if note > 127 {
            return Err(syntax(format!("MIDI note {note} out of range")));
        }
        return Ok(440.0 * 2f32.powf((f32::from(note) - 69.0) / 12.0));
    }
    let f: f32 = parse_num(s, "frequency")?;
    if !f.is_finite() || f < 0.0 {
        return Err(syntax(format!("invalid frequency '{s}'")));
    }
    Ok(f)
}

/// One Asterisk tone list element, without its `!`.
fn parse_element(element: &str) -> Result<ToneSegment, MediaError> {
    let (tone, duration) = match element.split_once('/') {
        Some((tone, ms)) => (tone, parse_num::<u32>(ms, "duration")?),
        None => (element, 0),
    };
    if tone.trim().is_empty() {
        return Err(syntax(format!("missing frequency in '{element}'")));
    }
    let modulate = tone.contains('*');
    let freqs = tone
        .split(if modulate { '*' } else { '+' })
        .map(parse_freq)
        .collect::<Result<Vec<f32>, _>>()?;
    let (freqs, amplitude) = if modulate {
        if freqs.len() != 2 {
            return Err(syntax(format!(
                "modulation needs two frequencies: '{element}'"
            )));
        }
        (freqs, ASTERISK_COMPONENT_AMPLITUDE)
    } else {
        let freqs: Vec<f32> = freqs.into_iter().filter(|&f| f > 0.0).collect();
        let amplitude = i32::from(ASTERISK_COMPONENT_AMPLITUDE) * freqs.len() as i32;
        (freqs, amplitude.min(i32::from(i16::MAX)) as i16)
    };
    Ok(ToneSegment {
        freqs,
        modulate,
        duration_ms: (duration > 0).then_some(duration),
        amplitude,
    })
}

/// The body of a FreeSWITCH `%(on,off,freq...)`: a tone segment and a
/// silence segment (either left out when zero).
fn parse_fs_tone(args: &str, volume_db: f64) -> Result<Vec<ToneSegment>, MediaError> {
    let mut args = args.split(',');
    let on: u32 = parse_num(args.next().unwrap_or(""), "on duration")?;
    let off: u32 = parse_num(args.next().unwrap_or(""), "off duration")?;
    let freqs = args.map(parse_freq).collect::<Result<Vec<f32>, _>>()?;
    if freqs.is_empty() {
        return Err(syntax("a tone needs at least one frequency"));
    }
    // libteletone: each component at the level, averaged (not summed).
    let scale = 10f64.powf((volume_db - FS_DBM0_MAX_POWER) / 20.0) * 32767.0 * 2f64.sqrt();
    let amplitude = scale.round().min(32767.0) as i16;
    let mut segments = Vec::with_capacity(2);
    if on > 0 {
        segments.push(ToneSegment {
            freqs: freqs.into_iter().filter(|&f| f > 0.0).collect(),
            modulate: false,
            duration_ms: Some(on),
            amplitude,
        });
    }
    if off > 0 {
        segments.push(ToneSegment {
            freqs: Vec::new(),
            modulate: false,
            duration_ms: Some(off),
            amplitude: 0,
        });
    }
    Ok(segments)
}

/// The oscillator of the current segment.
#[derive(Debug, Clone)]
enum Voice {
    Sum(ToneGenerator),
    /// Carrier and modulator phase and phase increment (radians), and peak
    /// amplitude.
    Modulated {
        carrier: (f64, f64),
        modulator: (f64, f64),
        amplitude: f64,
    },
}

impl Voice {
    fn new(segment: &ToneSegment, sample_rate: u32) -> Voice {
        match (segment.modulate, segment.freqs.as_slice()) {
            (true, &[carrier, modulator]) if sample_rate > 0 => {
                let step = |f: f32| TAU * f64::from(f) / f64::from(sample_rate);
                Voice::Modulated {
                    carrier: (0.0, step(carrier)),
                    modulator: (0.0, step(modulator)),
                    amplitude: f64::from(segment.amplitude).abs(),
                }
            }
            _ => Voice::Sum(ToneGenerator::new(
                &segment.freqs,
                segment.amplitude,
                sample_rate,
            )),
        }
    }

    fn render(&mut self, out: &mut [i16]) {
        match self {
            Voice::Sum(generator) => generator.fill(out),
            Voice::Modulated {
                carrier,
                modulator,
                amplitude,
            } => {
                let scale = *amplitude / (1.0 + MODULATION_DEPTH);
                for sample in out.iter_mut() {
                    let envelope = 1.0 + MODULATION_DEPTH * modulator.0.sin();
                    *sample = (scale * envelope * carrier.0.sin()).round() as i16;
                    carrier.0 = (carrier.0 + carrier.1) % TAU;
                    modulator.0 = (modulator.0 + modulator.1) % TAU;
                }
            }
        }
    }
}

/// Renders a [`TonePlan`] frame by frame, phase-continuous within each
/// segment and sample-accurate at segment boundaries.
#[derive(Debug, Clone)]
pub struct TonePlayer {
    plan: TonePlan,
    sample_rate: u32,
    /// Current segment, its oscillator and the samples left in it (`None`:
    /// forever).
    index: usize,
    voice: Voice,
    remaining: Option<u64>,
    finished: bool,
}

impl TonePlayer {
    pub fn new(plan: TonePlan, sample_rate: u32) -> Self {
        let mut player = TonePlayer {
            plan,
            sample_rate,
            index: 0,
            voice: Voice::Sum(ToneGenerator::new(&[], 0, sample_rate)),
            remaining: None,
            finished: false,
        };
        player.enter(0);
        player
    }

    /// Overwrites `out` with the next samples (silence once the plan is
    /// over). Returns whether `out` holds any of the plan: `false` once a
    /// non-repeating plan had already finished before this call.
    pub fn fill(&mut self, out: &mut [i16]) -> bool {
        if self.finished {
            out.fill(0);
            return false;
        }
        let mut pos = 0;
        while pos < out.len() {
            if self.finished {
                out[pos..].fill(0);
                break;
            }
            let room = out.len() - pos;
            let n = self.remaining.map_or(room, |r| r.min(room as u64) as usize);
            self.voice.render(&mut out[pos..pos + n]);
            pos += n;
            if let Some(remaining) = &mut self.remaining {
                *remaining -= n as u64;
                if *remaining == 0 {
                    self.enter(self.index + 1);
                }
            }
        }
        true
    }

    /// Starts the first segment with any samples at or after `index`,
    /// wrapping to the repeat point, or finishes the plan.
    fn enter(&mut self, mut index: usize) {
        let len = self.plan.segments.len();
        // Enough steps to reach the end, wrap once and go round once more.
        for _ in 0..=2 * len {
            if index >= len {
                match self.plan.repeat_from {
                    Some(start) if start < len => index = start,
                    _ => break,
                }
            }
            let Some(segment) = self.plan.segments.get(index) else {
                break;
            };
            let samples = segment
                .duration_ms
                .map(|ms| u64::from(ms) * u64::from(self.sample_rate) / 1000);
            if samples != Some(0) {
                self.voice = Voice::new(segment, self.sample_rate);
                self.index = index;
                self.remaining = samples;
                return;
            }
            index += 1;
        }
        self.finished = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel::power;

    fn render(plan: TonePlan, rate: u32, ms: usize) -> Vec<i16> {
        let mut player = TonePlayer::new(plan, rate);
        let frame = rate as usize / 50;
        let mut out = Vec::new();
        for _ in 0..ms / 20 {
            let mut buf = vec![0i16; frame];
            player.fill(&mut buf);
            out.extend_from_slice(&buf);
        }
        out
    }

    fn rms(s: &[i16]) -> f64 {
        (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
    }

    fn seg(freqs: &[f32], ms: Option<u32>) -> ToneSegment {
        let n = freqs.len() as i16;
        ToneSegment {
            freqs: freqs.to_vec(),
            modulate: false,
            duration_ms: ms,
            amplitude: 7219 * n,
        }
    }

    #[test]
    fn us_busy_cadence() {
        let plan = TonePlan::parse_tone_uri("tone:busy", "us").unwrap();
        assert_eq!(plan, TonePlan::named("busy", "US").unwrap());
        let pcm = render(plan, 8000, 3000);
        assert_eq!(pcm.len(), 24000);
        for (k, period) in pcm.chunks(4000).enumerate() {
            if k % 2 == 1 {
                assert!(period.iter().all(|&s| s == 0), "off period {k}");
                continue;
            }
            // Every 20 ms of an on period carries both tones, and nothing
            // else of note.
            for frame in period.chunks(160) {
                assert!(rms(frame) > 5000.0, "period {k}");
            }
            let (p480, p620) = (power(period, 480.0, 8000), power(period, 620.0, 8000));
            assert!(p480 > 0.02 && p620 > 0.02, "{p480} {p620}");
            assert!((p480 / p620 - 1.0).abs() < 0.1);
            for other in [350.0, 440.0, 550.0, 700.0] {
                assert!(power(period, other, 8000) < p480 / 100.0, "{other} Hz");
            }
            let peak = period.iter().map(|s| s.unsigned_abs()).max().unwrap();
            assert!((12000..=14438).contains(&peak), "{peak}");
        }
    }

    #[test]
    fn uk_ring_cadence_at_16k() {
        let plan = TonePlan::parse_tone_uri("tone:ring;tonezone=uk", "us").unwrap();
        assert_eq!(plan.repeat_from, Some(0));
        let pcm = render(plan, 16000, 6000);
        let ms = |a: usize, b: usize| &pcm[a * 16..b * 16];
        // 400 on, 200 off, 400 on, 2000 off, repeating every 3 s.
        for base in [0, 3000] {
            for (on, off) in [((0, 400), (400, 600)), ((600, 1000), (1000, 3000))] {
                let tone = ms(base + on.0, base + on.1);
                assert!(power(tone, 400.0, 16000) > 0.02);
                assert!(power(tone, 450.0, 16000) > 0.02);
                assert!(ms(base + off.0, base + off.1).iter().all(|&s| s == 0));
            }
        }
    }

    #[test]
    fn named_tones() {
        let countries = ["us", "uk", "gb", "de", "fr", "it", "nl", "au", "jp", "se"];
        let names = ["dial", "busy", "ring", "congestion", "callwaiting", "info"];
        for c in countries {
            for n in names {
                let plan = TonePlan::named(n, c).unwrap_or_else(|| panic!("{n} {c}"));
                assert!(!plan.segments.is_empty());
            }
        }
        assert_eq!(TonePlan::named("busy", "xx"), None);
        assert_eq!(TonePlan::named("howler", "us"), None);
        let dial = TonePlan::named("dial", "de").unwrap();
        assert_eq!(dial.segments, [seg(&[425.0], None)]);
        // US info: the three SIT tones once, then silence forever.
        let info = TonePlan::named("info", "us").unwrap();
        assert_eq!(info.repeat_from, Some(3));
        assert_eq!(info.segments[3], seg(&[], None));
        // French info: all once, so the plan ends.
        assert_eq!(TonePlan::named("info", "fr").unwrap().repeat_from, None);
        assert!(matches!(
            TonePlan::parse_tone_uri("tone:busy;tonezone=xx", "us"),
            Err(MediaError::ToneSyntax(_))
        ));
        assert!(TonePlan::parse_tone_uri("tone:busy;volume=3", "us").is_err());
        // A tone list in a URI.
        let plan = TonePlan::parse_tone_uri("tone:!425/100,0/100", "us").unwrap();
        assert_eq!(plan.segments.len(), 2);
    }

    #[test]
    fn asterisk_syntax() {
        let plan = TonePlan::parse_asterisk("!350+440/100,!0/100,350+440").unwrap();
        assert_eq!(
            plan,
            TonePlan {
                segments: vec![
                    seg(&[350.0, 440.0], Some(100)),
                    seg(&[], Some(100)),
                    seg(&[350.0, 440.0], None),
                ],
                repeat_from: Some(2),
            }
        );
        let plan = TonePlan::parse_asterisk(" 425*25/400 | 0/200 |").unwrap();
        assert_eq!(plan.segments.len(), 2);
        assert!(plan.segments[0].modulate);
        assert_eq!(plan.segments[0].freqs, [425.0, 25.0]);
        assert_eq!(plan.segments[0].amplitude, 7219);
        assert_eq!(plan.segments[1].duration_ms, Some(200));
        let plan = TonePlan::parse_asterisk("M69/0,350+375+400").unwrap();
        assert_eq!(plan.segments[0], seg(&[440.0], None));
        assert_eq!(plan.segments[1].freqs, [350.0, 375.0, 400.0]);
        assert_eq!(plan.segments[1].amplitude, 21657);

        for bad in [
            "", "abc", "440/", "440/x", "440/-5", "440+/100", "440*", "1*2*3", "-5", "440,,480",
            "!", "/100", "M200", "inf", "440+NaN",
        ] {
            let err = TonePlan::parse_asterisk(bad).unwrap_err();
            assert!(matches!(err, MediaError::ToneSyntax(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn freeswitch_syntax() {
        let plan = TonePlan::parse_tone_stream("%(2000,4000,440,480)").unwrap();
        let on = ToneSegment {
            freqs: vec![440.0, 480.0],
            modulate: false,
            duration_ms: Some(2000),
            amplitude: 10185,
        };
        let off = |ms| ToneSegment {
            freqs: vec![],
            modulate: false,
            duration_ms: Some(ms),
            amplitude: 0,
        };
        assert_eq!(plan.segments, [on.clone(), off(4000)]);
        assert_eq!(plan.repeat_from, None);

        let plan = TonePlan::parse_tone_stream("tone_stream://v=0;%(100,0,941.0,1477.0)").unwrap();
        assert_eq!(plan.segments.len(), 1);
        assert_eq!(plan.segments[0].amplitude, 22801);
        assert_eq!(plan.segments[0].freqs, [941.0, 1477.0]);

        let plan = TonePlan::parse_tone_stream("L=3;%(100,100,350,440)").unwrap();
        assert_eq!(plan.segments.len(), 6);
        assert_eq!(plan.repeat_from, None);
        let plan = TonePlan::parse_tone_stream("%(251,0,1004);loops=-1").unwrap();
        assert_eq!(plan.repeat_from, Some(0));
        let plan = TonePlan::parse_tone_stream("l=2;%(100,50,440)%(50,0,480); v=-20 ;%(10,0,500)")
            .unwrap();
        let freqs: Vec<&[f32]> = plan.segments.iter().map(|s| s.freqs.as_slice()).collect();
        let (a, b, c): (&[f32], &[f32], &[f32]) = (&[440.0], &[480.0], &[500.0]);
        assert_eq!(freqs, [a, &[], a, &[], b, c]);
        assert!(plan.segments[5].amplitude < 3000);
        let plan =
            TonePlan::parse_tone_stream("%(100,0,440);l=-1;%(100,100,480);%(1,1,1)").unwrap();
        assert_eq!(plan.segments.len(), 3);
        assert_eq!(plan.repeat_from, Some(1));

        for bad in [
            "",
            "v=-7;",
            "%(100,100)",
            "%(a,100,440)",
            "%(100,100,440",
            "(100,100,440)",
            "x=1;%(100,0,440)",
            "v=abc;%(100,0,440)",
            "v=5;%(100,0,440)",
            "%(100,0,-440)",
            "L=1000;%(1,1,1)",
        ] {
            let err = TonePlan::parse_tone_stream(bad).unwrap_err();
            assert!(matches!(err, MediaError::ToneSyntax(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn non_repeating_plan_finishes() {
        let plan = TonePlan::parse_asterisk("!440/100,!480/30").unwrap();
        let mut player = TonePlayer::new(plan, 8000);
        let mut first = [0i16; 1000];
        assert!(player.fill(&mut first));
        assert!(power(&first[..800], 440.0, 8000) > 0.01);
        assert!(power(&first[800..], 480.0, 8000) > 0.01);
        // The last 40 samples of 480 Hz, then silence.
        let mut second = [1i16; 1000];
        assert!(player.fill(&mut second));
        assert!(second[..40].iter().any(|&s| s != 0));
        assert!(second[40..].iter().all(|&s| s == 0));
        let mut third = [1i16; 160];
        assert!(!player.fill(&mut third));
        assert_eq!(third, [0; 160]);
    }

    #[test]
    fn degenerate_plans_do_not_hang() {
        let zero = |repeat_from| TonePlan {
            segments: vec![seg(&[440.0], Some(0)), seg(&[], Some(0))],
            repeat_from,
        };
        let mut buf = [7i16; 160];
        assert!(!TonePlayer::new(zero(Some(0)), 8000).fill(&mut buf));
        assert_eq!(buf, [0; 160]);
        let empty = TonePlan {
            segments: vec![],
            repeat_from: Some(5),
        };
        assert!(!TonePlayer::new(empty, 8000).fill(&mut buf));
        let forever = TonePlan {
            segments: vec![seg(&[440.0], Some(10))],
            repeat_from: Some(0),
        };
        let mut player = TonePlayer::new(forever, 0);
        assert!(!player.fill(&mut buf));
        let mut player = TonePlayer::new(zero(None), 8000);
        assert!(!player.fill(&mut buf));
    }

    #[test]
    fn modulated_tone_has_sidebands() {
        let plan = TonePlan::parse_asterisk("425*25").unwrap();
        let pcm = render(plan, 8000, 2000);
        let carrier = power(&pcm, 425.0, 8000);
        let lower = power(&pcm, 400.0, 8000);
        let upper = power(&pcm, 450.0, 8000);
        // The carrier alone peaks at 7219 / 1.9.
        assert!((carrier - 0.0067).abs() < 0.0005, "{carrier}");
        // 90% AM: each sideband at (0.9/2)^2 of the carrier's power.
        assert!((lower / carrier - 0.2025).abs() < 0.03, "{lower}");
        assert!((upper / carrier - 0.2025).abs() < 0.03, "{upper}");
        let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak <= 7219, "{peak}");
    }
}
