//! The channel state model, with its ARI and FreeSWITCH views.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelState {
    Down,
    /// An inbound call is being set up (offered to us).
    Ring,
    /// An outbound call is ringing at the far end.
    Ringing,
    Up,
    Busy,
}

impl ChannelState {
    /// ARI's `Channel.state`.
    pub fn ari(self) -> &'static str {
        match self {
            Self::Down => "Down",
            Self::Ring => "Ring",
            Self::Ringing => "Ringing",
            Self::Up => "Up",
            Self::Busy => "Busy",
        }
    }

    /// FreeSWITCH's channel state (`CS_*`).
    pub fn freeswitch(self) -> &'static str {
        match self {
            Self::Down => "CS_NEW",
            Self::Ring | Self::Ringing => "CS_ROUTING",
            Self::Up => "CS_EXECUTE",
            Self::Busy => "CS_HANGUP",
        }
    }

    /// FreeSWITCH's call state (`callstate` column of `show channels`).
    pub fn freeswitch_callstate(self) -> &'static str {
        match self {
            Self::Down => "DOWN",
            Self::Ring => "RINGING",
            Self::Ringing => "EARLY",
            Self::Up => "ACTIVE",
            Self::Busy => "HANGUP",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views() {
        assert_eq!(ChannelState::Up.ari(), "Up");
        assert_eq!(ChannelState::Up.freeswitch(), "CS_EXECUTE");
        assert_eq!(ChannelState::Ringing.freeswitch_callstate(), "EARLY");
    }
}
