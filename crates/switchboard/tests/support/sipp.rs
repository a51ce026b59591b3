//! Runs SIPp scenarios from `tests/sipp/` against a [`Server`].
//!
//! Scenario conventions (see the comment at the top of each file):
//! `-key user <id>` (From/Contact user) with `-au/-ap` for the digest
//! credentials; `-s <extension>` for the called number; `-key rtpport` and
//! `-key codecs` for the SDP; `-d <ms>` for the single `<pause/>`. Keys are
//! used rather than `-set` variables because SIPp 3.6 refuses a scenario
//! that references a `-set` variable only once.

use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::server::Server;
use super::{poll, ports, tail, Party};

/// SIPp's own timeout for a scenario (`-timeout`, with `-timeout_error`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Extra time the harness gives SIPp to exit before killing it.
const KILL_GRACE: Duration = Duration::from_secs(10);

/// A SIPp command line being built.
pub struct Sipp {
    scenario: &'static str,
    server: SocketAddr,
    dir: PathBuf,
    local_port: Option<u16>,
    args: Vec<String>,
    timeout: Duration,
}

impl Sipp {
    /// Scenario `tests/sipp/<scenario>.xml` against `server`, with its log
    /// files in the server's temp dir.
    pub fn new(server: &Server, scenario: &'static str) -> Sipp {
        Sipp {
            scenario,
            server: server.sip_addr(),
            dir: server.dir().to_path_buf(),
            local_port: None,
            args: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The local SIP port (`-p`); a free one is picked if not set.
    pub fn local_port(mut self, port: u16) -> Sipp {
        self.local_port = Some(port);
        self
    }

    /// Acts as `party`: `[user]` and the digest credentials.
    pub fn user(self, party: Party) -> Sipp {
        self.credentials(party.id, party.password)
    }

    /// `[user]` and digest credentials, possibly wrong ones.
    pub fn credentials(self, user: &str, password: &str) -> Sipp {
        self.key("user", user)
            .arg("-au")
            .arg(user)
            .arg("-ap")
            .arg(password)
    }

    /// Calls `extension`: the request URI's user (`-s`); the digest uri is
    /// set to the request URI (SIPp's default is `sip:<ip>:<port>`).
    pub fn dial(self, extension: &str) -> Sipp {
        let auth_uri = format!("{extension}@{}", self.server);
        self.arg("-s")
            .arg(extension)
            .arg("-auth_uri")
            .arg(&auth_uri)
    }

    /// The SDP's media port (the test's RTP socket) and payload types.
    pub fn rtp(self, port: u16, payload_types: &str) -> Sipp {
        self.key("rtpport", &port.to_string())
            .key("codecs", payload_types)
    }

    /// The duration of the scenario's `<pause/>` (`-d`).
    pub fn pause(self, pause: Duration) -> Sipp {
        self.arg("-d").arg(&pause.as_millis().to_string())
    }

    /// Ends after `n` dialogs instead of one (`-m`; SIPp keeps the last one given).
    pub fn calls(self, n: usize) -> Sipp {
        self.arg("-m").arg(&n.to_string())
    }

    /// Use TCP (one connection) instead of UDP.
    pub fn tcp(self) -> Sipp {
        self.arg("-t").arg("t1")
    }

    /// Sets a `[name]` keyword of the scenario.
    pub fn key(self, name: &str, value: &str) -> Sipp {
        self.arg("-key").arg(name).arg(value)
    }

    /// Sets a global `[$name]` variable of the scenario (`-set`).
    pub fn set(self, name: &str, value: &str) -> Sipp {
        self.arg("-set").arg(name).arg(value)
    }

    fn arg(mut self, arg: &str) -> Sipp {
        self.args.push(arg.to_string());
        self
    }

    /// Starts SIPp.
    pub fn spawn(self) -> SippRun {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let label = format!(
            "sipp-{}-{}",
            self.scenario,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let file = |suffix: &str| self.dir.join(format!("{label}.{suffix}"));
        let files = SippFiles {
            log: file("log"),
            errors: file("errors"),
            messages: file("messages"),
            output: file("out"),
        };
        let local_port = self.local_port.unwrap_or_else(ports::free_udp_port);
        let scenario = scenario_path(self.scenario);
        let output = fs::File::create(&files.output).expect("create sipp output file");

        let mut cmd = Command::new("sipp");
        cmd.arg(self.server.to_string())
            .arg("-sf")
            .arg(&scenario)
            .args(["-i", "127.0.0.1", "-bind_local"])
            .args(["-p", &local_port.to_string()])
            .args(["-m", "1", "-nostdin"])
            .args(["-timeout", &format!("{}s", self.timeout.as_secs())])
            .arg("-timeout_error")
            .arg("-trace_logs")
            .arg("-log_file")
            .arg(&files.log)
            .arg("-trace_err")
            .arg("-error_file")
            .arg(&files.errors)
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(&files.messages)
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("clone sipp output file"))
            .stderr(output);
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("spawn sipp (is it installed? scripts/test installs it): {e}")
        });
        SippRun {
            label,
            command: format!("{cmd:?}"),
            child: Some(child),
            local_port,
            files,
            deadline: Instant::now() + self.timeout + KILL_GRACE,
        }
    }

