//! The IBAN finder's candidates: `_IBAN.finditer(text)` of broker/pii/recognizers.py, that is
//! `[A-Z][A-Z]\d\d(?<![\w-]....)(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?(?![\w-])`,
//! worked out as `re` works it out (the check digits stay in Python: `iban_check`).
//!
//! Nothing here is possessive: when the look-ahead fails, `re` gives back the optional tail's
//! characters, then the tail, then 4-groups one at a time (down to two), so each choice is
//! tried in that order. tests/pii/test_native_ibans.py holds the two to the same spans.

use crate::chars::{is_digit, is_word};

crate::text::scanner!(Ibans);

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
        let mut start = 0;
        while start < length {
            match if self.is_upper(start) {
                self.iban_at(start)
            } else {
                None
            } {
                Some(end) => {
                    found.push((start, end));
                    start = end;
                }
                None => start += 1,
            }
        }
        found
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
