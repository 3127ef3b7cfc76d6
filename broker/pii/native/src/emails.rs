//! The e-mail finder's spans: `emails(text)` of broker/pii/recognizers.py, that is
//! `_EMAIL_DOMAIN.finditer(text)` from each '@', then the local part read back from it, trimmed
//! and checked as `emails` checks it, worked out as `re` and that Python work it out.
//!
//! The domain pattern, `@((?:LABEL\.)+(?:[^\W\d_]{2,24}|xn--[a-z0-9-]{2,59}))(?![\w-])`: each
//! `LABEL\.` (`[^\W_][\w-]{0,62}+(?<![_-])\.`) is possessive, so it matches in one way or none;
//! the greedy `+` takes as many as match, then gives them back one at a time until the ending
//! (tried alternative by alternative, each count longest first) matches. tests/pii/
//! test_native_emails.py holds the two to the same spans on generated and real text.

use crate::chars::{is_digit, is_word};

/// Characters of a local part (`_LOCAL_BACKWARDS`) besides `\w`.
const LOCAL: &str = ".%+-'!#$&*=?^`{|}~/";
/// What is trimmed from the start of a local part (`_LOCAL_TRIM`).
const TRIM: &str = ".'%+-!#$&*=?^`{|}~/";

crate::text::scanner!(Emails);

#[inline]
fn among(set: &str, c: u32) -> bool {
    c < 0x80 && set.bytes().any(|b| b as u32 == c)
}

impl<'a, T: Copy + Into<u32>> Emails<'a, T> {
    /// `[\w-]` at `i`.
    #[inline]
    fn word_or_hyphen(&self, i: usize) -> bool {
        matches!(self.at(i), Some(c) if c == '-' as u32 || is_word(c))
    }

    /// Spans of the addresses, left to right. `finditer` goes on from a match's end whether or not
    /// its local part is then kept, and from the next character after an '@' with no match.
    pub fn emails(&self) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        let mut labels = Vec::new();
        let length = self.chars.len();
        let mut at = 0;
        while at < length {
            at = self.find(at, '@' as u32); // (32 characters tested at a time)
            if at == length {
                break;
            }
            match self.domain(at + 1, &mut labels) {
                Some(end) => {
                    if let Some(start) = self.local_start(at, end) {
                        found.push((start, end));
                    }
                    at = end;
                }
                None => at += 1,
            }
        }
        found
    }

    /// The end of the domain that starts at `from` (after the '@'), if one does. `labels` holds,
    /// in turn, where each `LABEL\.` taken by `(...)+` ends.
    fn domain(&self, from: usize, labels: &mut Vec<usize>) -> Option<usize> {
        labels.clear();
        let mut i = from;
        while let Some(next) = self.label(i) {
            labels.push(next);
            i = next;
        }
        labels.iter().rev().find_map(|&q| self.ending(q))
    }

    /// `[^\W_][\w-]{0,62}+(?<![_-])\.` at `i`: its end, after the '.'.
    fn label(&self, i: usize) -> Option<usize> {
        let first = self.at(i)?;
        if !is_word(first) || first == '_' as u32 {
            return None;
        }
        let mut end = i + 1;
        while end < i + 63 && self.word_or_hyphen(end) {
            end += 1;
        }
        if self.is(end - 1, '_') || self.is(end - 1, '-') || !self.is(end, '.') {
            return None;
        }
        Some(end + 1)
    }

    /// `(?:[^\W\d_]{2,24}|xn--[a-z0-9-]{2,59})(?![\w-])` at `q`: each alternative in turn, each
    /// count from the longest down.
    fn ending(&self, q: usize) -> Option<usize> {
        let mut letters = 0;
        while letters < 24
            && matches!(self.at(q + letters), Some(c) if is_word(c) && !is_digit(c) && c != '_' as u32)
        {
            letters += 1;
        }
        for n in (2..=letters).rev() {
            if !self.word_or_hyphen(q + n) {
                return Some(q + n);
            }
        }
        if "xn--".chars().enumerate().all(|(k, c)| self.is(q + k, c)) {
            let from = q + 4;
            let mut n = 0;
            while n < 59
                && matches!(self.at(from + n), Some(c) if c == '-' as u32
                    || (b'a' as u32..=b'z' as u32).contains(&c)
                    || (b'0' as u32..=b'9' as u32).contains(&c))
            {
                n += 1;
            }
            for k in (2..=n).rev() {
                if !self.word_or_hyphen(from + k) {
                    return Some(from + k);
                }
            }
        }
        None
    }

    /// Where the local part before the '@' at `at` starts, if it is one to keep: read back over at
    /// most 64 characters, trimmed at the front, no '..' and no '.' last, not the password of a
    /// `scheme://user:password@host`, the address at most 254 characters to `end`.
    fn local_start(&self, at: usize, end: usize) -> Option<usize> {
        let low = at.saturating_sub(64);
        let mut start = at;
        while start > low && matches!(self.at(start - 1), Some(c) if is_word(c) || among(LOCAL, c))
        {
            start -= 1;
        }
        while start < at && matches!(self.at(start), Some(c) if among(TRIM, c)) {
            start += 1;
        }
        if start == at
            || self.is(at - 1, '.')
            || (start..at - 1).any(|i| self.is(i, '.') && self.is(i + 1, '.'))
        {
            return None;
        }
        if start > 0 && self.is(start - 1, ':') {
            let from = start.saturating_sub(80);
            if (from..start.saturating_sub(2))
                .any(|i| self.is(i, ':') && self.is(i + 1, '/') && self.is(i + 2, '/'))
            {
                return None;
            }
        }
        if end - start <= 254 {
            Some(start)
        } else {
            None
        }
    }
}
