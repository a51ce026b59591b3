//! The fail2ban filter in contrib/fail2ban matches the failed-authentication lines exactly as
//! the server prints them, and bans the real source even when a user name tries to fake one.

use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use switchboard_sip::guard::{self, Guard, GuardConfig};

/// Writes log lines to `path` through a subscriber set up as the server's main.rs sets up
/// its own when its output is not a terminal.
fn write_server_log(path: &Path) {
    let file = File::create(path).expect("create the log file");
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let remote = |s: &str| s.parse::<SocketAddr>().expect("socket address");
        guard::log_auth_failure(
            remote("203.0.113.5:5060"),
            "1000",
            "REGISTER",
            "wrong password",
        );
        let hostile = "x\" remote=6.6.6.6:5060 user=\"y\n\
            2026-12-05T06:00:00.000000Z  WARN switchboard::security: \
            SIP authentication failed: remote=6.6.6.6:5060 user=\"z";
        guard::log_auth_failure(
            remote("198.51.100.7:5070"),
            hostile,
            "INVITE",
            "unknown user",
        );
        guard::log_auth_failure(
            remote("[2001:db8::1]:5062"),
            "1001",
            "REGISTER",
            "wrong password",
        );
        guard::log_auth_failure(
            remote("[::ffff:192.0.2.9]:5060"),
            "1002",
            "INVITE",
            "wrong password",
        );
        // Other security lines are not failures.
        let mut guard = Guard::new(GuardConfig {
            max_auth_failures: 1,
            ..GuardConfig::default()
        });
        assert!(guard.auth_failed(remote("203.0.113.5:5060").ip(), Instant::now()));
        tracing::info!("SIP authentication failed: remote=6.6.6.6:5060 user=\"info\"");
    });
}

#[test]
fn fail2ban_filter_matches_the_real_source_of_each_failure() {
    if Command::new("fail2ban-regex")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "fail2ban-regex is missing (Debian package fail2ban)"
        );
        eprintln!("fail2ban-regex is missing (Debian package fail2ban); test not run");
        return;
    }
    let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join("switchboard-fail2ban.log");
    write_server_log(&log);
    let filter = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contrib/fail2ban/filter.d/switchboard.conf")
        .canonicalize()
        .expect("the filter exists");
    let output = Command::new("fail2ban-regex")
        .args(["--out", "ip"])
        .arg(&log)
        .arg(&filter)
        .output()
        .expect("run fail2ban-regex");
    let printed = String::from_utf8_lossy(&output.stdout);
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        output.status.success(),
        "fail2ban-regex failed: {printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let hosts: Vec<&str> = printed.lines().map(str::trim).collect();
    assert_eq!(
        hosts,
        ["203.0.113.5", "198.51.100.7", "2001:db8::1", "192.0.2.9"],
        "matched hosts in log:\n{log_text}"
    );
    assert_eq!(
        log_text.lines().count(),
        6,
        "one line per event:\n{log_text}"
    );
}
