//! `sofia status gateway [<name>]`: the trunks (FreeSWITCH's gateways) and whether they
//! are up, as mod_sofia lists them.

use switchboard_core::{Switch, TrunkStatus};

use crate::Reply;

pub(crate) const SOFIA_SYNTAX: &str = "status gateway [<name>]";

const RULE: &str =
    "=================================================================================================\n";

/// mod_sofia's gateway state: registered, failed and waiting to retry, or not
/// registering.
fn state(trunk: &TrunkStatus) -> &'static str {
    match trunk.registered {
        Some(true) => "REGED",
        Some(false) => "FAIL_WAIT",
        None => "NOREG",
    }
}

fn status(trunk: &TrunkStatus) -> &'static str {
    if trunk.is_up() {
        "UP"
    } else {
        "DOWN"
    }
}

pub(crate) fn sofia(switch: &Switch, args: &str) -> Reply {
    let words: Vec<&str> = args.split_whitespace().collect();
    match words.as_slice() {
        ["status", "gateway"] | ["status", "gateways"] => Reply::ok(list(switch)),
        ["status", "gateway", name] => match switch.trunk_status(name) {
            Some(trunk) => Reply::ok(detail(switch, &trunk)),
            None => Reply::err("Invalid Gateway!\n"),
        },
        _ => Reply::usage(SOFIA_SYNTAX),
    }
}

fn host(switch: &Switch, name: &str) -> String {
    switch
        .config()
        .trunk
        .iter()
        .find(|t| t.name == name)
        .map(|t| t.host.clone())
        .unwrap_or_default()
}

fn list(switch: &Switch) -> String {
    let trunks = switch.trunks();
    let mut out = format!(
        "{:>30}\t{:>30}\t{}\t{}\n{RULE}",
        "Profile::Gateway-Name", "Data", "State", "Status"
    );
    for trunk in &trunks {
        out.push_str(&format!(
            "{:>30}\tsip:{}\t{}\t{}\n",
            format!("external::{}", trunk.name),
            host(switch, &trunk.name),
            state(trunk),
            status(trunk)
        ));
    }
    let up = trunks.iter().filter(|t| t.is_up()).count();
    out.push_str(RULE);
    out.push_str(&format!(
        "{} gateway{}: {up} up, {} down\n",
        trunks.len(),
        if trunks.len() == 1 { "" } else { "s" },
        trunks.len() - up
    ));
    out
}

fn detail(switch: &Switch, trunk: &TrunkStatus) -> String {
    let mut out = String::from(RULE);
    for (name, value) in [
        ("Name", trunk.name.clone()),
        ("Profile", "external".to_owned()),
        ("Proxy", format!("sip:{}", host(switch, &trunk.name))),
        ("State", state(trunk).to_owned()),
        ("Status", status(trunk).to_owned()),
        ("Reason", trunk.last_error.clone().unwrap_or_default()),
    ] {
        out.push_str(&format!("{name:<12}\t{value}\n"));
    }
    out.push_str(RULE);
    out
}
