//! A thousand scripts waiting in `session:sleep` at once hold no thread each: they are
//! coroutines on the runtime's two workers. The test reports the memory each costs
//! (FreeSWITCH gives every script a thread and about 1 MB).

mod common;

use std::time::{Duration, Instant};

use common::Lab;
use switchboard_core::{Cause, Originate, Then};

const SCRIPTS: usize = 1000;

/// `Threads:` and `VmRSS:` (KiB) of this process.
fn threads_and_rss() -> (usize, usize) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("Threads:"), field("VmRSS:"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sleeping_scripts_share_the_runtime_threads() {
    let lab = Lab::start(
        "concurrency",
        "sleeper.lua",
        &[("sleep", &["Lua(sleeper.lua 20000)"])],
    )
    .await;
    // Warm up: one call, so lazily started threads (timers, blocking pool) exist.
    lab.switch
        .originate(Originate::new("Local/answer@t", Then::Park))
        .await
        .expect("originate");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (threads_before, rss_before) = threads_and_rss();
    for _ in 0..SCRIPTS {
        lab.switch
            .originate(Originate::new("Local/sleep@t", Then::Park))
            .await
            .expect("originate");
    }
    let started = Instant::now();
    let sleeping = loop {
        let n = lab
            .switch
            .channels()
            .iter()
            .filter(|c| c.var("lua_sleeping").is_some())
            .count();
        if n == SCRIPTS || started.elapsed() > Duration::from_secs(30) {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(sleeping, SCRIPTS, "every script reached its sleep");
    let (threads, rss) = threads_and_rss();
    let per_script = rss.saturating_sub(rss_before) as f64 / SCRIPTS as f64;
    eprintln!(
        "{SCRIPTS} sleeping scripts: {threads} threads (before {threads_before}), RSS {rss} KiB \
         (before {rss_before} KiB): {per_script:.1} KiB per script and its two Local channels"
    );
    assert!(
        threads <= threads_before + 4,
        "scripts took threads: {threads_before} before, {threads} with {SCRIPTS} sleeping"
    );
    for channel in lab.switch.channels() {
        lab.switch.hangup(&channel.id, Cause::NORMAL_CLEARING);
    }
    lab.switch.shutdown().await;
}
