//! Admission by media load: when the busiest RTP thread spends more than
//! `[general] max_media_load` percent of its time on packets, the relay is about to fall
//! behind, so new calls are refused (503 with Retry-After, by the SIP stack) until the
//! load is ten points below the limit again. Calls already up keep their audio.

use std::time::Duration;

use switchboard_sip::SipStack;

/// How often the media load is read (the engine publishes it once a second).
const PERIOD: Duration = Duration::from_millis(250);
/// Points below the limit the load must fall before calls are admitted again, so the
/// verdict does not flap around the limit.
const HYSTERESIS: f32 = 0.10;

#[derive(Debug)]
pub(crate) struct MediaAdmission {
    limit: f32,
    refusing: bool,
}

impl MediaAdmission {
    /// `limit_percent` of 0 admits whatever the load.
    pub(crate) fn new(limit_percent: u8) -> Self {
        Self {
            limit: f32::from(limit_percent) / 100.0,
            refusing: false,
        }
    }

    /// Takes the media's latest load (0.0–1.0); the new verdict (refuse or not) when
    /// it changes.
    pub(crate) fn update(&mut self, load: f32) -> Option<bool> {
        if self.limit <= 0.0 {
            return None;
        }
        let refuse = if self.refusing {
            load >= self.limit - HYSTERESIS
        } else {
            load >= self.limit
        };
        (refuse != self.refusing).then(|| {
            self.refusing = refuse;
            refuse
        })
    }
}

/// Feeds the media load (`None` once the switch has gone) to the SIP stack's admission.
pub(crate) async fn watch(
    load: impl Fn() -> Option<f32>,
    sip: SipStack,
    mut admission: MediaAdmission,
) {
    let mut tick = tokio::time::interval(PERIOD);
    loop {
        tick.tick().await;
        let Some(load) = load() else {
            return;
        };
        if let Some(refuse) = admission.update(load) {
            if refuse {
                tracing::warn!(
                    load = format!("{:.0} %", load * 100.0),
                    "media threads saturated: new calls are refused with 503"
                );
            } else {
                tracing::info!(
                    load = format!("{:.0} %", load * 100.0),
                    "media load back under the limit: new calls are admitted"
                );
            }
            sip.set_overloaded(refuse);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_at_the_limit_and_admits_again_ten_points_below() {
        let mut admission = MediaAdmission::new(90);
        assert_eq!(admission.update(0.5), None);
        assert_eq!(admission.update(0.91), Some(true));
        assert_eq!(admission.update(0.95), None);
        assert_eq!(admission.update(0.85), None, "still within the hysteresis");
        assert_eq!(admission.update(0.79), Some(false));
        assert_eq!(admission.update(0.89), None);
    }

    #[test]
    fn a_zero_limit_never_refuses() {
        let mut admission = MediaAdmission::new(0);
        assert_eq!(admission.update(1.0), None);
    }
}
