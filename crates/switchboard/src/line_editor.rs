//! A small line editor for the `switchboard cli` prompt, as fs_cli's: history with
//! up/down, tab completion of command names, left/right/home/end, backspace and
//! delete. The editing is a state machine on key presses ([`Editor::key`]); the
//! terminal (raw mode, escape sequences) is a thin shell around it ([`read_line`]).

use std::io::{self, Read, Write};

/// Lines kept in the history.
const MAX_HISTORY: usize = 500;

/// A key, decoded from the terminal's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Backspace,
    Delete,
    Left,
    Right,
    Up,
    Down,
    Home,
    End,
    Tab,
    /// Ctrl-U: the whole line goes.
    KillLine,
    /// Ctrl-C: the line is abandoned.
    Cancel,
    /// Ctrl-D: end of input on an empty line, else delete.
    Eof,
}

/// What the shell does after a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Redraw the line.
    Edit,
    /// The line is done.
    Line(String),
    /// Show these candidates under the line, then redraw it.
    Candidates(Vec<String>),
    /// Input has ended.
    Eof,
}

#[derive(Debug, Default)]
pub struct Editor {
    line: Vec<char>,
    cursor: usize,
    history: Vec<String>,
    /// Where up/down is in the history (`history.len()`: the line being typed).
    browsing: usize,
    /// The line being typed, kept while browsing the history.
    draft: Vec<char>,
    /// What tab completes (the first word of a line).
    words: Vec<String>,
}

impl Editor {
    pub fn new(words: Vec<String>) -> Self {
        Self {
            words,
            ..Self::default()
        }
    }

    pub fn line(&self) -> String {
        self.line.iter().collect()
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Adds a line to the history (not blanks, not a repeat of the last one).
    pub fn remember(&mut self, line: &str) {
        if line.trim().is_empty() || self.history.last().is_some_and(|l| l == line) {
            return;
        }
        self.history.push(line.to_owned());
        if self.history.len() > MAX_HISTORY {
            self.history.remove(0);
        }
    }

    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// Starts a new line.
    fn reset(&mut self) {
        self.line.clear();
        self.cursor = 0;
        self.browsing = self.history.len();
        self.draft.clear();
    }

    fn set_line(&mut self, line: Vec<char>) {
        self.cursor = line.len();
        self.line = line;
    }

    pub fn key(&mut self, key: Key) -> Outcome {
        match key {
            Key::Char(c) => {
                self.line.insert(self.cursor, c);
                self.cursor += 1;
            }
            Key::Enter => {
                let line = self.line();
                self.remember(&line);
                self.reset();
                return Outcome::Line(line);
            }
            Key::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.line.remove(self.cursor);
            }
            Key::Delete if self.cursor < self.line.len() => {
                self.line.remove(self.cursor);
            }
            Key::Left => self.cursor = self.cursor.saturating_sub(1),
            Key::Right => self.cursor = (self.cursor + 1).min(self.line.len()),
            Key::Home => self.cursor = 0,
            Key::End => self.cursor = self.line.len(),
            Key::Up if self.browsing > 0 => {
                if self.browsing == self.history.len() {
                    self.draft = self.line.clone();
                }
                self.browsing -= 1;
                self.set_line(self.history[self.browsing].chars().collect());
            }
            Key::Down if self.browsing < self.history.len() => {
                self.browsing += 1;
                let line = match self.history.get(self.browsing) {
                    Some(line) => line.chars().collect(),
                    None => self.draft.clone(),
                };
                self.set_line(line);
            }
            Key::Tab => return self.complete(),
            Key::KillLine => {
                self.line.clear();
                self.cursor = 0;
            }
            Key::Cancel => {
                self.reset();
                return Outcome::Line(String::new());
            }
            Key::Eof if self.line.is_empty() => return Outcome::Eof,
            Key::Eof => return self.key(Key::Delete),
            Key::Backspace | Key::Delete | Key::Up | Key::Down => {}
        }
        Outcome::Edit
    }

    /// Completes the command name under the cursor: one match is written out (with a
    /// space); several are extended to their common prefix, else listed.
    fn complete(&mut self) -> Outcome {
        let typed: String = self.line[..self.cursor].iter().collect();
        if typed.contains(' ') {
            return Outcome::Edit;
        }
        let lower = typed.to_ascii_lowercase();
        let matches: Vec<&String> = self
            .words
            .iter()
            .filter(|w| w.to_ascii_lowercase().starts_with(&lower))
            .collect();
        let insert = |editor: &mut Self, text: &str| {
            for c in text.chars() {
                editor.line.insert(editor.cursor, c);
                editor.cursor += 1;
            }
        };
        match matches.as_slice() {
            [] => Outcome::Edit,
            [only] => {
                let rest = only[typed.len()..].to_owned();
                insert(self, &rest);
                if self.line.get(self.cursor) != Some(&' ') {
                    insert(self, " ");
                }
                Outcome::Edit
            }
            several => {
                let common = common_prefix(several);
                if common.len() > typed.len() {
                    insert(self, &common[typed.len()..]);
                    Outcome::Edit
                } else {
                    Outcome::Candidates(several.iter().map(|w| (*w).clone()).collect())
                }
            }
        }
    }
}

