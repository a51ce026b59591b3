//! FreeSWITCH dial strings (`{var=val}loopback/100/ctx`, `user/1000`,
//! `sofia/gateway/<trunk>/<number>`, `sofia/<profile>/sip:…`) mapped to the core's
//! endpoints (`Local/100@ctx`, `SIP/1000`, `SIP/<trunk>/<number>`, `SIP/sip:…`).

use std::collections::BTreeMap;

/// One leg to call: the core's endpoint and the variables to set on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialString {
    pub endpoint: String,
    pub variables: BTreeMap<String, String>,
}

/// Parses one leg. Leading `{…}` (all legs) and `[…]` (this leg) blocks hold
/// `var=val` pairs separated by `,`; a later block's value wins.
pub fn parse(text: &str) -> Result<DialString, String> {
    let mut rest = text.trim();
    let mut variables = BTreeMap::new();
    while let Some(close) = match rest.chars().next() {
        Some('{') => Some('}'),
        Some('[') => Some(']'),
        _ => None,
    } {
        let end = rest
            .find(close)
            .ok_or_else(|| format!("unterminated variables in {text:?}"))?;
        for pair in rest[1..end].split(',').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            variables.insert(name.trim().to_owned(), value.to_owned());
        }
        rest = rest[end + 1..].trim_start();
    }
    if rest.is_empty() {
        return Err(format!("no endpoint in {text:?}"));
    }
    Ok(DialString {
        endpoint: endpoint(rest),
        variables,
    })
}

/// The core's endpoint for a FreeSWITCH one; others (`SIP/…`, `Local/…`) pass as they are.
/// A dial string with FreeSWITCH's lists: `|` separates groups tried one after the
/// other, `,` legs of a group rung at once. A leading `{…}` applies to every leg; each
/// leg's own `[…]` overrides it.
pub fn parse_list(text: &str) -> Result<Vec<Vec<DialString>>, String> {
    let text = text.trim();
    let (globals, rest) = match text.strip_prefix('{') {
        Some(inner) => {
            let end = inner
                .find('}')
                .ok_or_else(|| format!("unterminated variables in {text:?}"))?;
            (&text[..end + 2], &inner[end + 1..])
        }
        None => ("", text),
    };
    let groups: Vec<Vec<DialString>> = split_top(rest, '|')
        .into_iter()
        .map(|group| {
            split_top(group, ',')
                .into_iter()
                .map(|leg| parse(&format!("{globals}{leg}")))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<_, _>>()?;
    if groups.is_empty() {
        return Err(format!("no endpoint in {text:?}"));
    }
    Ok(groups)
}

/// `text` split at `separator` where it is outside `{…}`, `[…]` and `<…>`.
fn split_top(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' | '[' | '<' => depth += 1,
            '}' | ']' | '>' => depth = depth.saturating_sub(1),
            c if c == separator && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

fn endpoint(leg: &str) -> String {
    let (tech, target) = leg.split_once('/').unwrap_or((leg, ""));
    match tech.to_ascii_lowercase().as_str() {
        "loopback" => {
            let (exten, context) = target.split_once('/').unwrap_or((target, "default"));
            format!("Local/{exten}@{context}")
        }
        // `user/1000@domain`: our one domain is the switch's.
        "user" => format!("SIP/{}", target.split('@').next().unwrap_or(target)),
        "sofia" => {
            let (profile, rest) = target.split_once('/').unwrap_or((target, ""));
            let uri = rest.starts_with("sip:") || rest.starts_with("sips:");
            if profile.eq_ignore_ascii_case("gateway") || uri {
                format!("SIP/{rest}")
            } else {
                format!("SIP/sip:{rest}")
            }
        }
        _ => leg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint_of(text: &str) -> String {
        parse(text).expect("parses").endpoint
    }

    #[test]
    fn freeswitch_forms() {
        assert_eq!(endpoint_of("loopback/100"), "Local/100@default");
        assert_eq!(endpoint_of("loopback/100/t"), "Local/100@t");
        assert_eq!(endpoint_of("user/1000"), "SIP/1000");
        assert_eq!(endpoint_of("user/1000@example.com"), "SIP/1000");
        assert_eq!(
            endpoint_of("sofia/gateway/trunk1/15551234"),
            "SIP/trunk1/15551234"
        );
        assert_eq!(
            endpoint_of("sofia/internal/sip:bob@10.0.0.1:5070"),
            "SIP/sip:bob@10.0.0.1:5070"
        );
        assert_eq!(
            endpoint_of("sofia/internal/bob@10.0.0.1"),
            "SIP/sip:bob@10.0.0.1"
        );
        assert_eq!(endpoint_of("Local/1@t"), "Local/1@t");
        assert_eq!(endpoint_of("SIP/1001"), "SIP/1001");
    }

    #[test]
    fn variables() {
        let parsed = parse("{a=1,b=x y}[b=2,c=]loopback/9/t").expect("parses");
        assert_eq!(parsed.endpoint, "Local/9@t");
        let vars: Vec<_> = parsed
            .variables
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(vars, [("a", "1"), ("b", "2"), ("c", "")]);
        assert!(parse("{a=1").is_err());
        assert!(parse("{a=1}").is_err());
    }

    #[test]
    fn lists() {
        let groups = parse_list("{a=1}[a=2]user/1000,user/1001|loopback/9/t").expect("parses");
        let endpoints: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|l| l.endpoint.as_str()).collect())
            .collect();
        assert_eq!(endpoints, [vec!["SIP/1000", "SIP/1001"], vec!["Local/9@t"]]);
        assert_eq!(groups[0][0].variables["a"], "2");
        assert_eq!(groups[0][1].variables["a"], "1");
        assert_eq!(groups[1][0].variables["a"], "1");
        // A comma inside the variables is theirs, not a second leg.
        let one = parse_list("[x=1,y=2]user/1000").expect("parses");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].len(), 1);
        assert!(parse_list("").is_err());
        assert!(parse_list("{a=1").is_err());
    }
}
