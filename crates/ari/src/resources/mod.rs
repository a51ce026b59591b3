//! The resources of ARI, each declaring its operations (with their handlers) once.

use std::sync::OnceLock;

use crate::decl::Resource;
use crate::error::AriError;
use crate::params::Args;
use crate::reply::Reply;
use crate::Ari;

pub mod applications;
pub mod asterisk;
pub mod bridges;
pub mod channels;
pub mod device_states;
pub mod endpoints;
pub mod events;
pub mod mailboxes;
pub mod playbacks;
pub mod recordings;
pub mod sounds;

/// Every resource, in the order of Asterisk's `resources.json`.
pub fn resources() -> &'static [Resource] {
    static RESOURCES: OnceLock<Vec<Resource>> = OnceLock::new();
    RESOURCES.get_or_init(|| {
        vec![
            asterisk::resource(),
            endpoints::resource(),
            channels::resource(),
            bridges::resource(),
            recordings::resource(),
            sounds::resource(),
            playbacks::resource(),
            device_states::resource(),
            mailboxes::resource(),
            events::resource(),
            applications::resource(),
        ]
    })
}

/// The handler of every operation that the core cannot serve yet.
pub async fn not_implemented(_ari: Ari, _args: Args) -> Result<Reply, AriError> {
    Err(AriError::not_implemented())
}
