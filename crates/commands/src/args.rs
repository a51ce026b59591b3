//! FreeSWITCH's argument splitting (`switch_separate_string`): what every command that
//! takes several arguments sees, quotes and escapes included.

/// Splits `text` on `delim` into at most `max` parts, the last keeping the rest.
///
/// As FreeSWITCH does: a space delimiter collapses runs of spaces; a single-quoted
/// stretch is one part (the quotes dropped); `\` escapes the next character (`\n`,
/// `\r`, `\t`, `\s` are newline, return, tab, space); each part loses its leading and
/// trailing spaces. `^^<c>` at the start makes `c` the delimiter.
pub(crate) fn separate(text: &str, delim: char, max: usize) -> Vec<String> {
    let (text, delim) = match text.strip_prefix("^^") {
        Some(rest) if rest.chars().count() >= 2 => {
            let mut chars = rest.chars();
            let custom = chars.next().unwrap_or(delim);
            (chars.as_str(), custom)
        }
        _ => (text, delim),
    };
    let raw = if delim == ' ' {
        split_blank(text, max)
    } else {
        split_char(text, delim, max)
    };
    let keep = if delim == ' ' { None } else { Some(delim) };
    raw.into_iter().map(|part| cleanup(part, keep)).collect()
}

/// Cuts on runs of spaces outside quotes, up to `max` parts.
fn split_blank(text: &str, max: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text.trim_start_matches(' ');
    while !rest.is_empty() && parts.len() < max {
        if parts.len() + 1 == max {
            parts.push(rest);
            break;
        }
        let end = find_unquoted(rest, ' ', false).unwrap_or(rest.len());
        parts.push(&rest[..end]);
        rest = rest[end..].trim_start_matches(' ');
    }
    parts
}

/// Cuts on every `delim` outside quotes, up to `max` parts.
fn split_char(text: &str, delim: char, max: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() && parts.len() < max {
        if parts.len() + 1 == max {
            parts.push(rest);
            break;
        }
        match find_unquoted(rest, delim, true) {
            Some(end) => {
                parts.push(&rest[..end]);
                rest = &rest[end + delim.len_utf8()..];
            }
            None => {
                parts.push(rest);
                break;
            }
        }
    }
    parts
}

/// Where `delim` first occurs outside single quotes and escapes. With `paired`, a
/// quote opens a quoted stretch only when another quote follows (FreeSWITCH's rule for
/// non-blank delimiters).
fn find_unquoted(text: &str, delim: char, paired: bool) -> Option<usize> {
    let mut quoted = false;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            chars.next();
        } else if c == '\'' && (!paired || quoted || text[i + 1..].contains('\'')) {
            quoted = !quoted;
        } else if c == delim && !quoted {
            return Some(i);
        }
    }
    None
}

/// Drops quotes and escapes and the surrounding spaces of one part.
fn cleanup(part: &str, delim: Option<char>) -> String {
    let part = part.trim_start_matches(' ');
    let mut out = String::with_capacity(part.len());
    // Length of `out` up to its last character that is kept at the end.
    let mut end = 0;
    let mut quoted = false;
    let mut chars = part.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            if let Some(&(_, next)) = chars.peek() {
                let unescaped = match next {
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    's' => Some(' '),
                    '\'' | '"' | '\\' => Some(next),
                    _ if Some(next) == delim => Some(next),
                    _ => None,
                };
                if let Some(u) = unescaped {
                    chars.next();
                    out.push(u);
                    end = out.len();
                    continue;
                }
            }
        }
        if c == '\'' && (quoted || part[i + 1..].contains('\'')) {
            quoted = !quoted;
            if quoted {
                end = out.len();
            }
            continue;
        }
        out.push(c);
        if c != ' ' || quoted {
            end = out.len();
        }
    }
    out.truncate(end);
    out
}

/// The `uuid:<uuid> ` prefix of eval, expand and bgapi: (uuid, the rest).
pub(crate) fn uuid_prefix(text: &str) -> (Option<&str>, &str) {
    match text.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("uuid:") => match text[5..].split_once(' ') {
            Some((uuid, rest)) => (Some(uuid), rest),
            None => (None, ""),
        },
        _ => (None, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_separation() {
        assert_eq!(separate("a  b c", ' ', 5), ["a", "b", "c"]);
        assert_eq!(separate("a b c d", ' ', 2), ["a", "b c d"]);
        assert_eq!(separate("a 'b c' d", ' ', 5), ["a", "b c", "d"]);
        assert_eq!(separate(r"a\sb c", ' ', 5), ["a b", "c"]);
        assert_eq!(separate("", ' ', 5), Vec::<String>::new());
    }

    #[test]
    fn char_separation() {
        assert_eq!(separate("insert/r/k/v", '/', 4), ["insert", "r", "k", "v"]);
        assert_eq!(separate("a/b/c/d/e", '/', 4), ["a", "b", "c", "d/e"]);
        assert_eq!(separate(" a | b ", '|', 4), ["a", "b"]);
        assert_eq!(separate("it's|x", '|', 4), ["it's", "x"]);
        assert_eq!(separate(r"a\|b|c", '|', 4), ["a|b", "c"]);
        assert_eq!(separate("^^;a;b", ' ', 4), ["a", "b"]);
    }

    #[test]
    fn uuid_prefixes() {
        assert_eq!(uuid_prefix("uuid:abc ${x}"), (Some("abc"), "${x}"));
        assert_eq!(uuid_prefix("UUID:abc"), (None, ""));
        assert_eq!(uuid_prefix("plain"), (None, "plain"));
    }
}
