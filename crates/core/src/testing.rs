//! Switches for unit tests: SIP on an ephemeral loopback port and its own data directory,
//! or SIP on a memory wire ([`phone`]) and an in-memory store.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::{General, Rtp, Sip};
use crate::{Config, Switch};

/// A fresh data directory for test `name` (emptied first, so a rerun starts clean).
pub(crate) fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-core-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A running switch with the default config, SIP on `127.0.0.1:0`, and a dialplan
/// where `Local/100@default` can be made.
pub(crate) async fn test_switch(name: &str) -> Switch {
    let default = [("100".to_owned(), vec!["Answer".to_owned()])];
    let dialplan = [("default".to_owned(), default.into_iter().collect())];
    start_in(data_dir(name), dialplan.into_iter().collect()).await
}

/// A running switch on `data_dir` (reopened by a second call) with `dialplan`.
pub(crate) async fn start_in(
    data_dir: PathBuf,
    dialplan: BTreeMap<String, BTreeMap<String, Vec<String>>>,
) -> Switch {
    let config = config(data_dir, "udp:127.0.0.1:0".into(), dialplan);
    Switch::start(config).await.expect("the test switch starts")
}

/// A test config: SIP on `listen`, no ARI, no endpoints, this dialplan.
fn config(
    data_dir: PathBuf,
    listen: String,
    dialplan: BTreeMap<String, BTreeMap<String, Vec<String>>>,
) -> Config {
    Config {
        general: General {
            data_dir,
            ..General::default()
        },
        sip: Sip {
            listen: vec![listen],
            ..Sip::default()
        },
        rtp: Rtp::default(),
        ari: None,
        sessions_api: None,
        lua: Default::default(),
        security: Default::default(),
        endpoint: Vec::new(),
        trunk: Vec::new(),
        musiconhold: BTreeMap::new(),
        dialplan,
    }
}

/// A switch whose `t` context answers and waits, and a created (not yet dialled) Local
/// channel into it.
pub(crate) async fn switch_with_channel(name: &str) -> (Switch, std::sync::Arc<crate::Channel>) {
    let wait = [(
        "1".to_owned(),
        vec!["Answer()".to_owned(), "Wait(30)".to_owned()],
    )];
    let dialplan = [("t".to_owned(), wait.into_iter().collect())];
    let switch = start_in(data_dir(name), dialplan.into_iter().collect()).await;
    let channel = switch
        .create_channel("Local/1@t", crate::CallerId::default(), None, None)
        .expect("a Local channel");
    (switch, channel)
}

/// A running switch with no SIP or RTP socket and an in-memory store, and the network
/// it talks to: phones there answer its calls and exchange RTP with it. The media
/// engine runs on the caller's runtime, so paused time drives it too.
pub(crate) async fn memory_switch(
    name: &str,
    dialplan: BTreeMap<String, BTreeMap<String, Vec<String>>>,
) -> (Switch, phone::Network) {
    memory_switch_with(name, dialplan, |_| {}).await
}

/// [`memory_switch`] with its config changed by `configure` (trunks, endpoints).
pub(crate) async fn memory_switch_with(
    name: &str,
    dialplan: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    configure: impl FnOnce(&mut Config),
) -> (Switch, phone::Network) {
    let mut config = config(data_dir(name), format!("udp:{}", phone::SWITCH), dialplan);
    configure(&mut config);
    let (network, io) = phone::Network::new();
    let switch = Switch::start_with(config, io)
        .await
        .expect("the memory switch starts");
    (switch, network)
}

pub(crate) mod phone;
