//! Fuzzing of switchboard's parsers on stable Rust, run by the ordinary test harness.
//!
//! Built on proptest rather than cargo-fuzz or cargo-afl: those need a nightly compiler or
//! an extra toolchain and instrumented build, whereas this runs as a plain `cargo test` in
//! CI for a fixed budget. The price is no coverage feedback, so the inputs are not random
//! bytes (which almost never get past a SIP start line) but mutations of a corpus of valid
//! messages: bit flips, inserted tokens, deleted and duplicated lines, splices between
//! corpus entries, numbers replaced by huge ones. proptest contributes the panic catching,
//! the seeded generation and shrinking: a failure is reported as the smallest mutation of
//! a corpus entry that still fails, printed as a byte string to paste into a regression test.
//!
//! Budget (per fuzz target): `FUZZ_CASES` cases (default 20 000) or `FUZZ_SECONDS` seconds
//! (default 10), whichever ends first. `FUZZ_SEED` picks the seed (a number, or `random`);
//! by default each target has a fixed seed, so CI runs are reproducible.

mod input;
mod mutation;
mod runner;

pub use input::Input;
pub use mutation::{corpus_inputs, Dictionary};
pub use runner::fuzz;

/// What a fuzz target's property returns; `Err` (or a panic) is a failure.
pub type Outcome = Result<(), proptest::test_runner::TestCaseError>;

/// Re-exported so targets need no direct proptest dependency.
pub use proptest;

/// Fails the case with a message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::proptest::test_runner::TestCaseError::fail(format!($($msg)+)));
        }
    };
}