    /// Runs SIPp to the end.
    pub fn run(self) -> SippResult {
        self.spawn().wait()
    }
}

fn scenario_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("sipp")
}

fn scenario_path(name: &str) -> PathBuf {
    scenario_dir().join(format!("{name}.xml"))
}

/// Every scenario file in `tests/sipp/`.
pub fn all_scenarios() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(scenario_dir())
        .expect("list tests/sipp")
        .map(|e| e.expect("tests/sipp entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    files
}

/// Loads `scenario` in SIPp without placing any call (`-m 0`), with every
/// key the scenarios use set; SIPp refuses unknown keywords, unused
/// variables and malformed XML at load time. The error is SIPp's output.
pub fn check_scenario(scenario: &Path) -> Result<(), String> {
    let output = Command::new("sipp")
        .arg("127.0.0.1:9")
        .arg("-sf")
        .arg(scenario)
        .args(["-m", "0", "-nostdin", "-i", "127.0.0.1", "-p", "0"])
        .args(["-key", "user", "1000", "-key", "rtpport", "40000"])
        .args(["-key", "codecs", "0 8 101"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run sipp (is it installed? scripts/test installs it): {e}"));
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

struct SippFiles {
    log: PathBuf,
    errors: PathBuf,
    messages: PathBuf,
    output: PathBuf,
}

impl SippFiles {
    fn read(path: &PathBuf) -> String {
        fs::read_to_string(path).unwrap_or_default()
    }

    /// Everything useful to understand a failed run.
    fn diagnostics(&self) -> String {
        format!(
            "-- errors --\n{}\n-- log --\n{}\n-- last messages --\n{}\n-- output --\n{}",
            tail(&Self::read(&self.errors), 40),
            tail(&Self::read(&self.log), 20),
            tail(&Self::read(&self.messages), 120),
            tail(&Self::read(&self.output), 30),
        )
    }
}

/// The server's media address as logged by a scenario:
/// `MEDIA <ip> <port> <payload type> ...`.
#[derive(Debug, Clone, Copy)]
pub struct RemoteMedia {
    pub addr: SocketAddr,
    pub payload_type: u8,
}

impl RemoteMedia {
    fn parse(line: &str) -> Option<RemoteMedia> {
        let mut words = line.strip_prefix("MEDIA ")?.split_whitespace();
        let ip: IpAddr = words.next()?.parse().ok()?;
        let port: u16 = words.next()?.parse().ok()?;
        let payload_type = words.next()?.parse().ok()?;
        Some(RemoteMedia {
            addr: SocketAddr::new(ip, port),
            payload_type,
        })
    }
}

/// A running SIPp. Dropping it kills SIPp if it is still running.
pub struct SippRun {
    label: String,
    command: String,
    child: Option<Child>,
    local_port: u16,
    files: SippFiles,
    deadline: Instant,
}

impl SippRun {
    /// Waits until SIPp has bound its SIP port (for a UAS scenario, before
    /// anything is sent to it).
    pub fn wait_listening(&mut self) {
        let port = self.local_port;
        let bound = poll(Duration::from_secs(10), || {
            self.assert_running("before binding its port");
            udp_port_bound(port).then_some(())
        });
        if bound.is_none() {
            self.fail("did not bind its SIP port");
        }
    }

    /// Waits for the scenario's `MEDIA` log line (written when the call is
    /// established) and returns the server's media address.
    pub fn media(&mut self, timeout: Duration) -> RemoteMedia {
        let line = self.wait_for_log("MEDIA ", timeout);
        RemoteMedia::parse(&line)
            .unwrap_or_else(|| self.fail(&format!("logged an unparsable media line {line:?}")))
    }

    /// Waits for a log line starting with `prefix` and returns it.
    pub fn wait_for_log(&mut self, prefix: &str, timeout: Duration) -> String {
        let found = poll(timeout, || {
            let line = SippFiles::read(&self.files.log)
                .lines()
                .find(|l| l.starts_with(prefix))
                .map(str::to_string);
            if line.is_none() {
                self.assert_running(&format!("before logging {prefix:?}"));
            }
            line
        });
        found.unwrap_or_else(|| self.fail(&format!("did not log {prefix:?} within {timeout:?}")))
    }

    /// [`SippRun::wait_for_log`], also returning when the test saw the line
    /// (it polls every 50 ms): a time to split what the RTP peer received
    /// into the phases of the call.
    pub fn wait_for_log_seen(&mut self, prefix: &str, timeout: Duration) -> (String, Instant) {
        let line = self.wait_for_log(prefix, timeout);
        (line, Instant::now())
    }

    /// Kills SIPp now (when the other side of the call already failed) and
    /// returns what it did so far.
    pub fn stop(mut self) -> SippResult {
        self.deadline = Instant::now();
        self.wait()
    }

    /// Waits for the scenario to end: the other side's finished, or
    /// stopped if that failed (no point waiting for SIPp's timeout).
    pub fn wait_after(self, other: &SippResult) -> SippResult {
        if other.success() {
            self.wait()
        } else {
            self.stop()
        }
    }

    /// Waits for SIPp to exit (killing it past its deadline).
    pub fn wait(mut self) -> SippResult {
        let mut child = self.child.take().expect("sipp already waited for");
        let status = loop {
            if let Some(status) = child.try_wait().expect("poll sipp") {
                break Some(status);
            }
            if Instant::now() >= self.deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        SippResult {
            label: self.label.clone(),
            command: self.command.clone(),
            status,
            log: SippFiles::read(&self.files.log),
            diagnostics: self.files.diagnostics(),
        }
    }

    fn assert_running(&mut self, when: &str) {
        let child = self.child.as_mut().expect("sipp already waited for");
        if let Some(status) = child.try_wait().expect("poll sipp") {
            self.fail(&format!("exited ({status}) {when}"));
        }
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "{} {what}\ncommand: {}\n{}",
            self.label,
            self.command,
            self.files.diagnostics()
        )
    }
}

impl Drop for SippRun {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether some socket is bound to UDP `port`, from /proc/net/udp (binding
/// the port to find out could make SIPp's own bind fail).
fn udp_port_bound(port: u16) -> bool {
    let table = fs::read_to_string("/proc/net/udp").expect("read /proc/net/udp");
    let wanted = format!(":{port:04X}");
    table.lines().skip(1).any(|line| {
        line.split_whitespace()
            .nth(1)
            .is_some_and(|local| local.ends_with(&wanted))
    })
}

/// How a SIPp run ended.
pub struct SippResult {
    label: String,
    command: String,
    /// `None` if SIPp had to be killed.
    status: Option<ExitStatus>,
    log: String,
    diagnostics: String,
}

impl SippResult {
    /// SIPp exits 0 when all its calls succeeded.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Panics with SIPp's logs unless the scenario succeeded.
    pub fn assert_success(&self) {
        if !self.success() {
            panic!(
                "{} failed ({})\ncommand: {}\n{}",
                self.label,
                self.describe_status(),
                self.command,
                self.diagnostics
            );
        }
    }

    /// Panics unless the scenario succeeded and logged a line `line`.
    pub fn assert_logged(&self, line: &str) {
        self.assert_success();
        assert!(
            self.log.lines().any(|l| l.trim() == line),
            "{}: expected log line {line:?}, log:\n{}\n{}",
            self.label,
            self.log,
            self.diagnostics
        );
    }

    fn describe_status(&self) -> String {
        match self.status {
            Some(s) => s.to_string(),
            None => "killed: still running at its deadline or stopped by the test".to_string(),
        }
    }
}
