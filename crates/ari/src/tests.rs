//! Checks of the declarations themselves (the api-docs are generated from them).

use std::collections::HashSet;

use serde_json::json;

use crate::decl::{match_path, Kind, ParamType};
use crate::params;
use crate::resources::channels::parse_caller_id;
use crate::resources::resources;
use crate::stasis::LastEvent;

#[test]
fn declarations_are_consistent() {
    for resource in resources() {
        let models = resource.models_json();
        for (name, model) in &models {
            assert_eq!(
                model["id"],
                name.as_str(),
                "{}: model {name}",
                resource.name
            );
            for (prop, spec) in model["properties"].as_object().expect("properties") {
                assert!(spec["type"].is_string(), "{name}.{prop} has no type");
            }
        }
        let mut nicknames = HashSet::new();
        for api in &resource.apis {
            assert!(api.path.starts_with('/'), "{}", api.path);
            let mut methods = HashSet::new();
            for op in &api.operations {
                assert!(
                    nicknames.insert(op.nickname),
                    "{}: nickname {} twice",
                    resource.name,
                    op.nickname
                );
                assert!(
                    methods.insert(op.method),
                    "{}: two {:?} operations",
                    api.path,
                    op.method
                );
                for p in &op.params {
                    if p.param_type == ParamType::Path {
                        assert!(
                            api.path.contains(&format!("{{{}}}", p.name)),
                            "{} {}: {}",
                            api.path,
                            op.nickname,
                            p.name
                        );
                    }
                }
                if matches!(op.kind, Kind::WebSocket) {
                    assert_eq!(op.method, crate::decl::Method::Get);
                }
            }
        }
    }
}

#[test]
fn paths_match_with_parameters() {
    assert_eq!(
        match_path(
            "/channels/{channelId}/play/{playbackId}",
            "/channels/a%20b/play/p+1"
        ),
        Some(vec![
            ("channelId", "a b".to_string()),
            ("playbackId", "p+1".to_string())
        ])
    );
    assert_eq!(
        match_path("/channels/{channelId}", "/channels/x/answer"),
        None
    );
    assert_eq!(match_path("/channels", "/channels/"), Some(vec![]));
}

#[test]
fn parameters_merge_query_and_body_with_defaults() {
    let channels = resources().iter().find(|r| r.name == "channels").unwrap();
    let dtmf = channels
        .apis
        .iter()
        .flat_map(|a| &a.operations)
        .find(|o| o.nickname == "sendDTMF")
        .unwrap();
    let args = params::parse(
        dtmf,
        vec![("channelId", "c".into())],
        Some("dtmf=12"),
        br#"{"between": 50}"#,
    )
    .unwrap();
    assert_eq!(args.str("dtmf"), Some("12"));
    assert_eq!(args.int("between"), Some(50));
    assert_eq!(args.int("duration"), Some(100), "default");
    assert_eq!(args.path("channelId"), "c");
    let bad = params::parse(dtmf, vec![], Some("before=soon"), b"").unwrap_err();
    assert_eq!(bad.status, 400);
    let originate = channels.apis[0]
        .operations
        .iter()
        .find(|o| o.nickname == "originate")
        .unwrap();
    let missing = params::parse(originate, vec![], None, b"").unwrap_err();
    assert_eq!(missing.status, 400);
    let body = json!({"endpoint": "PJSIP/1", "variables": {"A": "b"}}).to_string();
    let args = params::parse(originate, vec![], None, body.as_bytes()).unwrap();
    assert_eq!(args.str("endpoint"), Some("PJSIP/1"));
    assert_eq!(args.object("variables"), Some(&json!({"A": "b"})));
    assert_eq!(args.int("timeout"), Some(30));
}

#[test]
fn caller_ids_and_last_event() {
    let c = parse_caller_id("\"Alice Smith\" <1000>");
    assert_eq!(
        (c.name.as_str(), c.number.as_str()),
        ("Alice Smith", "1000")
    );
    assert_eq!(parse_caller_id("555").number, "555");
    assert!(LastEvent::parse("12").is_some());
    assert!(LastEvent::parse("a:3,b:4").is_some());
    assert!(LastEvent::parse("soon").is_none());
}
