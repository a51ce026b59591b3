//! The `Stasis(app[,args…])` dialplan application, which ARI registers with the core's
//! application registry: it hands the channel to a connected ARI application until
//! that lets go (`continue`), the channel hangs up or is transferred.

use std::sync::Arc;

use switchboard_core::dialplan::split_args;
use switchboard_core::{Application, Cause, Channel, Next, Switch};

pub fn application() -> Application {
    Application::new(
        "Stasis",
        "Stasis(app_name[,args])",
        "Invoke an external Stasis application.",
        stasis,
    )
}

async fn stasis(switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let parts = split_args(&args);
    let Some((app, app_args)) = parts.split_first() else {
        tracing::warn!(channel = %channel.name, "Stasis: no application named");
        return Next::Continue;
    };
    // As in Asterisk, Stasis() fails when no client has registered the app.
    if !switch.has_app(app) {
        tracing::warn!(channel = %channel.name, %app, "Stasis: application not registered");
        return Next::Hangup(Cause::NORMAL_CLEARING);
    }
    if let Err(e) = switch
        .park_in_stasis(&channel.id, app, app_args.to_vec())
        .await
    {
        tracing::warn!(channel = %channel.name, %app, error = %e, "Stasis");
    }
    Next::Continue
}
