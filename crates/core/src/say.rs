//! The sound files that say numbers, digits and characters in English, named as in
//! Asterisk's core sounds (`digits/…`, `letters/…`): what `number:`, `digits:` and
//! `characters:` media URIs play.

/// `digits/…` files saying `n` ("one thousand two hundred thirty four").
pub fn number(n: i64) -> Vec<String> {
    let mut out = Vec::new();
    if n < 0 {
        out.push("digits/minus".to_owned());
    }
    say_positive(n.unsigned_abs(), &mut out);
    out
}

fn say_positive(n: u64, out: &mut Vec<String>) {
    const SCALES: [(u64, &str); 3] = [
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1_000, "thousand"),
    ];
    if n == 0 {
        out.push("digits/0".to_owned());
        return;
    }
    let mut rest = n;
    for (scale, word) in SCALES {
        if rest >= scale {
            say_positive(rest / scale, out);
            out.push(format!("digits/{word}"));
            rest %= scale;
        }
    }
    if rest >= 100 {
        out.push(format!("digits/{}", rest / 100));
        out.push("digits/hundred".to_owned());
        rest %= 100;
    }
    match rest {
        0 => {}
        1..=19 => out.push(format!("digits/{rest}")),
        _ => {
            out.push(format!("digits/{}", rest / 10 * 10));
            if !rest.is_multiple_of(10) {
                out.push(format!("digits/{}", rest % 10));
            }
        }
    }
}

/// A date, as Asterisk's `SayUnixTime` says it in English: "Monday, January fifth,
/// twenty twenty-six" (`digits/day-N`, `digits/mon-N`, `digits/h-N`, the year).
pub fn date(time: std::time::SystemTime) -> Vec<String> {
    let (year, month, day, ..) = crate::time::civil(time);
    let days = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    // 1970-01-01 was a Thursday; Asterisk's day-0 is Sunday.
    let mut out = vec![
        format!("digits/day-{}", (days + 4) % 7),
        format!("digits/mon-{}", month.saturating_sub(1)),
    ];
    out.extend(ordinal(day));
    if (2000..2010).contains(&year) {
        out.extend(number(year));
    } else {
        out.extend(number(year / 100));
        out.extend(number(year % 100));
    }
    out
}

/// A time of day: "three oh five p m" (`digits/oclock`, `digits/oh`, `a-m`/`p-m`).
pub fn time_of_day(time: std::time::SystemTime) -> Vec<String> {
    let (_, _, _, hour, minute, ..) = crate::time::civil(time);
    let twelve = match hour % 12 {
        0 => 12,
        h => h,
    };
    let mut out = number(i64::from(twelve));
    match minute {
        0 => out.push("digits/oclock".to_owned()),
        1..=9 => {
            out.push("digits/oh".to_owned());
            out.extend(number(i64::from(minute)));
        }
        _ => out.extend(number(i64::from(minute))),
    }
    out.push(
        if hour < 12 {
            "digits/a-m"
        } else {
            "digits/p-m"
        }
        .to_owned(),
    );
    out
}

/// "fifth", "twenty first": `digits/h-N` for what Asterisk has, tens before the rest.
fn ordinal(n: u32) -> Vec<String> {
    match n {
        1..=20 | 30 => vec![format!("digits/h-{n}")],
        _ if n.is_multiple_of(10) => vec![format!("digits/h-{n}")],
        _ => vec![
            format!("digits/{}", n / 10 * 10),
            format!("digits/h-{}", n % 10),
        ],
    }
}

/// One `digits/N` file per digit; other characters are skipped.
pub fn digits(text: &str) -> Vec<String> {
    text.chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| format!("digits/{d}"))
        .collect()
}

/// Letters, digits and the punctuation Asterisk has recordings for.
pub fn characters(text: &str) -> Vec<String> {
    text.chars()
        .filter_map(|c| {
            let name = match c.to_ascii_lowercase() {
                'a'..='z' => return Some(format!("letters/{}", c.to_ascii_lowercase())),
                '0'..='9' => return Some(format!("digits/{c}")),
                '*' => "asterisk",
                '#' => "pound",
                '.' => "dot",
                '@' => "at",
                '-' => "dash",
                '$' => "dollar",
                '+' => "plus",
                '=' => "equals",
                '/' => "slash",
                ' ' => "space",
                '!' => "exclaimation_point",
                _ => return None,
            };
            Some(format!("letters/{name}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_asterisk_says_them() {
        assert_eq!(number(0), ["digits/0"]);
        assert_eq!(number(17), ["digits/17"]);
        assert_eq!(number(40), ["digits/40"]);
        assert_eq!(number(-42), ["digits/minus", "digits/40", "digits/2"]);
        assert_eq!(
            number(1234),
            [
                "digits/1",
                "digits/thousand",
                "digits/2",
                "digits/hundred",
                "digits/30",
                "digits/4"
            ]
        );
        assert_eq!(
            number(2_000_005),
            ["digits/2", "digits/million", "digits/5"]
        );
    }

    #[test]
    fn digits_and_characters() {
        assert_eq!(digits("1a2"), ["digits/1", "digits/2"]);
        assert_eq!(
            characters("Ab1#"),
            ["letters/a", "letters/b", "digits/1", "letters/pound"]
        );
        assert!(characters("\u{e9}").is_empty());
    }

    #[test]
    fn dates_and_times() {
        // 2026-01-05 15:05 UTC, a Monday.
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_625_500);
        assert_eq!(
            date(at),
            [
                "digits/day-1",
                "digits/mon-0",
                "digits/h-5",
                "digits/20",
                "digits/20",
                "digits/6"
            ]
        );
        assert_eq!(
            time_of_day(at),
            ["digits/3", "digits/oh", "digits/5", "digits/p-m"]
        );
        assert_eq!(ordinal(23), ["digits/20", "digits/h-3"]);
    }
}
