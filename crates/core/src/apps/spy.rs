//! `ChanSpy([chanprefix][,options])`: listen to (and whisper to) other channels.

use std::sync::Arc;
use std::time::Duration;

use super::{Application, Next};
use crate::cause::Cause;
use crate::channel::Channel;
use crate::dialplan::split_args;
use crate::snoop::SnoopDirection;
use crate::switch::Switch;

pub(super) fn applications() -> Vec<Application> {
    vec![Application::new(
        "ChanSpy",
        "ChanSpy([chanprefix][,options])",
        "Listen to a channel, and optionally whisper into it.",
        chanspy,
    )]
}

/// How long ChanSpy waits between scans for a channel to spy on (Asterisk's
/// `ast_waitfordigit(chan, 100)` in its scan loop).
const SPY_SCAN_INTERVAL: Duration = Duration::from_millis(100);

/// `ChanSpy([chanprefix][,options])`, as Asterisk's: listens (both directions) to a
/// channel whose name starts with `chanprefix` (`SIP/1001`; any channel when empty or
/// `all`), scanning until one appears and again after it hangs up; only the spy hanging
/// up ends it. `w` whispers to the spied channel; `q` skips the beep Asterisk plays
/// first and after each spied channel.
async fn chanspy(switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let parts = split_args(&args);
    let spec = parts.first().map(String::as_str).unwrap_or_default();
    let options = parts.get(1).map(String::as_str).unwrap_or_default();
    let (switch, channel) = (&switch, &channel);
    let _ = switch.answer(&channel.id);
    let prefix = spy_prefix(spec);
    let quiet = options.contains('q');
    let whisper = if options.contains('w') {
        SnoopDirection::Out
    } else {
        SnoopDirection::None
    };
    let mut session = SpySession::start(switch, channel);
    let mut beep = !quiet;
    loop {
        if beep {
            if let Ok(beep) = switch.play(crate::Play::channel(
                &channel.id,
                vec!["tone:!1000/250".into()],
            )) {
                beep.wait().await;
            }
        }
        tokio::select! {
            _ = channel.hung_up() => return Next::Continue,
            () = tokio::time::sleep(SPY_SCAN_INTERVAL) => {}
        }
        // Spying channels (and our own snoops) are skipped, as Asterisk skips those
        // flagged AST_FLAG_SPYING.
        let target = switch.channels().into_iter().find(|c| {
            c.id != channel.id
                && has_prefix(&c.name, &prefix)
                && c.status().hangup.is_none()
                && !c.data().spying
        });
        let Some(target) = target else {
            beep = false;
            continue;
        };
        beep = !quiet;
        let Ok(snoop) = switch.snoop(
            &target.id,
            SnoopDirection::Both,
            whisper,
            "",
            Vec::new(),
            None,
        ) else {
            continue;
        };
        snoop.data().spying = true;
        session.snoop = Some(snoop.id.clone());
        tracing::info!(channel = %channel.name, target = %target.name, "ChanSpy: spying");
        if switch.connect(&channel.id, &snoop.id).is_ok() {
            tokio::select! {
                _ = channel.hung_up() => return Next::Continue,
                _ = snoop.hung_up() => {}
            }
        }
        session.end_snoop();
    }
}

/// The channel-name prefix ChanSpy scans for: `all` means any channel, and `PJSIP`
/// names our `SIP` channels.
fn spy_prefix(spec: &str) -> String {
    if spec == "all" {
        return String::new();
    }
    match spec.get(..5) {
        Some(tech) if tech.eq_ignore_ascii_case("PJSIP") => format!("SIP{}", &spec[5..]),
        _ => spec.to_owned(),
    }
}

/// Whether `name` starts with `prefix`, ignoring case as Asterisk's channel lookup does.
fn has_prefix(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// ChanSpy's marks and snoop, undone however it ends: the dialplan drops its future
/// when the spy hangs up.
struct SpySession<'a> {
    switch: &'a Switch,
    channel: &'a Channel,
    snoop: Option<String>,
}

impl<'a> SpySession<'a> {
    fn start(switch: &'a Switch, channel: &'a Channel) -> Self {
        channel.data().spying = true;
        Self {
            switch,
            channel,
            snoop: None,
        }
    }

    fn end_snoop(&mut self) {
        if let Some(snoop) = self.snoop.take() {
            self.switch.hangup(&snoop, Cause::NORMAL_CLEARING);
        }
    }
}

impl Drop for SpySession<'_> {
    fn drop(&mut self) {
        self.end_snoop();
        self.channel.data().spying = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chanspy_prefix_is_a_channel_name_prefix_with_technology() {
        let spies_on = |spec: &str, name: &str| has_prefix(name, &spy_prefix(spec));
        assert!(spies_on("SIP/1001", "SIP/1001-00000002"));
        assert!(spies_on("PJSIP/1001", "SIP/1001-00000002"));
        assert!(spies_on("pjsip/1001", "SIP/1001-00000002"));
        assert!(spies_on("sip/1001", "SIP/1001-00000002"));
        assert!(spies_on("", "SIP/1001-00000002"));
        assert!(spies_on("all", "Local/101@default-00000001;1"));
        // The old form without technology names no channel, as in Asterisk.
        assert!(!spies_on("1001", "SIP/1001-00000002"));
        assert!(!spies_on("SIP/1001", "SIP/1000-00000001"));
        assert!(!spies_on("SIP/1001-000000020", "SIP/1001-00000002"));
        // A prefix ending inside a character of the name does not panic.
        assert!(!spies_on("SIP/1", "SIP/é-00000001"));
    }
}
