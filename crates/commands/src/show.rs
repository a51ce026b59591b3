//! `show` (channels, application, api) and `help`, formatted as FreeSWITCH prints its
//! SQL reports: comma-separated rows under a header and `N total.`, or `as json`.

use std::time::{SystemTime, UNIX_EPOCH};

use switchboard_core::{ChannelSnapshot, Direction, Switch};

use crate::{registry, system, Reply};

pub(crate) const SYNTAX: &str = "channels [count]|application [<name>]|api [<name>] [as json]";

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

/// How a report is written.
#[derive(Debug, PartialEq, Eq)]
enum Format {
    Delim,
    Json,
}

pub(crate) fn show(switch: &Switch, args: &str) -> Reply {
    let words: Vec<&str> = args.split_whitespace().collect();
    let Some(what) = words.first().map(|w| w.to_ascii_lowercase()) else {
        return Reply::usage(SYNTAX);
    };
    // `… as <format>` ends any report.
    let (words, format) = match words.iter().position(|w| w.eq_ignore_ascii_case("as")) {
        Some(at) => match words.get(at + 1).map(|f| f.to_ascii_lowercase()).as_deref() {
            Some("json") => (&words[..at], Format::Json),
            Some("delim" | "csv") => (&words[..at], Format::Delim),
            Some(other) => return Reply::err(format!("-ERR Cannot find format {other}\n")),
            None => (&words[..at], Format::Delim),
        },
        None => (&words[..], Format::Delim),
    };
    let arg = words.get(1).copied();
    let table = match what.as_str() {
        "channels" if arg.is_some_and(|a| a.eq_ignore_ascii_case("count")) => {
            return count(switch.channels().len(), &format);
        }
        "channels" => channels(switch),
        "application" => applications(switch, arg),
        "api" => api(arg),
        _ => return Reply::usage(SYNTAX),
    };
    Reply::ok(match format {
        Format::Delim => delimited(&table),
        Format::Json => json(&table),
    })
}

/// `show channels count`: FreeSWITCH counts with SQL and prints only the total.
fn count(n: usize, format: &Format) -> Reply {
    Reply::ok(match format {
        Format::Delim => format!("\n{n} total.\n"),
        Format::Json => format!("{{\"row_count\":{n}}}"),
    })
}

pub(crate) fn help(_: &Switch, args: &str) -> Reply {
    let rows: Vec<String> = registry::commands()
        .iter()
        .filter(|c| args.is_empty() || c.name.eq_ignore_ascii_case(args))
        .map(|c| format!("{},{},{},mod_commands\n", c.name, c.syntax, c.description))
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
        s.state.freeswitch(),
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
                "mod_commands".to_owned(),
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
pub(crate) fn delimited(table: &Table) -> String {
    let mut out = String::new();
    if !table.rows.is_empty() {
        out.push_str(&table.columns.join(","));
        out.push('\n');
    }
    for row in &table.rows {
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out.push_str(&format!("\n{} total.\n", table.rows.len()));
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
    fn reports() {
        let table = Table {
            columns: vec!["a", "b"],
            rows: vec![vec!["1".into(), "x\"y".into()]],
        };
        assert_eq!(delimited(&table), "a,b\n1,x\"y\n\n1 total.\n");
        assert_eq!(
            json(&table),
            r#"{"row_count":1,"rows":[{"a":"1","b":"x\"y"}]}"#
        );
        let empty = Table {
            columns: vec!["a"],
            rows: vec![],
        };
        assert_eq!(delimited(&empty), "\n0 total.\n");
        assert_eq!(json(&empty), "{\"row_count\": 0}\n");
    }
}
