//! user_exists, list_users, reloadxml, shutdown.

use std::sync::Arc;
use std::time::Duration;

use switchboard_core::config::Endpoint;
use switchboard_core::{EventKind, Originate, Switch, Then};

use super::{config, execute, next_event, parked_call, text};

fn endpoint(id: &str, context: &str) -> Endpoint {
    Endpoint {
        id: id.to_owned(),
        password: "secret".to_owned(),
        context: context.to_owned(),
        codecs: None,
        dtmf_mode: Default::default(),
        auth_algorithms: None,
        force_rport: false,
        rewrite_contact: false,
    }
}

#[tokio::test]
async fn directory_reload_and_shutdown() {
    let mut with_users = config("system-more");
    let _ = std::fs::remove_dir_all(&with_users.general.data_dir);
    with_users.endpoint = vec![endpoint("1000", "default"), endpoint("1001", "office")];
    let switch = Switch::start(with_users.clone()).await.expect("starts");
    let realm = switch.config().sip.realm.clone();

    assert_eq!(
        text(&switch, &format!("user_exists id 1000 {realm}")).await,
        "true"
    );
    assert_eq!(
        text(&switch, &format!("user_exists id 1002 {realm}")).await,
        "false"
    );
    assert_eq!(
        text(&switch, "user_exists id 1000 elsewhere").await,
        "false"
    );
    assert_eq!(text(&switch, "user_exists id").await, "false");

    let header = "userid|context|domain|group|contact|callgroup|effective_caller_id_name|effective_caller_id_number\n";
    let all = text(&switch, "list_users").await;
    assert_eq!(
        all,
        format!(
            "{header}1000|default|{realm}||error/user_not_registered|||\n\
             1001|office|{realm}||error/user_not_registered|||\n\n+OK\n"
        )
    );
    let office = text(&switch, "list_users context office").await;
    assert_eq!(
        office,
        format!("{header}1001|office|{realm}||error/user_not_registered|||\n\n+OK\n")
    );
    assert_eq!(
        text(&switch, "list_users user 1000 domain nowhere").await,
        format!("{header}\n+OK\n")
    );

    // Without a configuration file FreeSWITCH's brackets carry the reason.
    let reload = execute(&switch, "reloadxml").await;
    assert!(reload.text.starts_with("+OK ["), "{}", reload.text);
    assert_ne!(reload.text, "+OK [Success]\n");
    // The "file" now has an extension 3 in `t`: after reloadxml a transfer finds it.
    let mut reloaded = with_users.clone();
    reloaded.dialplan.get_mut("t").expect("t").insert(
        "3".to_owned(),
        vec!["Set(reloaded=yes)".to_owned(), "Wait(30)".to_owned()],
    );
    switch.set_config_loader(Arc::new(move || Ok(reloaded.clone())));
    assert_eq!(text(&switch, "reloadxml").await, "+OK [Success]\n");
    let mut events = switch.events().subscribe();
    let channel = parked_call(&switch).await;
    execute(&switch, &format!("uuid_transfer {} 3 XML t", channel.id)).await;
    let app = next_event(&mut events, &channel.id, |k| match k {
        EventKind::ChannelDialplan { app, .. } => Some(app.clone()),
        _ => None,
    })
    .await;
    assert_eq!(app, "Set");
    let broken = Arc::new(|| Err::<switchboard_core::Config, _>("bad toml".to_owned()));
    switch.set_config_loader(broken);
    assert_eq!(text(&switch, "reloadxml").await, "+OK [bad toml]\n");

    // shutdown: answered at once, calls hung up, and the process told to exit.
    let other = switch
        .originate(Originate::new("Local/1@t", Then::Park))
        .await
        .expect("originate");
    assert_eq!(text(&switch, "shutdown").await, "+OK\n");
    tokio::time::timeout(Duration::from_secs(10), switch.exit_requested())
        .await
        .expect("exit requested");
    assert!(channel.status().hangup.is_some() && other.status().hangup.is_some());
    assert!(switch.channels().is_empty());
}
