//! The dialplan: contexts of extensions (exact numbers or Asterisk patterns), each a list
//! of applications run in order, with `${VAR}` expansion of their arguments.

use std::collections::BTreeMap;

/// One application step, e.g. `Dial(SIP/${EXTEN},30)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub app: String,
    /// Unexpanded argument text.
    pub args: String,
}

impl Step {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        match text.find('(') {
            None => valid_name(text).map(|app| Step {
                app,
                args: String::new(),
            }),
            Some(open) => {
                let Some(inner) = text.get(open + 1..).and_then(|t| t.strip_suffix(')')) else {
                    return Err(format!("{text:?}: missing closing parenthesis"));
                };
                Ok(Step {
                    app: valid_name(text.get(..open).unwrap_or_default())?,
                    args: inner.to_owned(),
                })
            }
        }
    }
}

fn valid_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(name.to_owned())
    } else {
        Err(format!("{name:?} is not an application name"))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Pattern (or number) → steps; priority N is `steps[N-1]`.
    extensions: Vec<(String, Vec<Step>)>,
}

#[derive(Debug, Clone, Default)]
pub struct Dialplan {
    contexts: BTreeMap<String, Context>,
}

impl Dialplan {
    /// Builds from the config's `[dialplan.<context>]` tables; errors name the place.
    pub fn from_config(
        config: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
    ) -> Result<Self, String> {
        let mut contexts = BTreeMap::new();
        for (name, extensions) in config {
            let mut context = Context::default();
            for (pattern, steps) in extensions {
                if let Some(bad) = pattern_error(pattern) {
                    return Err(format!("dialplan.{name}.{pattern:?}: {bad}"));
                }
                let steps = steps
                    .iter()
                    .map(|s| Step::parse(s))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("dialplan.{name}.{pattern:?}: {e}"))?;
                context.extensions.push((pattern.clone(), steps));
            }
            contexts.insert(name.clone(), context);
        }
        Ok(Self { contexts })
    }

    pub fn has_context(&self, context: &str) -> bool {
        self.contexts.contains_key(context)
    }

    /// The steps for `exten` in `context`: an exact match first, then the most specific
    /// pattern (the most literal characters), as Asterisk orders them.
    pub fn lookup(&self, context: &str, exten: &str) -> Option<&[Step]> {
        let context = self.contexts.get(context)?;
        if let Some((_, steps)) = context.extensions.iter().find(|(p, _)| p == exten) {
            return Some(steps);
        }
        context
            .extensions
            .iter()
            .filter(|(p, _)| p.starts_with('_') && pattern_matches(p, exten))
            .max_by_key(|(p, _)| specificity(p))
            .map(|(_, steps)| steps.as_slice())
    }

    /// Priority `priority` (from 1) of `exten` in `context`.
    pub fn step(&self, context: &str, exten: &str, priority: usize) -> Option<&Step> {
        self.lookup(context, exten)?.get(priority.checked_sub(1)?)
    }
}

impl crate::Switch {
    /// The application at `context`/`exten`/`priority` of the running dialplan (what a
    /// channel there is executing); `None` where the dialplan has nothing.
    pub fn dialplan_step(&self, context: &str, exten: &str, priority: usize) -> Option<Step> {
        self.dialplan().step(context, exten, priority).cloned()
    }
}

/// One pattern element.
enum Class<'a> {
    Set(&'a str),
    Literal(char),
    OneOrMore,
    ZeroOrMore,
}

fn classes(pattern: &str) -> Option<Vec<Class<'_>>> {
    let body = pattern.strip_prefix('_')?;
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(c) = rest.chars().next() {
        let width = c.len_utf8();
        let class = match c.to_ascii_uppercase() {
            'X' => Class::Set("0-9"),
            'Z' => Class::Set("1-9"),
            'N' => Class::Set("2-9"),
            '.' => Class::OneOrMore,
            '!' => Class::ZeroOrMore,
            '[' => {
                let end = rest.find(']')?;
                let set = rest.get(1..end)?;
                rest = rest.get(end + 1..)?;
                out.push(Class::Set(set));
                continue;
            }
            _ => Class::Literal(c),
        };
        out.push(class);
        rest = rest.get(width..)?;
    }
    Some(out)
}

fn pattern_error(pattern: &str) -> Option<&'static str> {
    if pattern.is_empty() {
        return Some("empty extension");
    }
    if pattern.starts_with('_') && classes(pattern).is_none() {
        return Some("unterminated [ in pattern");
    }
    None
}

