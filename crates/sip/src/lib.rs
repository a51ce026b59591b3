//! switchboard-sip
