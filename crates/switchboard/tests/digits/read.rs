//! The dialplan's Read on the per-channel digit buffer: digits the caller sends while
//! another application runs wait for Read (FreeSWITCH's type-ahead) unless
//! `flush_dtmf()` drops them first.

use std::time::Duration;

use crate::support::calls;
use crate::support::media::{self, Segment};
use crate::support::server::{Server, ServerConfig};
use crate::support::sipp::Sipp;
use crate::support::ALICE;

/// What the caller hears when PIN is what the extension expects, and otherwise.
const RIGHT: f32 = 1400.0;
const WRONG: f32 = 400.0;

/// Answers, waits 2 s (the caller types "19" meanwhile), maybe flushes, then reads
/// a 4-digit PIN and plays [`RIGHT`] if it is `expected`, [`WRONG`] if not.
fn reading(flush: bool, expected: &str) -> Vec<String> {
    let mut steps = vec!["Answer()".to_owned(), "Wait(2)".to_owned()];
    if flush {
        steps.push("flush_dtmf()".to_owned());
    }
    steps.push("Read(PIN,,4,,1,3)".to_owned());
    steps.push(format!(
        "GotoIf($[\"${{PIN}}\" = \"{expected}\"]?700,1:701,1)"
    ));
    steps
}

fn as_str(steps: &[String]) -> Vec<&str> {
    steps.iter().map(String::as_str).collect()
}

#[test]
fn read_collects_digits_typed_ahead_unless_flushed() {
    let buffered = reading(false, "1934");
    let flushed = reading(true, "34");
    let config = ServerConfig::default()
        .extension("default", "600", &as_str(&buffered))
        .extension("default", "601", &as_str(&flushed))
        .extension(
            "default",
            "700",
            &["Playtones(1400)", "Wait(2)", "Hangup()"],
        )
        .extension("default", "701", &["Playtones(400)", "Wait(2)", "Hangup()"]);
    let server = Server::start_with("read-type-ahead", config);
    let digit = |d| Segment::Digit(d, Duration::from_millis(100));
    let gap = || Segment::Silence(Duration::from_millis(200));
    // "19" during the Wait, "34" about a second into the Read.
    let script = vec![
        Segment::Silence(Duration::from_millis(300)),
        digit('1'),
        gap(),
        digit('9'),
        Segment::Silence(Duration::from_millis(2400)),
        digit('3'),
        gap(),
        digit('4'),
        Segment::Silence(Duration::from_secs(4)),
    ];
    for (extension, what) in [("600", "typed ahead"), ("601", "after a flush")] {
        let caller = Sipp::new(&server, "uac_wait_bye").user(ALICE);
        let talk = Duration::from_secs(10);
        let leg = calls::call_extension(caller, extension, "0 101", talk, script.clone());
        let who = format!("caller whose digits came {what}");
        media::assert_hears(&leg.received, &who, RIGHT, Some(WRONG), 40);
    }
}