fn common_prefix(words: &[&String]) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    let mut end = first.len();
    for word in &words[1..] {
        end = first
            .bytes()
            .zip(word.bytes())
            .take(end)
            .take_while(|(a, b)| a == b)
            .count();
    }
    first[..end].to_owned()
}

/// Decodes one key from the terminal's bytes (`None`: a byte sequence we ignore).
fn read_key(input: &mut impl Read) -> io::Result<Option<Key>> {
    let byte = read_byte(input)?;
    Ok(match byte {
        b'\r' | b'\n' => Some(Key::Enter),
        0x7f | 0x08 => Some(Key::Backspace),
        b'\t' => Some(Key::Tab),
        0x01 => Some(Key::Home),
        0x05 => Some(Key::End),
        0x15 => Some(Key::KillLine),
        0x03 => Some(Key::Cancel),
        0x04 => Some(Key::Eof),
        0x1b => escape(input)?,
        b if b < 0x20 => None,
        b => utf8_char(input, b)?.map(Key::Char),
    })
}

fn read_byte(input: &mut impl Read) -> io::Result<u8> {
    let mut byte = [0u8];
    match input.read(&mut byte)? {
        0 => Err(io::ErrorKind::UnexpectedEof.into()),
        _ => Ok(byte[0]),
    }
}

/// The rest of an escape sequence: arrows, Home/End, Delete.
fn escape(input: &mut impl Read) -> io::Result<Option<Key>> {
    let kind = read_byte(input)?;
    if kind != b'[' && kind != b'O' {
        return Ok(None);
    }
    let mut code = read_byte(input)?;
    let mut number = 0u32;
    while code.is_ascii_digit() {
        number = number * 10 + u32::from(code - b'0');
        code = read_byte(input)?;
    }
    Ok(match (code, number) {
        (b'A', _) => Some(Key::Up),
        (b'B', _) => Some(Key::Down),
        (b'C', _) => Some(Key::Right),
        (b'D', _) => Some(Key::Left),
        (b'H', _) | (b'~', 1 | 7) => Some(Key::Home),
        (b'F', _) | (b'~', 4 | 8) => Some(Key::End),
        (b'~', 3) => Some(Key::Delete),
        _ => None,
    })
}

/// A character whose first UTF-8 byte is `first`.
fn utf8_char(input: &mut impl Read, first: u8) -> io::Result<Option<char>> {
    let len = match first {
        b if b < 0x80 => 1,
        b if b >> 5 == 0b110 => 2,
        b if b >> 4 == 0b1110 => 3,
        b if b >> 3 == 0b11110 => 4,
        _ => return Ok(None),
    };
    let mut bytes = vec![first];
    for _ in 1..len {
        bytes.push(read_byte(input)?);
    }
    Ok(std::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| s.chars().next()))
}

/// The terminal in raw mode (no echo, no line buffering, no signals) until dropped.
struct RawMode {
    saved: libc::termios,
}

impl RawMode {
    fn enable() -> io::Result<Self> {
        // SAFETY: termios is plain data; tcgetattr fills it for stdin, which is a
        // terminal (checked by the caller), and tcsetattr only reads it.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut saved) != 0 {
                return Err(io::Error::last_os_error());
            }
            let mut raw = saved;
            raw.c_lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG | libc::IEXTEN);
            raw.c_iflag &= !(libc::IXON | libc::ICRNL);
            raw.c_cc[libc::VMIN] = 1;
            raw.c_cc[libc::VTIME] = 0;
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSAFLUSH, &raw) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Self { saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `enable`.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSAFLUSH, &self.saved);
        }
    }
}

