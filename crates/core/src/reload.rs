//! Applying a re-read configuration at runtime (FreeSWITCH's `reloadxml`), and the
//! request to stop the process (its `shutdown`).

use std::sync::Arc;

use crate::config::Config;
use crate::dialplan::Dialplan;
use crate::switch::{ControlError, Switch};

/// Reads the configuration again (the binary sets one that re-reads its file).
pub type ConfigLoader = Arc<dyn Fn() -> Result<Config, String> + Send + Sync>;

impl Switch {
    /// Sets how [`Switch::reload_config`] reads the configuration.
    pub fn set_config_loader(&self, loader: ConfigLoader) {
        *self.config_loader() = Some(loader);
    }

    /// Re-reads the configuration and applies what can change while running: the
    /// dialplan. Listeners, endpoints and trunks need a restart.
    pub fn reload_config(&self) -> Result<(), ControlError> {
        let loader = self
            .config_loader()
            .clone()
            .ok_or_else(|| ControlError::Unprocessable("no configuration file to read".into()))?;
        let config = loader().map_err(ControlError::Invalid)?;
        let dialplan = Dialplan::from_config(&config.dialplan).map_err(ControlError::Invalid)?;
        self.set_dialplan(dialplan);
        tracing::info!("configuration reloaded: dialplan replaced");
        Ok(())
    }

    /// Asks the process to stop (what waits on [`Switch::exit_requested`] shuts it
    /// down).
    pub fn request_exit(&self) {
        self.exit_sender().send_replace(true);
    }

    /// Resolves once [`Switch::request_exit`] has been called.
    pub async fn exit_requested(&self) {
        let mut exit = self.exit_sender().subscribe();
        // An error means the switch is gone, which is an exit too.
        let _ = exit.wait_for(|asked| *asked).await;
    }
}
