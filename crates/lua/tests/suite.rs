//! The project's Lua test suite (`tests/lua/*.lua`) run against a real switch.

mod common;

use std::time::Duration;

use common::Lab;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_method() {
    let lab = Lab::start("suite", "session_suite.lua", &[]).await;
    let caller = lab.call("s").await;
    let result = lab.global("lua_suite", Duration::from_secs(60)).await;
    assert_eq!(result.as_deref(), Some("ok"), "the suite failed");
    let checks: usize = lab
        .global("lua_suite_checks", Duration::from_secs(1))
        .await
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(checks >= 60, "only {checks} checks ran");
    // setAutoHangup(false) then transfer: the dialplan went on at `after`.
    let script_half = lab
        .switch
        .channels()
        .into_iter()
        .find(|c| c.id != caller.id && c.name.starts_with("Local/s@t"))
        .expect("the script's channel is still up");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(script_half.var("transferred").as_deref(), Some("1"));
    lab.switch.shutdown().await;
}
