//! Runs a property over generated inputs for a budget of cases and seconds.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};

use crate::Outcome;

const DEFAULT_CASES: u64 = 20_000;
const DEFAULT_SECONDS: f64 = 10.0;
/// Cases per proptest run; the time budget is checked between runs.
const BATCH: u64 = 500;

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok()?;
    // A typo in a CI setting must not silently fall back to the default.
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

/// `FUZZ_SEED` (a number, or `random`), else a fixed seed per target name (FNV-1a).
fn seed(name: &str) -> u64 {
    match std::env::var("FUZZ_SEED").ok().as_deref().map(str::trim) {
        Some("random") => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
        Some(n) => n
            .parse()
            .unwrap_or_else(|_| panic!("FUZZ_SEED={n:?} is neither a number nor `random`")),
        None => name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        }),
    }
}

/// SplitMix64, to derive one independent RNG seed per batch from the target's seed.
fn batch_seed(seed: u64, batch: u64) -> [u8; 16] {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let base = seed.wrapping_add(batch.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&mix(base).to_le_bytes());
    out[8..].copy_from_slice(&mix(base ^ 0x5555_5555_5555_5555).to_le_bytes());
    out
}

/// Checks `property` on inputs from `strategy` until the case or time budget is spent,
/// then prints `fuzz <name>: N cases in X s, 0 failures`. Panics with the shrunk input,
/// the seed and the failure (a property error or a caught panic) on the first failure.
pub fn fuzz<S: Strategy>(name: &str, strategy: S, property: impl Fn(S::Value) -> Outcome) {
    let max_cases = env_number("FUZZ_CASES").unwrap_or(DEFAULT_CASES);
    let max_time = Duration::from_secs_f64(env_number("FUZZ_SECONDS").unwrap_or(DEFAULT_SECONDS));
    let seed = seed(name);
    let started = Instant::now();
    let mut cases = 0;
    let mut batch = 0;
    while cases < max_cases && started.elapsed() < max_time {
        let n = BATCH.min(max_cases - cases);
        let config = Config {
            cases: n as u32,
            failure_persistence: None,
            ..Config::default()
        };
        let rng = TestRng::from_seed(RngAlgorithm::XorShift, &batch_seed(seed, batch));
        match TestRunner::new_with_rng(config, rng).run(&strategy, &property) {
            Ok(()) => {}
            Err(TestError::Fail(reason, input)) => panic!(
                "fuzz {name} (FUZZ_SEED={seed}, batch {batch}) failed: {reason}\nminimal input: {input:?}"
            ),
            Err(TestError::Abort(reason)) => panic!("fuzz {name} aborted: {reason}"),
        }
        cases += n;
        batch += 1;
    }
    println!(
        "fuzz {name}: {cases} cases in {:.1} s, 0 failures (FUZZ_SEED={seed})",
        started.elapsed().as_secs_f64()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus_inputs;

    #[test]
    #[should_panic(expected = "minimal input: b\"")]
    fn a_planted_panic_is_found_and_reported() {
        fuzz(
            "planted",
            corpus_inputs(vec![b"hello".to_vec()], &[b"BUG"]),
            |input| {
                let bytes = input.bytes();
                if bytes.windows(3).any(|w| w == b"BUG") {
                    let _ = bytes[bytes.len()]; // an indexing panic, caught by the runner
                }
                Ok(())
            },
        );
    }

    #[test]
    fn batch_seeds_differ() {
        assert_ne!(batch_seed(1, 0), batch_seed(1, 1));
        assert_ne!(batch_seed(1, 0), batch_seed(2, 0));
    }
}
