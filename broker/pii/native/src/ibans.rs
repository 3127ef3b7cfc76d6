//! The IBAN finder's candidates: `_IBAN.finditer(text)` of broker/pii/recognizers.py, that is
//! `[A-Z][A-Z]\d\d(?<![\w-]....)(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?(?![\w-])`,
//! worked out as `re` works it out (the check digits stay in Python: `iban_check`).
//!
//! Nothing here is possessive: when the look-ahead fails, `re` gives back the optional tail's
//! characters, then the tail, then 4-groups one at a time (down to two), so each choice is
//! tried in that order. tests/pii/test_native_ibans.py holds the two to the same spans.

use crate::chars::{is_digit, is_word};

crate::text::scanner!(Ibans);

/// What an IBAN's first four characters need, branch-free: two capitals, then two characters
/// that are ASCII digits or beyond ASCII (`\d` of another script: `iban_at` decides).
#[inline(always)]
fn may_start(a: u32, b: u32, c: u32, d: u32) -> bool {
    let capital = |x: u32| x.wrapping_sub('A' as u32) < 26;
    let digit = |x: u32| (x.wrapping_sub('0' as u32) < 10) | (x >= 0x80);
    capital(a) & capital(b) & digit(c) & digit(d)
}

impl<'a, T: Copy + Into<u32>> Ibans<'a, T> {
    #[inline]
    fn is_space(&self, i: usize) -> bool {
        self.at(i) == Some(' ' as u32)
    }

    #[inline]
    fn is_upper(&self, i: usize) -> bool {
        matches!(self.at(i), Some(c) if (b'A' as u32..=b'Z' as u32).contains(&c))
    }

    /// `[A-Z0-9]` at `i`.
    #[inline]
    fn is_alnum(&self, i: usize) -> bool {
        matches!(self.at(i), Some(c) if (b'A' as u32..=b'Z' as u32).contains(&c)
            || (b'0' as u32..=b'9' as u32).contains(&c))
    }

    /// `(?![\w-])` at `i`.
    #[inline]
    fn free_after(&self, i: usize) -> bool {
        !matches!(self.at(i), Some(c) if c == '-' as u32 || is_word(c))
    }

    /// Spans of the matches, left to right, as `finditer` gives them.
    pub fn ibans(&self) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        let length = self.chars.len();
        let mut start = self.next_start(0);
        while start < length {
            match self.iban_at(start) {
                Some(end) => {
                    found.push((start, end));
                    start = self.next_start(end);
                }
                None => start = self.next_start(start + 1),
            }
        }
        found
    }

    /// The first position from `from` on where `[A-Z][A-Z]\d\d` may start (two capitals, then two
    /// characters that are digits or beyond ASCII, where `iban_at` reads `\d`), else the text's
    /// length: tested 32 positions at a time (the compiler makes vector tests of them) where each
    /// capital of a text was tried alone.
    fn next_start(&self, from: usize) -> usize {
        let chars = self.chars;
        let may = |i: usize| {
            let at = |k: usize| chars.get(i + k).map_or(0, |&c| c.into());
            may_start(at(0), at(1), at(2), at(3))
        };
        let mut at = from;
        while at + 35 <= chars.len() {
            let window: &[T] = &chars[at..at + 35];
            let mut any = false;
            for k in 0..32 {
                any |= may_start(
                    window[k].into(),
                    window[k + 1].into(),
                    window[k + 2].into(),
                    window[k + 3].into(),
                );
            }
            if any {
                break;
            }
            at += 32;
        }
        (at..chars.len()).find(|&i| may(i)).unwrap_or(chars.len())
    }

    fn iban_at(&self, start: usize) -> Option<usize> {
        // [A-Z][A-Z]\d\d(?<![\w-]....)
        let digit = |i| matches!(self.at(i), Some(c) if is_digit(c));
        if !(self.is_upper(start + 1) && digit(start + 2) && digit(start + 3)) {
            return None;
        }
        if start > 0 && !self.free_after(start - 1) {
            return None;
        }
        // (?:[ ]?[A-Z0-9]{4}){2,7}: each round matches in one way or none ('[ ]?' left out
        // leaves a space where a [A-Z0-9] must be), so the rounds are a chain of ends.
        let mut ends = [0; 8];
        ends[0] = start + 4;
        let mut rounds = 0;
        while rounds < 7 {
            match self.group(ends[rounds]) {
                Some(end) => {
                    rounds += 1;
                    ends[rounds] = end;
                }
                None => break,
            }
        }
        (2..=rounds).rev().find_map(|r| self.tail(ends[r]))
    }

    /// `[ ]?[A-Z0-9]{4}` at `i`.
    fn group(&self, i: usize) -> Option<usize> {
        if self.is_space(i) && (i + 1..i + 5).all(|k| self.is_alnum(k)) {
            return Some(i + 5);
        }
        if (i..i + 4).all(|k| self.is_alnum(k)) {
            return Some(i + 4);
        }
        None
    }

    /// `(?:[ ]?[A-Z0-9]{1,3})?(?![\w-])` at `q`: with the space, without it, then without the tail.
    fn tail(&self, q: usize) -> Option<usize> {
        let leads: [Option<usize>; 2] =
            [if self.is_space(q) { Some(q + 1) } else { None }, Some(q)];
        for from in leads.into_iter().flatten() {
            let mut n = 0;
            while n < 3 && self.is_alnum(from + n) {
                n += 1;
            }
            for k in (1..=n).rev() {
                if self.free_after(from + k) {
                    return Some(from + k);
                }
            }
        }
        if self.free_after(q) {
            Some(q)
        } else {
            None
        }
    }
}
