//! The input strategy: mutated corpus entries, token soup and raw bytes.

use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use crate::Input;

/// Tokens worth inserting for one format: separators, keywords, header names.
pub type Dictionary = &'static [&'static [u8]];

/// Numbers that break arithmetic and narrowing conversions.
const NUMBERS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"255",
    b"256",
    b"65535",
    b"65536",
    b"2147483648",
    b"4294967295",
    b"4294967296",
    b"18446744073709551615",
    b"18446744073709551616",
    b"99999999999999999999999999999999",
    b"+1",
    b"1e9",
    b"0x10",
];

/// Bytes that are structural in text protocols or edge values in binary ones.
const BYTES: &[u8] = &[
    0x00, 0x7F, 0x80, 0xFF, b'\r', b'\n', b' ', b'\t', b':', b';', b'=', b',', b'<', b'>', b'"',
    b'/', b'\\', b'%', b'@',
];

/// Outputs are capped so repeated growth cannot turn a case into megabytes.
const MAX_LEN: usize = 70_000;

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit {
        at: Index,
        bit: u8,
    },
    SetByte {
        at: Index,
        byte: u8,
    },
    InsertToken {
        at: Index,
        token: Index,
    },
    InsertBytes {
        at: Index,
        bytes: Vec<u8>,
    },
    Delete {
        at: Index,
        len: usize,
    },
    Truncate {
        at: Index,
    },
    DuplicateLine {
        line: Index,
        to: Index,
    },
    DeleteLine {
        line: Index,
    },
    Splice {
        donor: Index,
        from: Index,
        len: usize,
        at: Index,
    },
    Number {
        at: Index,
        number: Index,
    },
    Repeat {
        at: Index,
        len: usize,
        times: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0..8u8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        (
            any::<Index>(),
            prop_oneof![proptest::sample::select(BYTES), any::<u8>()]
        )
            .prop_map(|(at, byte)| Mutation::SetByte { at, byte }),
        (any::<Index>(), any::<Index>())
            .prop_map(|(at, token)| Mutation::InsertToken { at, token }),
        (any::<Index>(), vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::InsertBytes { at, bytes }),
        (any::<Index>(), 1..32usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        any::<Index>().prop_map(|at| Mutation::Truncate { at }),
        (any::<Index>(), any::<Index>())
            .prop_map(|(line, to)| Mutation::DuplicateLine { line, to }),
        any::<Index>().prop_map(|line| Mutation::DeleteLine { line }),
        (any::<Index>(), any::<Index>(), 1..64usize, any::<Index>()).prop_map(
            |(donor, from, len, at)| Mutation::Splice {
                donor,
                from,
                len,
                at
            }
        ),
        (any::<Index>(), any::<Index>()).prop_map(|(at, number)| Mutation::Number { at, number }),
        (any::<Index>(), 1..16usize, 1..64usize).prop_map(|(at, len, times)| Mutation::Repeat {
            at,
            len,
            times
        }),
    ]
}

/// A position in `0..=len`.
fn pos(at: &Index, len: usize) -> usize {
    at.index(len + 1)
}

/// Start offsets of the lines of `buf` (each line ends after its `\n`).
fn line_starts(buf: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            buf.iter()
                .enumerate()
                .filter(|&(i, &b)| b == b'\n' && i + 1 < buf.len())
                .map(|(i, _)| i + 1),
        )
        .collect()
}

/// The byte range of line `line` of `buf`.
fn line_span(buf: &[u8], line: &Index) -> std::ops::Range<usize> {
    let starts = line_starts(buf);
    let n = line.index(starts.len());
    starts[n]..starts.get(n + 1).copied().unwrap_or(buf.len())
}

/// Replaces the next digit run at or after `start` with `number`, or inserts `number` at
/// `start` when no digit follows.
fn replace_number(buf: &mut Vec<u8>, start: usize, number: &[u8]) {
    let digits = buf[start..]
        .iter()
        .position(u8::is_ascii_digit)
        .map(|off| start + off);
    let (s, e) = match digits {
        Some(s) => (
            s,
            s + buf[s..].iter().take_while(|b| b.is_ascii_digit()).count(),
        ),
        None => (start, start),
    };
    buf.splice(s..e, number.iter().copied());
}

