//! Commands on strings: eval, expand, cond, regex, replace, escape (as mod_commands
//! writes them: an unusable argument answers a bare `-ERR`).

use regex_automata::meta::Regex;
use regex_automata::util::captures::Captures;
use switchboard_core::Switch;

use crate::args::{separate, uuid_prefix};
use crate::{execute_boxed, Reply, ReplyFuture};

/// `[uuid:<uuid> ]<expression>`: the text with `${…}` expanded (on the channel's
/// variables when a uuid is given, else on the globals).
pub(crate) fn eval(switch: &Switch, args: &str) -> Reply {
    let (uuid, text) = uuid_prefix(args);
    Reply::ok(expand_on(switch, uuid, text))
}

/// `${…}` of `text` on channel `uuid` (the globals when there is none or it is gone,
/// as FreeSWITCH expands on an event without the channel's data).
fn expand_on(switch: &Switch, uuid: Option<&str>, text: &str) -> String {
    match uuid.and_then(|id| switch.channel(id).ok()) {
        Some(channel) => switch.expand(&channel, text),
        None => switchboard_core::dialplan::expand(text, &|name| switch.global(name)),
    }
}

/// `[uuid:<uuid> ]<cmd> <args>`: runs `cmd` with its arguments expanded.
pub(crate) fn expand(switch: Switch, args: String) -> ReplyFuture {
    Box::pin(async move {
        let (uuid, line) = uuid_prefix(&args);
        if line.is_empty() {
            return Reply::err("-ERR No input\n");
        }
        let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
        if crate::registry::find(command).is_none() {
            return Reply::err("-ERR Cannot execute command\n");
        }
        let expanded = expand_on(&switch, uuid, rest);
        execute_boxed(switch.clone(), format!("{command} {expanded}")).await
    })
}

/// FreeSWITCH answers an unusable `cond`, `regex` or `replace` with this alone.
fn bare_err() -> Reply {
    Reply::err("-ERR")
}

pub(crate) fn replace(_: &Switch, args: &str) -> Reply {
    let (delim, text) = custom_delim(args);
    let parts = separate(text, delim, 3);
    let [data, from, to] = &parts[..] else {
        return bare_err();
    };
    if from.is_empty() {
        return Reply::ok(data.clone());
    }
    Reply::ok(data.replace(from.as_str(), to))
}

/// `m:<c>` at the start picks `|`, `~` or `/` as the separator of regex and replace.
fn custom_delim(args: &str) -> (char, &str) {
    match args.strip_prefix("m:") {
        Some(rest) => match rest.chars().next() {
            Some(c @ ('|' | '~' | '/')) => (c, &rest[1..]),
            _ => ('|', args),
        },
        None => ('|', args),
    }
}

/// `<data>|<pattern>[|<subst>[|<flags>]]`: `true`/`false` without a substitution;
/// with one, the substitution of the match (`$1` or `%1`), else `data` (flag `n`: empty,
/// `b`: `false`).
pub(crate) fn regex(_: &Switch, args: &str) -> Reply {
    let (delim, text) = custom_delim(args);
    let parts = separate(text, delim, 4);
    if parts.len() < 2 {
        return bare_err();
    }
    let Ok(re) = pcre_like(&parts[1]) else {
        return bare_err();
    };
    let data = &parts[0];
    let mut caps = re.create_captures();
    re.captures(data.as_str(), &mut caps);
    let Some(subst) = parts.get(2) else {
        return Reply::ok(if caps.is_match() { "true" } else { "false" });
    };
    if caps.is_match() {
        return Reply::ok(substitute(data, &caps, &subst.replace('%', "$")));
    }
    let flags = parts.get(3).map_or("", String::as_str);
    Reply::ok(if flags.contains('n') {
        String::new()
    } else if flags.contains('b') {
        "false".to_owned()
    } else {
        data.clone()
    })
}

/// A regex as PCRE reads one by default: byte-wise, `\d` and `\w` ASCII only.
fn pcre_like(pattern: &str) -> Result<Regex, Box<regex_automata::meta::BuildError>> {
    Regex::builder()
        .syntax(
            regex_automata::util::syntax::Config::new()
                .unicode(false)
                .utf8(false),
        )
        .build(pattern)
        .map_err(Box::new)
}

/// `template` with `$N` / `${N}` replaced by capture N (empty when it did not take
/// part), as `switch_perform_substitution`.
fn substitute(data: &str, caps: &Captures, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (braced, digits_from) = match after.strip_prefix('{') {
            Some(inner) => (true, inner),
            None => (false, after),
        };
        let digits: String = digits_from
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let closed = !braced || digits_from[digits.len()..].starts_with('}');
        if digits.is_empty() || !closed {
            out.push('$');
            rest = after;
            continue;
        }
        if let Some(span) = digits.parse().ok().and_then(|n: usize| caps.get_group(n)) {
            out.push_str(&String::from_utf8_lossy(&data.as_bytes()[span.range()]));
        }
        rest = &digits_from[digits.len() + usize::from(braced)..];
    }
    out.push_str(rest);
    out
}

