//! The IPv4 finder: `ipv4_addresses(text)` of broker/pii/recognizers.py, worked out as `re` and
//! the Python around its patterns work it out.
//!
//! `_IPV4_TAIL` hints are found left to right as `finditer` finds them; for each, `_IPV4_FROM`
//! is matched from three characters before it, `ipv4_ok` checks the address and `_version_before`
//! drops one after a version word. Every `\d{1,3}` of the patterns is followed by '.' or by a
//! look-ahead refusing a word character, so it matches only a whole run of 1 to 3 digits: giving
//! digits back never helps, and each part below takes the run or fails. tests/pii/
//! test_native_ip.py holds the two to the same spans on generated and real text.

use crate::chars::{digit_value, is_digit, is_space, is_word};

/// `_VERSION_BEFORE`'s words, as ASCII lower case.
const VERSION_WORDS: [&[u8]; 6] = [b"version", b"ver", b"release", b"build", b"firmware", b"v"];

pub struct Text<'a, T> {
    chars: &'a [T],
}

impl<'a, T: Copy + Into<u32>> Text<'a, T> {
    pub fn new(chars: &'a [T]) -> Self {
        Text { chars }
    }

    #[inline]
    fn at(&self, i: usize) -> Option<u32> {
        self.chars.get(i).map(|&c| c.into())
    }

    #[inline]
    fn is(&self, i: usize, c: char) -> bool {
        self.at(i) == Some(c as u32)
    }

    /// The number of digits from `i` on.
    #[inline]
    fn digits(&self, i: usize) -> usize {
        let mut end = i;
        while matches!(self.at(end), Some(c) if is_digit(c)) {
            end += 1;
        }
        end - i
    }

    /// `\d{1,3}` at `at`, a whole run of digits: its end.
    #[inline]
    fn number(&self, at: usize) -> Option<usize> {
        match self.digits(at) {
            1..=3 => Some(at + self.digits(at)),
            _ => None,
        }
    }

    /// Spans of the addresses, left to right.
    pub fn ipv4(&self) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        let length = self.chars.len();
        let dot = '.' as u32;
        let mut hint = 0;
        while hint < length {
            if self.chars[hint].into() != dot {
                hint += 1;
                continue;
            }
            let Some(end) = self.tail(hint) else {
                hint += 1;
                continue;
            };
            if let Some(start) = self.from(hint.saturating_sub(3)) {
                if start.1 == end && self.ok(start.0, end) && !self.version_before(start.0) {
                    found.push((start.0, end));
                }
            }
            hint = end; // finditer goes on after the hint, whatever became of it
        }
        found
    }

    /// `_IPV4_TAIL`, `\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d)`, at `at`: its end.
    fn tail(&self, at: usize) -> Option<usize> {
        let mut i = at;
        for _ in 0..3 {
            if !self.is(i, '.') {
                return None;
            }
            i = self.number(i + 1)?;
        }
        if self.free_after(i) {
            Some(i)
        } else {
            None
        }
    }

    /// `(?![\w]|\.\d)` at `at`.
    #[inline]
    fn free_after(&self, at: usize) -> bool {
        match self.at(at) {
            None => true,
            Some(c) => {
                !(is_word(c)
                    || (c == '.' as u32 && matches!(self.at(at + 1), Some(d) if is_digit(d))))
            }
        }
    }

    /// `_IPV4_FROM.match(text, at)`: `[\s\S]{0,2}?(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w]|\.\d)`,
    /// the lazy skip of none, one, then two characters: the group's start and the match's end.
    fn from(&self, at: usize) -> Option<(usize, usize)> {
        for start in at..=at + 2 {
            if start > self.chars.len() {
                return None; // no character left to skip
            }
            if start > 0 && matches!(self.at(start - 1), Some(c) if is_word(c) || c == '.' as u32) {
                continue;
            }
            if let Some(end) = self.number(start).and_then(|i| self.tail(i)) {
                return Some((start, end));
            }
        }
        None
    }

    /// `ipv4_ok`: four numbers up to 255, none with a leading ASCII '0' (a zero of another script
    /// is not one to its non-ASCII branch, `p[0] != "0"`; `int` reads every script's digits).
    fn ok(&self, start: usize, end: usize) -> bool {
        let mut i = start;
        while i < end {
            let n = self.digits(i).min(end - i);
            let value = (i..i + n).fold(0, |v, k| {
                10 * v + self.at(k).and_then(digit_value).unwrap_or(0)
            });
            if value > 255 || (n > 1 && self.is(i, '0')) {
                return false;
            }
            i += n + 1; // the number, then its '.'
        }
        true
    }

    /// `_version_before(text, start)`: `_VERSION_BEFORE`, `(?i)\b(?:version|ver|release|build|
    /// firmware|v)[\s.:=#]*$`, found in the up to 24 characters before `start` after the last NUL.
    /// The trailing run is taken whole (no word begins with one of its characters), then a word
    /// must end where it starts, begin inside the 24 characters and follow no word character
    /// there (their first is the end of the reversed text: `\b` holds at it). A NUL needs no test:
    /// neither in the run nor in a word, it stops both, and no word character, it leaves `\b` true.
    fn version_before(&self, start: usize) -> bool {
        let low = start.saturating_sub(24);
        let mut at = start;
        while at > low
            && matches!(self.at(at - 1), Some(c) if is_space(c) || ".:=#".chars().any(|t| t as u32 == c))
        {
            at -= 1;
        }
        let last = |c: u32| b"nredv".iter().any(|&letter| folds_to(c, letter));
        if at == low || !matches!(self.at(at - 1), Some(c) if last(c)) {
            return false; // the cheap test first: most addresses follow no such letter
        }
        VERSION_WORDS.iter().any(|word| {
            at >= low + word.len() && {
                let first = at - word.len();
                (first == low || !matches!(self.at(first - 1), Some(c) if is_word(c)))
                    && word
                        .iter()
                        .enumerate()
                        .all(|(k, &letter)| self.at(first + k).is_some_and(|c| folds_to(c, letter)))
            }
        })
    }
}

/// Whether `re`, ignoring case, takes `c` for the ASCII lower-case `letter`: its two cases, and
/// for the letters of the version words the characters beyond ASCII that fold to them (dotted and
/// dotless i, long s: tests/pii/test_native_ip.py checks these against every character).
#[inline]
fn folds_to(c: u32, letter: u8) -> bool {
    c == letter as u32
        || c == letter.to_ascii_uppercase() as u32
        || (letter == b'i' && (c == 0x130 || c == 0x131))
        || (letter == b's' && c == 0x17f)
}
