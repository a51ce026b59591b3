//! The configuration model (the TOML shape of the architecture doc). Parsing and
//! validation messages live in the binary; these types are what the switch runs on.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub general: General,
    #[serde(default)]
    pub sip: Sip,
    #[serde(default)]
    pub rtp: Rtp,
    #[serde(default)]
    pub ari: Option<Ari>,
    #[serde(default)]
    pub sessions_api: Option<SessionsApi>,
    #[serde(default)]
    pub endpoint: Vec<Endpoint>,
    #[serde(default)]
    pub trunk: Vec<Trunk>,
    #[serde(default)]
    pub musiconhold: BTreeMap<String, MusicOnHold>,
    #[serde(default)]
    pub dialplan: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct General {
    #[serde(default = "default_name")]
    pub name: String,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default = "default_sounds_dirs")]
    pub sounds_dirs: Vec<PathBuf>,
    #[serde(default = "default_scripts_dir")]
    pub scripts_dir: PathBuf,
}

fn default_name() -> String {
    "switchboard".into()
}
fn default_data_dir() -> PathBuf {
    "./data".into()
}
fn default_sounds_dirs() -> Vec<PathBuf> {
    vec!["./data/sounds".into(), "/usr/share/asterisk/sounds".into()]
}
fn default_scripts_dir() -> PathBuf {
    "./scripts".into()
}

impl Default for General {
    fn default() -> Self {
        Self {
            name: default_name(),
            data_dir: default_data_dir(),
            sounds_dirs: default_sounds_dirs(),
            scripts_dir: default_scripts_dir(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sip {
    /// `udp:IP:PORT` / `tcp:IP:PORT`.
    #[serde(default = "default_sip_listen")]
    pub listen: Vec<String>,
    #[serde(default = "default_name")]
    pub realm: String,
}

fn default_sip_listen() -> Vec<String> {
    vec!["udp:127.0.0.1:5060".into(), "tcp:127.0.0.1:5060".into()]
}

impl Default for Sip {
    fn default() -> Self {
        Self {
            listen: default_sip_listen(),
            realm: default_name(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rtp {
    #[serde(default = "default_rtp_ports")]
    pub ports: [u16; 2],
    #[serde(default = "default_codecs")]
    pub codecs: Vec<String>,
}

fn default_rtp_ports() -> [u16; 2] {
    [10000, 20000]
}
fn default_codecs() -> Vec<String> {
    ["PCMU", "PCMA", "G722", "telephone-event"]
        .map(String::from)
        .to_vec()
}

impl Default for Rtp {
    fn default() -> Self {
        Self {
            ports: default_rtp_ports(),
            codecs: default_codecs(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    pub password: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ari {
    pub listen: String,
    #[serde(default)]
    pub users: Vec<User>,
    /// Origins allowed to call ARI from a browser (CORS); `*` allows any.
    #[serde(default)]
    pub cors_origins: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsApi {
    pub listen: String,
    #[serde(default)]
    pub tls: bool,
    #[serde(default)]
    pub tokens: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub id: String,
    pub password: String,
    #[serde(default = "default_context")]
    pub context: String,
    /// This endpoint's codec order; the `[rtp]` list when absent.
    #[serde(default)]
    pub codecs: Option<Vec<String>>,
    /// `auto` (RFC 4733 when negotiated, else in-band), `rfc4733`, `inband` or `info`
    /// (SIP INFO `application/dtmf-relay`).
    #[serde(default)]
    pub dtmf_mode: DtmfMode,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DtmfMode {
    #[default]
    Auto,
    Rfc4733,
    Inband,
    Info,
}

fn default_context() -> String {
    "default".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trunk {
    pub name: String,
    /// `IP:PORT` of the peer.
    pub host: String,
    #[serde(default = "default_context")]
    pub context: String,
    #[serde(default)]
    pub codecs: Option<Vec<String>>,
    #[serde(default)]
    pub dtmf_mode: DtmfMode,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MusicOnHold {
    #[serde(default = "default_moh_mode")]
    pub mode: String,
    pub directory: PathBuf,
}

fn default_moh_mode() -> String {
    "files".into()
}