fn set_contains(set: &str, c: char) -> bool {
    let chars: Vec<char> = set.chars().collect();
    let mut i = 0;
    while let Some(&first) = chars.get(i) {
        if chars.get(i + 1) == Some(&'-') {
            if let Some(&last) = chars.get(i + 2) {
                if (first..=last).contains(&c) {
                    return true;
                }
                i += 3;
                continue;
            }
        }
        if first == c {
            return true;
        }
        i += 1;
    }
    false
}

pub fn pattern_matches(pattern: &str, exten: &str) -> bool {
    let Some(classes) = classes(pattern) else {
        return pattern == exten;
    };
    let chars: Vec<char> = exten.chars().collect();
    matches_from(&classes, &chars)
}

fn matches_from(classes: &[Class<'_>], chars: &[char]) -> bool {
    let Some((class, rest)) = classes.split_first() else {
        return chars.is_empty();
    };
    match class {
        Class::OneOrMore => !chars.is_empty(),
        Class::ZeroOrMore => true,
        Class::Literal(l) => {
            chars.first() == Some(l) && matches_from(rest, chars.get(1..).unwrap_or_default())
        }
        Class::Set(set) => {
            chars.first().is_some_and(|c| set_contains(set, *c))
                && matches_from(rest, chars.get(1..).unwrap_or_default())
        }
    }
}

fn specificity(pattern: &str) -> (usize, usize) {
    let literal = pattern
        .chars()
        .skip(1)
        .filter(|c| c.is_ascii_digit() || *c == '*' || *c == '#')
        .count();
    let open_ended = usize::from(!pattern.contains(['.', '!']));
    (open_ended, literal)
}

/// Expands `${NAME}` and `${NAME:offset[:length]}` (negative offsets count from the end),
/// innermost first, with `lookup` giving each variable's value.
pub fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = text.to_owned();
    // Each pass replaces the innermost `${...}`; bounded so a value that contains `${`
    // itself cannot loop forever.
    for _ in 0..64 {
        let Some(start) = out.rfind("${") else { break };
        let Some(len) = out.get(start..).and_then(|s| s.find('}')) else {
            break;
        };
        let inner = out
            .get(start + 2..start + len)
            .unwrap_or_default()
            .to_owned();
        let value = substitute(&inner, lookup);
        out.replace_range(start..=start + len, &value);
    }
    out
}

fn substitute(inner: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut parts = inner.splitn(3, ':');
    let name = parts.next().unwrap_or_default();
    let value: Vec<char> = lookup(name).unwrap_or_default().chars().collect();
    let Some(offset) = parts.next().and_then(|o| o.trim().parse::<i64>().ok()) else {
        return value.into_iter().collect();
    };
    let count = i64::try_from(value.len()).unwrap_or(0);
    let start = if offset < 0 {
        (count + offset).max(0)
    } else {
        offset.min(count)
    };
    let length = parts
        .next()
        .and_then(|l| l.trim().parse::<i64>().ok())
        .map_or(count - start, |l| {
            if l < 0 {
                (count - start + l).max(0)
            } else {
                l
            }
        });
    value
        .into_iter()
        .skip(usize::try_from(start).unwrap_or(0))
        .take(usize::try_from(length).unwrap_or(0))
        .collect()
}

/// Splits application arguments on commas outside quotes and brackets.
pub fn split_args(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut depth = 0u32;
    let mut quoted = false;
    for c in args.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' | '[' if !quoted => depth += 1,
            ')' | ']' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                out.push(std::mem::take(&mut current).trim().to_owned());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current.trim().to_owned());
    out
}

