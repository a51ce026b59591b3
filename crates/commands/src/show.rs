//! `show` (channels, application, api) and `help`, formatted as FreeSWITCH prints its
//! SQL reports: comma-separated rows under a header and `N total.`, or `as json`.

use std::time::{SystemTime, UNIX_EPOCH};

use switchboard_core::{ChannelSnapshot, Direction, Switch};

use crate::args::separate;
use crate::{registry, system, Reply, ReplyFuture};

pub(crate) const SYNTAX: &str = "codec|application|api|calls [count]|channels [count]|registrations [count] [as xml|json|delim <delim>]";

/// The columns of FreeSWITCH's `channels` table, in its order.
pub(crate) const CHANNEL_COLUMNS: &[&str] = &[
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "application",
    "application_data",
    "dialplan",
    "context",
    "read_codec",
    "read_rate",
    "read_bit_rate",
    "write_codec",
    "write_rate",
    "write_bit_rate",
    "secure",
    "hostname",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "sent_callee_name",
    "sent_callee_num",
    "initial_cid_name",
    "initial_cid_num",
    "initial_ip_addr",
    "initial_dest",
    "initial_dialplan",
    "initial_context",
];

/// A report: its column names and rows of values.
pub(crate) struct Table {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// How a report is written: delimited (with its separator), XML or JSON.
#[derive(Debug, PartialEq, Eq)]
enum Format {
    Delim(String),
    Xml,
    Json,
}

impl Format {
    /// `as <format> [<delimiter>]` (FreeSWITCH takes the delimiter from the word
    /// after `delim`).
    fn parse(name: Option<&str>, delim: Option<&str>) -> Result<Self, Reply> {
        let Some(name) = name else {
            return Ok(Self::Delim(",".to_owned()));
        };
        match name.to_ascii_lowercase().as_str() {
            "delim" | "csv" => Ok(Self::Delim(delim.unwrap_or(",").to_owned())),
            "xml" => Ok(Self::Xml),
            "json" => Ok(Self::Json),
            _ => Err(Reply::err(format!("-ERR Cannot find format {name}\n"))),
        }
    }
}

pub(crate) fn show(switch: Switch, args: String) -> ReplyFuture {
    Box::pin(async move { show_now(&switch, &args).await })
}

async fn show_now(switch: &Switch, args: &str) -> Reply {
    let words = separate(args, ' ', 6);
    let word = |n: usize| words.get(n).map(String::as_str);
    let is = |n: usize, what: &str| word(n).is_some_and(|w| w.eq_ignore_ascii_case(what));
    let Some(what) = word(0).map(str::to_ascii_lowercase) else {
        return Reply::usage(SYNTAX);
    };
    // `show <what> as <format> [<delim>]`, or `show <what> count as <format>`.
    let counting =
        is(1, "count") && ["channels", "calls", "registrations"].contains(&what.as_str());
    let format = if counting {
        Format::parse(word(3).filter(|_| is(2, "as")), None)
    } else {
        Format::parse(word(2).filter(|_| is(1, "as")), word(3))
    };
    let format = match format {
        Ok(format) => format,
        Err(reply) => return reply,
    };
    let named = word(1).filter(|_| !is(1, "as"));
    let table = match what.as_str() {
        "channels" => channels(switch),
        "calls" => calls(switch),
        "registrations" => registrations(switch).await,
        "application" => applications(switch, named),
        "api" => api(named),
        "codec" | "codecs" => codecs(),
        _ => return Reply::usage(SYNTAX),
    };
    Reply::ok(match (counting, format) {
        (true, format) => count(table.rows.len(), &format),
        (false, Format::Delim(delim)) => delimited(&table, &delim),
        (false, Format::Xml) => xml(&table),
        (false, Format::Json) => json(&table),
    })
}

/// `show … count`: FreeSWITCH counts with SQL and prints only the total.
fn count(n: usize, format: &Format) -> String {
    match format {
        Format::Delim(_) => format!("\n{n} total.\n"),
        Format::Xml => format!("<result row_count=\"{n}\"/>\n"),
        // The rows array is made before the count row is seen, so it is there, empty.
        Format::Json => format!("{{\"row_count\":{n},\"rows\":[]}}"),
    }
}

pub(crate) fn help(_: &Switch, args: &str) -> Reply {
    let rows: Vec<String> = registry::commands()
        .iter()
        .filter(|c| args.is_empty() || c.name.eq_ignore_ascii_case(args))
        .map(|c| format!("{},{},{},{}\n", c.name, c.syntax, c.description, c.module))
        .collect();
    if rows.is_empty() {
        return Reply::err("-ERR No such command\n");
    }
    let title = if args.is_empty() {
        "\nValid Commands:\n\n"
    } else {
        ""
    };
    Reply::ok(format!("{title}{}", rows.concat()))
}

fn channels(switch: &Switch) -> Table {
    let host = system::host();
    let rows = switch
        .channels()
        .iter()
        .map(|channel| {
            let direction = match channel.direction {
                Direction::Inbound => "inbound",
                Direction::Outbound => "outbound",
            };
            channel_row(&switch.snapshot(channel), direction, &host)
        })
        .collect();
    Table {
        columns: CHANNEL_COLUMNS.to_vec(),
        rows,
    }
}

/// One row of `show channels`; what we do not track (codecs, addresses, presence) is
/// empty, as FreeSWITCH leaves a column it has no value for.
pub(crate) fn channel_row(s: &ChannelSnapshot, direction: &str, host: &str) -> Vec<String> {
    let epoch = s
        .created
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let values: [&str; 38] = [
        &s.id,
        direction,
        &created(s.created),
        &epoch.to_string(),
        &s.name,
        s.freeswitch_state,
        &s.caller.name,
        &s.caller.number,
        "",
        &s.exten,
        &s.app,
        &s.app_data,
        "XML",
        &s.context,
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        host,
        "",
        "",
        "",
        s.state.freeswitch_callstate(),
        &s.connected.name,
        &s.connected.number,
        "",
        "",
        "",
        "",
        &s.caller.name,
        &s.caller.number,
        "",
        &s.exten,
        "XML",
        &s.context,
    ];
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// The columns of FreeSWITCH's `basic_calls` view: the caller's, then the callee's
/// (`b_`), then when the call began.
const CALL_COLUMNS: &[&str] = &[
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "hostname",
    "sent_callee_name",
    "sent_callee_num",
    "b_uuid",
    "b_direction",
    "b_created",
    "b_created_epoch",
    "b_name",
    "b_state",
    "b_cid_name",
    "b_cid_num",
    "b_ip_addr",
    "b_dest",
    "b_presence_id",
    "b_presence_data",
    "b_accountcode",
    "b_callstate",
    "b_callee_name",
    "b_callee_num",
    "b_callee_direction",
    "b_sent_callee_name",
    "b_sent_callee_num",
    "call_created_epoch",
];

/// `show calls`: a channel alone is a row of its own; two channels bridged together
/// are one call, on the row of the one created first (FreeSWITCH's caller).
fn calls(switch: &Switch) -> Table {
    let channels = channels(switch);
    let row_of = |id: &str| channels.rows.iter().find(|row| row[0] == id);
    let value = |row: Option<&Vec<String>>, column: &str| {
        let at = CHANNEL_COLUMNS.iter().position(|c| *c == column);
        row.zip(at)
            .and_then(|(row, at)| row.get(at).cloned())
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    // Rows are in creation order, so a caller comes before its callee.
    let mut callees: Vec<String> = Vec::new();
    for row in &channels.rows {
        let id = &row[0];
        if callees.contains(id) {
            continue;
        }
        let partner = switch.bridge_partner(id);
        let callee = partner.as_deref().and_then(row_of);
        let call_epoch = switch
            .channel(id)
            .ok()
            .and_then(|c| c.bridge_id())
            .and_then(|b| switch.bridge(&b).ok())
            .and_then(|b| b.created.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs().to_string())
            .filter(|_| callee.is_some())
            .unwrap_or_default();
        if let Some(partner) = partner.filter(|_| callee.is_some()) {
            callees.push(partner);
        }
        let out: Vec<String> = CALL_COLUMNS
            .iter()
            .map(|column| match column.strip_prefix("b_") {
                _ if *column == "call_created_epoch" => call_epoch.clone(),
                _ if *column == "call_uuid" => value(Some(row), column),
                Some(b_column) => value(callee, b_column),
                None => value(Some(row), column),
            })
            .collect();
        rows.push(out);
    }
    Table {
        columns: CALL_COLUMNS.to_vec(),
        rows,
    }
}

/// `show registrations`: each registered contact of each endpoint (what the
/// registrar does not keep, as the expiry, is left empty).
async fn registrations(switch: &Switch) -> Table {
    let host = system::host();
    let realm = &switch.config().sip.realm;
    let mut rows = Vec::new();
    for endpoint in &switch.config().endpoint {
        for contact in switch.endpoint_contacts(&endpoint.id).await {
            let (ip, port) = contact_address(&contact);
            let proto = if contact.to_ascii_lowercase().contains("transport=tcp") {
                "tcp"
            } else {
                "udp"
            };
            rows.push(vec![
                endpoint.id.clone(),
                realm.clone(),
                String::new(),
                contact.clone(),
                String::new(),
                ip,
                port,
                proto.to_owned(),
                host.clone(),
                String::new(),
            ]);
        }
    }
    Table {
        columns: vec![
            "reg_user",
            "realm",
            "token",
            "url",
            "expires",
            "network_ip",
            "network_port",
            "network_proto",
            "hostname",
            "metadata",
        ],
        rows,
    }
}

/// The host and port of a contact URI (`sip:user@host:port;params`).
fn contact_address(contact: &str) -> (String, String) {
    let uri = contact.trim_start_matches('<');
    let after_user = uri.rsplit_once('@').map_or(uri, |(_, rest)| rest);
    let after_user = after_user
        .strip_prefix("sip:")
        .or_else(|| after_user.strip_prefix("sips:"))
        .unwrap_or(after_user);
    let hostport = after_user.split([';', '>', '?']).next().unwrap_or_default();
    match hostport.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
            (host.to_owned(), port.to_owned())
        }
        _ => (hostport.to_owned(), "5060".to_owned()),
    }
}

/// `show codec`: the codecs the media engine has, named and owned as FreeSWITCH's
/// modules register them.
fn codecs() -> Table {
    let rows = [
        ("G.711 alaw", "CORE_PCM_MODULE"),
        ("G.711 ulaw", "CORE_PCM_MODULE"),
        ("G.722", "mod_spandsp"),
        ("LINEAR PCM", "CORE_PCM_MODULE"),
    ]
    .iter()
    .map(|(name, module)| vec!["codec".to_owned(), (*name).to_owned(), (*module).to_owned()])
    .collect();
    Table {
        columns: vec!["type", "name", "ikey"],
        rows,
    }
}

fn applications(switch: &Switch, name: Option<&str>) -> Table {
    let mut rows: Vec<Vec<String>> = switch
        .applications()
        .iter()
        .filter(|app| name.is_none_or(|n| app.name.eq_ignore_ascii_case(n)))
        .map(|app| {
            vec![
                app.name.clone(),
                app.description.clone(),
                app.syntax.clone(),
                "mod_dptools".to_owned(),
            ]
        })
        .collect();
    rows.sort();
    interface_table(rows)
}

fn api(name: Option<&str>) -> Table {
    let rows = registry::commands()
        .iter()
        .filter(|c| name.is_none_or(|n| c.name.eq_ignore_ascii_case(n)))
        .map(|c| {
            vec![
                c.name.to_owned(),
                c.description.to_owned(),
                c.syntax.to_owned(),
                c.module.to_owned(),
            ]
        })
        .collect();
    interface_table(rows)
}

fn interface_table(rows: Vec<Vec<String>>) -> Table {
    Table {
        columns: vec!["name", "description", "syntax", "ikey"],
        rows,
    }
}

/// The header (only when there are rows), the rows, then a blank line and `N total.`.
pub(crate) fn delimited(table: &Table, delim: &str) -> String {
    let mut out = String::new();
    if !table.rows.is_empty() {
        out.push_str(&table.columns.join(delim));
        out.push('\n');
    }
    for row in &table.rows {
        out.push_str(&row.join(delim));
        out.push('\n');
    }
    out.push_str(&format!("\n{} total.\n", table.rows.len()));
    out
}

/// switch_xml's rendering of `<result row_count="N">` with one `<row row_id="i">` a
/// row and one element a column, indented by two spaces.
pub(crate) fn xml(table: &Table) -> String {
    let n = table.rows.len();
    if n == 0 {
        return "<result row_count=\"0\"/>\n".to_owned();
    }
    let mut out = format!("<result row_count=\"{n}\">\n");
    for (i, row) in table.rows.iter().enumerate() {
        out.push_str(&format!("  <row row_id=\"{}\">\n", i + 1));
        for (column, value) in table.columns.iter().zip(row) {
            out.push_str(&format!("    <{column}>{}</{column}>\n", xml_text(value)));
        }
        out.push_str("  </row>\n");
    }
    out.push_str("</result>\n");
    out
}

/// Element text as switch_xml escapes it.
fn xml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// cJSON's unformatted `{"row_count":N,"rows":[{column: value, …}]}`.
pub(crate) fn json(table: &Table) -> String {
    if table.rows.is_empty() {
        return "{\"row_count\": 0}\n".to_owned();
    }
    let rows: Vec<String> = table
        .rows
        .iter()
        .map(|row| {
            let fields: Vec<String> = table
                .columns
                .iter()
                .zip(row)
                .map(|(column, value)| format!("{}:{}", quote(column), quote(value)))
                .collect();
            format!("{{{}}}", fields.join(","))
        })
        .collect();
    format!(
        "{{\"row_count\":{},\"rows\":[{}]}}",
        table.rows.len(),
        rows.join(",")
    )
}

/// A JSON string literal (serde_json's escaping; the object is written by hand above to
/// keep FreeSWITCH's column order).
pub(crate) fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// `YYYY-MM-DD hh:mm:ss` (UTC).
pub(crate) fn created(at: SystemTime) -> String {
    switchboard_core::time::freeswitch(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn created_is_a_calendar_time() {
        let at = UNIX_EPOCH + Duration::from_secs(1_709_251_199); // 2024-02-29 23:59:59
        assert_eq!(created(at), "2024-02-29 23:59:59");
        assert_eq!(created(UNIX_EPOCH), "1970-01-01 00:00:00");
    }

    #[test]
    fn contact_addresses() {
        let at = |c: &str| contact_address(c);
        assert_eq!(
            at("<sip:1000@10.0.0.5:5062;transport=tcp>"),
            ("10.0.0.5".into(), "5062".into())
        );
        assert_eq!(at("sip:1000@host"), ("host".into(), "5060".into()));
    }

    #[test]
    fn reports() {
        let table = Table {
            columns: vec!["a", "b"],
            rows: vec![vec!["1".into(), "x\"y".into()]],
        };
        assert_eq!(delimited(&table, ","), "a,b\n1,x\"y\n\n1 total.\n");
        assert_eq!(delimited(&table, "|"), "a|b\n1|x\"y\n\n1 total.\n");
        assert_eq!(
            xml(&table),
            "<result row_count=\"1\">\n  <row row_id=\"1\">\n    <a>1</a>\n    <b>x\"y</b>\n  </row>\n</result>\n"
        );
        assert_eq!(
            json(&table),
            r#"{"row_count":1,"rows":[{"a":"1","b":"x\"y"}]}"#
        );
        let empty = Table {
            columns: vec!["a"],
            rows: vec![],
        };
        assert_eq!(delimited(&empty, ","), "\n0 total.\n");
        assert_eq!(xml(&empty), "<result row_count=\"0\"/>\n");
        assert_eq!(json(&empty), "{\"row_count\": 0}\n");
    }
}
