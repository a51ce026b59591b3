//! switchboard-core