impl Mutation {
    fn apply(&self, buf: &mut Vec<u8>, corpus: &[Vec<u8>], dictionary: Dictionary) {
        match self {
            Mutation::FlipBit { at, bit } => {
                if !buf.is_empty() {
                    let i = at.index(buf.len());
                    buf[i] ^= 1 << bit;
                }
            }
            Mutation::SetByte { at, byte } => {
                if !buf.is_empty() {
                    let i = at.index(buf.len());
                    buf[i] = *byte;
                }
            }
            Mutation::InsertToken { at, token } => {
                if !dictionary.is_empty() {
                    let i = pos(at, buf.len());
                    buf.splice(i..i, token.get(dictionary).iter().copied());
                }
            }
            Mutation::InsertBytes { at, bytes } => {
                let i = pos(at, buf.len());
                buf.splice(i..i, bytes.iter().copied());
            }
            Mutation::Delete { at, len } => {
                let i = pos(at, buf.len());
                buf.drain(i..(i + len).min(buf.len()));
            }
            Mutation::Truncate { at } => buf.truncate(pos(at, buf.len())),
            Mutation::DuplicateLine { line, to } => {
                let span = line_span(buf, line);
                let copy = buf[span].to_vec();
                let starts = line_starts(buf);
                let i = to.get(&starts);
                buf.splice(*i..*i, copy);
            }
            Mutation::DeleteLine { line } => {
                let span = line_span(buf, line);
                buf.drain(span);
            }
            Mutation::Splice {
                donor,
                from,
                len,
                at,
            } => {
                let donor = donor.get(corpus);
                let start = pos(from, donor.len());
                let chunk = &donor[start..(start + len).min(donor.len())];
                let i = pos(at, buf.len());
                buf.splice(i..i, chunk.iter().copied());
            }
            Mutation::Number { at, number } => {
                let start = pos(at, buf.len());
                let &number = number.get(NUMBERS);
                replace_number(buf, start, number);
            }
            Mutation::Repeat { at, len, times } => {
                let start = pos(at, buf.len());
                let span = buf[start..(start + len).min(buf.len())].to_vec();
                let copies = span.repeat(*times);
                let end = start + span.len();
                buf.splice(end..end, copies);
            }
        }
        buf.truncate(MAX_LEN);
    }
}

/// Inputs for a parser whose valid inputs look like `corpus` (must not be empty): mostly
/// corpus entries with zero to seven mutations (zero keeps the valid entry itself, so a
/// round-trip property is checked on valid input too), some concatenations of dictionary
/// tokens and stray bytes, some raw random bytes.
pub fn corpus_inputs(corpus: Vec<Vec<u8>>, dictionary: Dictionary) -> impl Strategy<Value = Input> {
    assert!(!corpus.is_empty(), "a fuzz corpus needs at least one entry");
    let corpus = Arc::new(corpus);
    let mutated = (any::<Index>(), vec(mutation(), 0..8)).prop_map(move |(base, mutations)| {
        let mut buf = base.get(&corpus).clone();
        for m in &mutations {
            m.apply(&mut buf, &corpus, dictionary);
        }
        Input(buf)
    });
    let token = prop_oneof![
        any::<Index>().prop_map(move |t| {
            if dictionary.is_empty() {
                Vec::new()
            } else {
                t.get(dictionary).to_vec()
            }
        }),
        vec(any::<u8>(), 1..3),
    ];
    let soup = vec(token, 0..48).prop_map(|tokens| Input(tokens.concat()));
    prop_oneof![
        8 => mutated,
        1 => soup,
        1 => vec(any::<u8>(), 0..512).prop_map(Input),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_spans_cover_the_buffer() {
        let buf = b"a\r\nbb\r\nc";
        assert_eq!(line_starts(buf), vec![0, 3, 7]);
        assert_eq!(line_starts(b""), vec![0]);
        assert_eq!(line_starts(b"x\n"), vec![0]);
    }

    #[test]
    fn number_replaces_the_next_digit_run() {
        let mut buf = b"CSeq: 12 INVITE".to_vec();
        replace_number(&mut buf, 0, b"4294967296");
        assert_eq!(buf, b"CSeq: 4294967296 INVITE");
        replace_number(&mut buf, 17, b"7");
        assert_eq!(buf, b"CSeq: 4294967296 7INVITE");
    }
}
