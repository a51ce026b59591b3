//! Global variables (Asterisk's `[globals]`, `Set(GLOBAL(x)=…)`, ARI's
//! `/asterisk/variable`; FreeSWITCH's `global_getvar`/`global_setvar`), and variable
//! lookups that fall back to them as Asterisk's `pbx_retrieve_variable` does.

use std::collections::BTreeMap;

use crate::channel::Channel;
use crate::dialplan::expand;
use crate::switch::{ControlError, Switch};

impl Switch {
    /// Sets a global variable; an empty value removes it (Asterisk deletes a global
    /// set to nothing).
    pub fn set_global(&self, name: &str, value: &str) -> Result<(), ControlError> {
        if name.is_empty() {
            return Err(ControlError::Invalid("variable name is empty".into()));
        }
        crate::header_value::check_variable(name, value)?;
        let mut globals = crate::lock(&self.shared().globals);
        if value.is_empty() {
            globals.remove(name);
        } else {
            globals.insert(name.to_owned(), value.to_owned());
        }
        Ok(())
    }

    /// A global variable's value.
    pub fn global(&self, name: &str) -> Option<String> {
        crate::lock(&self.shared().globals).get(name).cloned()
    }

    /// Every global variable, by name.
    pub fn globals(&self) -> BTreeMap<String, String> {
        crate::lock(&self.shared().globals).clone()
    }

    /// A variable as the dialplan sees it on `channel`: `GLOBAL(x)` is the global `x`;
    /// any other name is the channel's variable (or built-in), else the global of that
    /// name.
    pub fn var(&self, channel: &Channel, name: &str) -> Option<String> {
        if let Some(global) = name
            .strip_prefix("GLOBAL(")
            .and_then(|rest| rest.strip_suffix(')'))
        {
            return self.global(global);
        }
        channel.var(name).or_else(|| self.global(name))
    }

    /// `text` with its `${…}` expanded on `channel` (with the global fallback).
    pub fn expand(&self, channel: &Channel, text: &str) -> String {
        expand(text, &|name| self.var(channel, name))
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::test_switch;
    use crate::CallerId;

    #[tokio::test]
    async fn globals_are_set_read_and_removed() {
        let switch = test_switch("globals").await;
        switch.set_global("COLOR", "blue").unwrap();
        switch.set_global("SIZE", "xl").unwrap();
        assert_eq!(switch.global("COLOR").as_deref(), Some("blue"));
        assert_eq!(
            switch.globals().into_iter().collect::<Vec<_>>(),
            [
                ("COLOR".to_owned(), "blue".to_owned()),
                ("SIZE".to_owned(), "xl".to_owned())
            ]
        );
        // Empty removes, as Asterisk's `Set(GLOBAL(x)=)`.
        switch.set_global("COLOR", "").unwrap();
        assert_eq!(switch.global("COLOR"), None);
        assert!(switch.set_global("", "x").is_err());
        assert!(switch.set_global("BAD", "a\r\nb").is_err());
    }

    #[tokio::test]
    async fn channel_lookups_fall_back_to_globals() {
        let switch = test_switch("globals-fallback").await;
        let channel = switch
            .create_channel("Local/100@default", CallerId::default(), None, None)
            .unwrap();
        switch.set_global("TRUNK", "SIP/out").unwrap();
        switch.set_global("MINE", "global").unwrap();
        switch.set_var(&channel.id, "MINE", "channel").unwrap();
        assert_eq!(switch.var(&channel, "TRUNK").as_deref(), Some("SIP/out"));
        // The channel's own variable hides the global; GLOBAL() reaches it.
        assert_eq!(switch.var(&channel, "MINE").as_deref(), Some("channel"));
        assert_eq!(
            switch.var(&channel, "GLOBAL(MINE)").as_deref(),
            Some("global")
        );
        assert_eq!(switch.var(&channel, "GLOBAL(NONE)"), None);
        assert_eq!(
            switch.expand(&channel, "${TRUNK}/${GLOBAL(MINE)}/${MINE}/${NONE}"),
            "SIP/out/global/channel/"
        );
    }
}