/// Truth of an expanded condition: `$[a = b]`-style comparisons, or a plain value that
/// is true when non-empty and not `0`.
pub fn is_true(condition: &str) -> bool {
    let condition = condition.trim();
    let expr = condition
        .strip_prefix("$[")
        .and_then(|c| c.strip_suffix(']'))
        .unwrap_or(condition)
        .trim();
    for op in ["!=", ">=", "<=", "=", ">", "<"] {
        if let Some((left, right)) = expr.split_once(op) {
            let (l, r) = (
                left.trim().trim_matches('"'),
                right.trim().trim_matches('"'),
            );
            let numeric = l.parse::<f64>().ok().zip(r.parse::<f64>().ok());
            let ordering = match numeric {
                Some((a, b)) => a.partial_cmp(&b),
                None => Some(l.cmp(r)),
            };
            let Some(ordering) = ordering else {
                return false;
            };
            return match op {
                "!=" => ordering.is_ne(),
                ">=" => ordering.is_ge(),
                "<=" => ordering.is_le(),
                "=" => ordering.is_eq(),
                ">" => ordering.is_gt(),
                _ => ordering.is_lt(),
            };
        }
    }
    !expr.is_empty() && expr != "0"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_switch_looks_steps_up_in_its_dialplan() {
        let plan = [(
            "default".to_owned(),
            [(
                "_1XX".to_owned(),
                vec!["Answer".to_owned(), "Playback(hello)".to_owned()],
            )]
            .into_iter()
            .collect(),
        )]
        .into_iter()
        .collect();
        let dir = crate::testing::data_dir("dialplan-step");
        let switch = crate::testing::start_in(dir, plan).await;
        let step = switch.dialplan_step("default", "123", 2).unwrap();
        assert_eq!(
            (step.app.as_str(), step.args.as_str()),
            ("Playback", "hello")
        );
        assert_eq!(switch.dialplan_step("default", "123", 3), None);
        assert_eq!(switch.dialplan_step("default", "123", 0), None);
        assert_eq!(switch.dialplan_step("default", "200", 1), None);
        assert_eq!(switch.dialplan_step("other", "123", 1), None);
    }

    fn plan() -> Dialplan {
        let mut default = BTreeMap::new();
        default.insert(
            "100".to_owned(),
            vec!["Answer()".to_owned(), "Hangup".to_owned()],
        );
        default.insert("_1XXX".to_owned(), vec!["Dial(SIP/${EXTEN},30)".to_owned()]);
        default.insert("_10XX".to_owned(), vec!["NoOp(more specific)".to_owned()]);
        default.insert("_9.".to_owned(), vec!["NoOp(outbound)".to_owned()]);
        let mut config = BTreeMap::new();
        config.insert("default".to_owned(), default);
        Dialplan::from_config(&config).unwrap()
    }

    #[test]
    fn patterns_follow_asterisk() {
        assert!(pattern_matches("_1XXX", "1001"));
        assert!(!pattern_matches("_1XXX", "10011"));
        assert!(!pattern_matches("_1XXX", "100"));
        assert!(pattern_matches("_NXX", "200"));
        assert!(!pattern_matches("_NXX", "100"));
        assert!(pattern_matches("_Z!", "5"));
        assert!(pattern_matches("_9.", "9123"));
        assert!(!pattern_matches("_9.", "9"));
        assert!(pattern_matches("_[1-3]5[ab]", "25a"));
        assert!(!pattern_matches("_[1-3]5", "45"));
        assert!(pattern_matches("_*X#", "*5#"));
    }

    #[test]
    fn lookup_prefers_exact_then_specific() {
        let plan = plan();
        assert_eq!(plan.lookup("default", "100").unwrap()[0].app, "Answer");
        assert_eq!(
            plan.lookup("default", "1001").unwrap()[0].args,
            "more specific"
        );
        assert_eq!(plan.lookup("default", "1101").unwrap()[0].app, "Dial");
        assert!(plan.lookup("default", "555").is_none());
        assert!(plan.lookup("nope", "100").is_none());
    }

    #[test]
    fn config_errors_name_the_place() {
        let mut ctx = BTreeMap::new();
        ctx.insert("_1[23".to_owned(), vec!["Answer()".to_owned()]);
        let mut config = BTreeMap::new();
        config.insert("x".to_owned(), ctx);
        let err = Dialplan::from_config(&config).unwrap_err();
        assert!(err.contains("dialplan.x"), "{err}");
        assert!(Step::parse("Dial(SIP/1").is_err());
        assert!(Step::parse("Bad Name()").is_err());
    }

    #[test]
    fn expands_variables_and_substrings() {
        let lookup = |name: &str| match name {
            "EXTEN" => Some("91234".to_owned()),
            "N" => Some("EXTEN".to_owned()),
            _ => None,
        };
        assert_eq!(expand("SIP/${EXTEN}", &lookup), "SIP/91234");
        assert_eq!(expand("${EXTEN:1}", &lookup), "1234");
        assert_eq!(expand("${EXTEN:-2}", &lookup), "34");
        assert_eq!(expand("${EXTEN:1:2}", &lookup), "12");
        assert_eq!(expand("${${N}}", &lookup), "91234");
        assert_eq!(expand("[${MISSING}]", &lookup), "[]");
        assert_eq!(expand("${unterminated", &lookup), "${unterminated");
    }

    #[test]
    fn splits_and_evaluates() {
        assert_eq!(
            split_args("a,b(c,d),\"e,f\""),
            vec!["a", "b(c,d)", "\"e,f\""]
        );
        assert_eq!(split_args(""), vec![""]);
        assert!(is_true("$[1 = 1]"));
        assert!(is_true("$[ANSWER != BUSY]"));
        assert!(!is_true("$[2 < 1]"));
        assert!(is_true("yes"));
        assert!(!is_true("0"));
        assert!(!is_true(""));
    }
}