pub(crate) fn escape(_: &Switch, args: &str) -> Reply {
    let mut out = String::with_capacity(args.len() * 2);
    for c in args.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' ' => out.push_str("\\s"),
            '$' => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    Reply::ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// `<a> <op> <b> ? <true> : <false>`.
pub(crate) fn cond(_: &Switch, args: &str) -> Reply {
    cond_value(args).map_or_else(bare_err, Reply::ok)
}

fn cond_value(text: &str) -> Option<String> {
    let (a, a_quoted, rest) = operand(text)?;
    let rest = rest.trim_start();
    let (op, rest) = if let Some(r) = rest.strip_prefix("==") {
        (Op::Eq, r)
    } else if let Some(r) = rest.strip_prefix("!=") {
        (Op::Ne, r)
    } else if let Some(r) = rest.strip_prefix(">=") {
        (Op::Ge, r)
    } else if let Some(r) = rest.strip_prefix("<=") {
        (Op::Le, r)
    } else if let Some(r) = rest.strip_prefix('>') {
        (Op::Gt, r)
    } else if let Some(r) = rest.strip_prefix('<') {
        (Op::Lt, r)
    } else {
        return None;
    };
    // FreeSWITCH steps over one character after the operator (the space) unseen.
    let mut chars = rest.chars();
    chars.next();
    let (b, b_quoted, rest) = operand(chars.as_str().trim_start())?;
    let branches = rest.trim_start().strip_prefix('?')?;
    let parts = separate(&format!(":{branches}"), ':', 3);
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let a_num = !a_quoted && is_number(a);
    let b_num = !b_quoted && is_number(b);
    let value = |s: &str, num: bool| if num { atof(s) } else { s.len() as f64 };
    let (x, y) = (value(a, a_num), value(b, b_num));
    let strings = !a_num && !b_num;
    let truth = match op {
        Op::Eq if strings => a == b,
        Op::Ne if strings => a != b,
        Op::Eq => x == y,
        Op::Ne => x != y,
        Op::Gt => x > y,
        Op::Ge => x >= y,
        Op::Lt => x < y,
        Op::Le => x <= y,
    };
    Some(if truth {
        parts[1].clone()
    } else {
        parts.get(2).cloned().unwrap_or_default()
    })
}

/// One operand: `'quoted'` (backslash-escaped quotes inside, kept as written) or a
/// word; either must be followed by a space. Returns (operand, quoted, rest).
fn operand(text: &str) -> Option<(&str, bool, &str)> {
    if let Some(inner) = text.strip_prefix('\'') {
        let mut chars = inner.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' if inner[i + 1..].starts_with(['\\', '\'']) => {
                    chars.next();
                }
                '\'' => {
                    let rest = &inner[i + 1..];
                    return rest.starts_with(char::is_whitespace).then_some((
                        &inner[..i],
                        true,
                        rest,
                    ));
                }
                _ => {}
            }
        }
        return None;
    }
    let (word, rest) = text.split_once(' ')?;
    Some((word, false, rest))
}

/// `switch_is_number`: an optional sign, then only digits and dots.
fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    digits.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// C's `atof` on what `is_number` accepts: the longest number at the start.
fn atof(text: &str) -> f64 {
    let mut end = 0;
    let mut dot = false;
    for (i, c) in text.char_indices() {
        let ok = c.is_ascii_digit() || (c == '.' && !dot) || (i == 0 && "+-".contains(c));
        if !ok {
            break;
        }
        dot |= c == '.';
        end = i + c.len_utf8();
    }
    text[..end].parse().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions() {
        let c = |s: &str| cond_value(s);
        assert_eq!(c("1 == 1 ? yes : no").as_deref(), Some("yes"));
        assert_eq!(c("1 == 1.0 ? yes : no").as_deref(), Some("yes"));
        assert_eq!(c("abc == abc ? yes : no").as_deref(), Some("yes"));
        assert_eq!(c("abc != abd ? yes : no").as_deref(), Some("yes"));
        // A string against a number compares its length.
        assert_eq!(c("abc == 3 ? yes : no").as_deref(), Some("yes"));
        // Quoted, it is a string even when it reads as a number: its length is 1.
        assert_eq!(c("'3' == 3 ? yes : no").as_deref(), Some("no"));
        assert_eq!(c("'abc' == 3 ? yes : no").as_deref(), Some("yes"));
        assert_eq!(c("10 > 9 ? yes : no").as_deref(), Some("yes"));
        assert_eq!(c("10 <= 9 ? yes : no").as_deref(), Some("no"));
        assert_eq!(c("'a b' == 'a b' ? yes : no").as_deref(), Some("yes"));
        assert_eq!(c("1 == 2 ? yes").as_deref(), Some(""));
        assert_eq!(c("1 = 2 ? yes : no"), None);
        assert_eq!(c("1 == 2"), None);
        assert_eq!(c("nonsense"), None);
    }

    #[test]
    fn substitutions() {
        let re = pcre_like(r"^(\d{3})(\d+)$").unwrap();
        let mut caps = re.create_captures();
        re.captures("5551234", &mut caps);
        assert_eq!(substitute("5551234", &caps, "$1-$2"), "555-1234");
        assert_eq!(substitute("5551234", &caps, "${1}x$9$"), "555x$");
    }
}