/// Reads one line from the terminal with `editor` (`None`: end of input).
pub fn read_line(editor: &mut Editor, prompt: &str) -> io::Result<Option<String>> {
    let raw = RawMode::enable()?;
    let mut stdin = io::stdin().lock();
    let mut out = io::stdout().lock();
    redraw(&mut out, editor, prompt)?;
    loop {
        let key = match read_key(&mut stdin) {
            Ok(Some(key)) => key,
            Ok(None) => continue,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Key::Eof,
            Err(e) => return Err(e),
        };
        match editor.key(key) {
            Outcome::Edit => redraw(&mut out, editor, prompt)?,
            Outcome::Line(line) => {
                write!(out, "\r\n")?;
                out.flush()?;
                drop(raw);
                return Ok(Some(line));
            }
            Outcome::Candidates(words) => {
                write!(out, "\r\n{}\r\n", words.join("  "))?;
                redraw(&mut out, editor, prompt)?;
            }
            Outcome::Eof => {
                write!(out, "\r\n")?;
                out.flush()?;
                return Ok(None);
            }
        }
    }
}

/// The prompt and the line, the rest of the row cleared, the cursor in place.
fn redraw(out: &mut impl Write, editor: &Editor, prompt: &str) -> io::Result<()> {
    let line = editor.line();
    write!(out, "\r{prompt}{line}\x1b[K")?;
    let back = line.chars().count() - editor.cursor();
    if back > 0 {
        write!(out, "\x1b[{back}D")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(editor: &mut Editor, text: &str) {
        for c in text.chars() {
            editor.key(Key::Char(c));
        }
    }

    #[test]
    fn history_up_and_down() {
        let mut editor = Editor::new(Vec::new());
        typed(&mut editor, "status");
        assert_eq!(editor.key(Key::Enter), Outcome::Line("status".into()));
        typed(&mut editor, "version");
        editor.key(Key::Enter);
        typed(&mut editor, "draft");
        editor.key(Key::Up);
        assert_eq!(editor.line(), "version");
        editor.key(Key::Up);
        assert_eq!(editor.line(), "status");
        editor.key(Key::Up);
        assert_eq!(editor.line(), "status", "stops at the oldest");
        editor.key(Key::Down);
        editor.key(Key::Down);
        assert_eq!(editor.line(), "draft", "back to what was being typed");
        // A repeat is not remembered twice; blanks not at all.
        editor.key(Key::KillLine);
        typed(&mut editor, "version");
        editor.key(Key::Enter);
        editor.key(Key::Enter);
        assert_eq!(editor.history(), ["status", "version"]);
    }

    #[test]
    fn editing_keys() {
        let mut editor = Editor::new(Vec::new());
        typed(&mut editor, "shw");
        editor.key(Key::Left);
        typed(&mut editor, "o");
        assert_eq!((editor.line().as_str(), editor.cursor()), ("show", 3));
        editor.key(Key::End);
        editor.key(Key::Backspace);
        editor.key(Key::Home);
        editor.key(Key::Delete);
        assert_eq!(editor.line(), "ho");
        assert_eq!(editor.key(Key::Cancel), Outcome::Line(String::new()));
        assert_eq!(editor.key(Key::Eof), Outcome::Eof);
    }

    #[test]
    fn tab_completes_command_names() {
        let words = ["uuid_kill", "uuid_dump", "uuid_displace", "status"]
            .map(String::from)
            .to_vec();
        let mut editor = Editor::new(words);
        typed(&mut editor, "sta");
        editor.key(Key::Tab);
        assert_eq!(editor.line(), "status ");
        editor.key(Key::KillLine);
        typed(&mut editor, "uu");
        editor.key(Key::Tab);
        assert_eq!(editor.line(), "uuid_", "the common prefix");
        assert_eq!(
            editor.key(Key::Tab),
            Outcome::Candidates(vec![
                "uuid_kill".into(),
                "uuid_dump".into(),
                "uuid_displace".into()
            ])
        );
        typed(&mut editor, "di");
        editor.key(Key::Tab);
        assert_eq!(editor.line(), "uuid_displace ");
        // Only the command name completes.
        typed(&mut editor, "x");
        assert_eq!(editor.key(Key::Tab), Outcome::Edit);
    }

    #[test]
    fn keys_from_bytes() {
        let keys = |bytes: &[u8]| {
            let mut input = bytes;
            let mut out = Vec::new();
            while let Ok(key) = read_key(&mut input) {
                out.extend(key);
            }
            out
        };
        assert_eq!(
            keys(b"a\x1b[A\x1b[B\x1b[C\x1b[D\x1b[3~\x1bOH\x7f\t\r"),
            [
                Key::Char('a'),
                Key::Up,
                Key::Down,
                Key::Right,
                Key::Left,
                Key::Delete,
                Key::Home,
                Key::Backspace,
                Key::Tab,
                Key::Enter
            ]
        );
        assert_eq!(keys("é".as_bytes()), [Key::Char('é')]);
    }
}
