//! The number finder's digit runs: `_RUN.finditer(text)` of broker/pii/recognizers_number.py,
//! less the runs `_NEVER` rejects, worked out as `re` works them out.
//!
//! Each function below stands for one part of the pattern and says which. Where the pattern
//! leaves `re` choices (optional items, alternatives, counted repeats), the choices are tried in
//! the order `re` tries them, so the first match found is the one `re` finds. tests/pii/
//! test_native.py holds the two to the same spans on generated and real text.

use crate::chars::{is_digit, is_word};

crate::text::scanner!(Runs);

/// Whether a run may start at `c`: '+', '(', an ASCII digit, or beyond ASCII (a digit of another
/// script: `run_at` decides). Branch-free, for `next_start`'s vector tests.
#[inline(always)]
fn may_start(c: u32) -> bool {
    (c == '+' as u32) | (c == '(' as u32) | (c.wrapping_sub('0' as u32) < 10) | (c >= 0x80)
}

/// Whether `c` is one of the ASCII characters a run may not follow (`glued_before`'s set, bar
/// the characters beyond ASCII, which `run_at` checks itself).
#[inline(always)]
fn ascii_glue(c: u32) -> bool {
    let letter = (c | 0x20).wrapping_sub('a' as u32) < 26;
    let digit = c.wrapping_sub('0' as u32) < 10;
    let other = (c == '_' as u32)
        | (c == '+' as u32)
        | (c == '@' as u32)
        | (c == '/' as u32)
        | (c == '\\' as u32)
        | (c == '.' as u32)
        | (c == '-' as u32)
        | (c == '#' as u32)
        | (c == '$' as u32)
        | (c == '%' as u32)
        | (c == '&' as u32);
    letter | digit | other
}

impl<'a, T: Copy + Into<u32>> Runs<'a, T> {
    #[inline]
    fn is_separator(&self, i: usize) -> bool {
        matches!(self.at(i), Some(c) if c == '-' as u32 || c == '.' as u32 || c == '/' as u32)
    }

    #[inline]
    fn word_at(&self, i: usize, word: &str) -> bool {
        word.chars().enumerate().all(|(k, c)| self.is(i + k, c))
    }

    /// Spans of the runs, left to right, as `finditer` gives them (a failed start moves on by one).
    pub fn runs(&self) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        let length = self.chars.len();
        let mut start = self.next_start(0);
        while start < length {
            let c = self.chars[start].into();
            let may_start = c == '+' as u32 || c == '(' as u32 || is_digit(c);
            match if may_start { self.run_at(start) } else { None } {
                Some(end) => {
                    if !self.never(start, end) {
                        found.push((start, end));
                    }
                    start = self.next_start(end);
                }
                None => start = self.next_start(start + 1),
            }
        }
        found
    }

    /// The first position from `from` on where a run may start, else the text's length: a '+',
    /// '(', digit or character beyond ASCII that is not glued to an ASCII `[\w+@/\\.\-#$%&]` before
    /// it. Most digits of a record are glued to a digit or letter (ids, dates, amounts): tested 32
    /// positions at a time (the compiler makes vector tests of them), where one at a time cost
    /// ~3 ns a character of a CRM result. Every position skipped is one `run_at` refuses.
    fn next_start(&self, from: usize) -> usize {
        let chars = self.chars;
        let mut at = from;
        if at == 0 {
            if chars.first().is_some_and(|&c| may_start(c.into())) {
                return 0;
            }
            at = 1;
        }
        while at + 32 <= chars.len() {
            let here = &chars[at..at + 32];
            let before = &chars[at - 1..at + 31];
            let any = here.iter().zip(before).fold(false, |any, (&c, &b)| {
                any | (may_start(c.into()) & !ascii_glue(b.into()))
            });
            if any {
                break;
            }
            at += 32;
        }
        (at..chars.len())
            .find(|&i| may_start(chars[i].into()) && !ascii_glue(chars[i - 1].into()))
            .unwrap_or(chars.len())
    }

    /// `(?<![\w+@/\\.\-\#$€£¥%&].)` after the first character: nothing glued on before it.
    fn glued_before(&self, start: usize) -> bool {
        match start.checked_sub(1).and_then(|i| self.at(i)) {
            None => false,
            Some(c) => {
                is_word(c) || ascii_glue(c) || matches!(char::from_u32(c), Some('€' | '£' | '¥'))
            }
        }
    }

    /// The end of the run that starts at `start`, if one does.
    fn run_at(&self, start: usize) -> Option<usize> {
        if self.glued_before(start) {
            return None;
        }
        let first = self.at(start)?;
        let next = start + 1;
        if first == '+' as u32 {
            // (?<=\+)[ ]?(?:(?:\(\+?\d{1,5}\)|\d++) GROUPS | \d{7,}+)
            let at = if self.is(next, ' ') { next + 1 } else { next };
            let head = self.area(at, true).or_else(|| match self.digits(at) {
                0 => None,
                n => Some(at + n),
            });
            if let Some(end) = head.and_then(|h| self.groups(h)).and_then(|g| self.tail(g)) {
                return Some(end);
            }
            let n = self.digits(at);
            // Without the space `[ ]?` took, a space stands where a digit or '(' must: no match.
            return if n >= 7 { self.tail(at + n) } else { None };
        }
        if first == '(' as u32 {
            // (?<=\()\+?\d{1,5}\) GROUPS
            let at = if self.is(next, '+') { next + 1 } else { next };
            return self
                .closed_digits(at)
                .and_then(|h| self.groups(h))
                .and_then(|g| self.tail(g));
        }
        if is_digit(first) {
            // (?<=\d)(?:\d*+ GROUPS | \d{6,}+)
            let n = self.digits(next);
            if let Some(end) = self.groups(next + n).and_then(|g| self.tail(g)) {
                return Some(end);
            }
            return if n >= 6 { self.tail(next + n) } else { None };
        }
        None
    }

    /// `\(\+?\d{1,5}\)` (with `plus`) or `\(\d{1,5}\)` at `at`.
    fn area(&self, at: usize, plus: bool) -> Option<usize> {
        if !self.is(at, '(') {
            return None;
        }
        let inner = if plus && self.is(at + 1, '+') {
            at + 2
        } else {
            at + 1
        };
        self.closed_digits(inner)
    }

    /// `\d{1,5}\)` at `at`: 1 to 5 digits, then ')' (more digits leave a digit where ')' must be).
    fn closed_digits(&self, at: usize) -> Option<usize> {
        let n = self.digits(at);
        if (1..=5).contains(&n) && self.is(at + n, ')') {
            Some(at + n + 1)
        } else {
            None
        }
    }

    /// GROUPS, `(?:A|B|C){1,9}+`: possessive, so each round takes the first alternative that
    /// matches and the rounds stop at the first that none does (at least one must match).
    fn groups(&self, at: usize) -> Option<usize> {
        let mut end = at;
        let mut rounds = 0;
        while rounds < 9 {
            match self.group(end) {
                Some(next) => end = next,
                None => break,
            }
            rounds += 1;
        }
        if rounds == 0 {
            None
        } else {
            Some(end)
        }
    }

    fn group(&self, at: usize) -> Option<usize> {
        // A: [ ]?\(\d{1,5}\)
        let spaced = if self.is(at, ' ') { at + 1 } else { at };
        if let Some(end) = self.area(spaced, false) {
            return Some(end);
        }
        // B: (?<=\))[ ]?[-./]?[ ]?\d++ ; each optional item taken when there, as `re` first tries:
        // leaving one out leaves a space or separator where a digit must be.
        if at > 0 && self.is(at - 1, ')') {
            let mut i = at;
            if self.is(i, ' ') {
                i += 1;
            }
            if self.is_separator(i) {
                i += 1;
            }
            if self.is(i, ' ') {
                i += 1;
            }
            let n = self.digits(i);
            if n > 0 {
                return Some(i + n);
            }
        }
        // C: (?:[ ]?[-./][ ]?|[ ]{1,2})\d++
        let mut i = spaced;
        if self.is_separator(i) {
            i += 1;
            if self.is(i, ' ') {
                i += 1;
            }
            let n = self.digits(i);
            if n > 0 {
                return Some(i + n);
            }
        }
        let spaces = if self.is(at, ' ') {
            if self.is(at + 1, ' ') {
                2
            } else {
                1
            }
        } else {
            0
        };
        if spaces > 0 {
            let n = self.digits(at + spaces);
            if n > 0 {
                return Some(at + spaces + n);
            }
        }
        None
    }

    /// `(?:[ ]?(?:x|ext\.?|extension)[ ]?\d{1,6})?` then `(?![\w@:]|[-./,]\d|%)`, the
    /// extension's choices tried in `re`'s order before the run is taken without one.
    fn tail(&self, at: usize) -> Option<usize> {
        let lead = if self.is(at, ' ') { at + 1 } else { at };
        for (word, length) in [("x", 1), ("ext.", 4), ("ext", 3), ("extension", 9)] {
            if !self.word_at(lead, word) {
                continue;
            }
            let digits_at = if self.is(lead + length, ' ') {
                lead + length + 1
            } else {
                lead + length
            };
            let n = self.digits(digits_at).min(6);
            for k in (1..=n).rev() {
                if self.free_after(digits_at + k) {
                    return Some(digits_at + k);
                }
            }
        }
        if self.free_after(at) {
            Some(at)
        } else {
            None
        }
    }

    /// `(?![\w@:]|[-./,]\d|%)` at `at`.
    fn free_after(&self, at: usize) -> bool {
        match self.at(at) {
            None => true,
            Some(c) => {
                let punctuation =
                    c == '-' as u32 || c == '.' as u32 || c == '/' as u32 || c == ',' as u32;
                !(is_word(c)
                    || c == '@' as u32
                    || c == ':' as u32
                    || c == '%' as u32
                    || (punctuation && matches!(self.at(at + 1), Some(d) if is_digit(d))))
            }
        }
    }

    /// `_NEVER.fullmatch(run)` for a run that is not all digits: an amount (1234.50), an IPv4
    /// address, a date (2024-01-31, 31/01/2024) or a ZIP+4 code.
    fn never(&self, start: usize, end: usize) -> bool {
        // The run as digit groups between single separators; anything else is none of the shapes.
        let mut lengths: [usize; 5] = [0; 5];
        let mut separators: [u32; 4] = [0; 4];
        let mut groups = 0;
        let mut i = start;
        loop {
            let n = self.digits(i).min(end - i);
            if n == 0 || groups == 5 {
                return false;
            }
            lengths[groups] = n;
            groups += 1;
            i += n;
            if i == end {
                break;
            }
            if groups == 5 || !self.is_separator(i) {
                return false;
            }
            separators[groups - 1] = self.at(i).unwrap_or(0);
            i += 1;
            if i == end {
                return false;
            }
        }
        if groups == 1 {
            return false; // all digits: never one of these shapes
        }
        let dot = '.' as u32;
        let same = separators[..groups - 1].iter().all(|&s| s == separators[0]);
        let within = |n: usize, low: usize, high: usize| (low..=high).contains(&n);
        match groups {
            2 => {
                (separators[0] == dot)
                    || (separators[0] == '-' as u32 && lengths[0] == 5 && lengths[1] == 4)
            }
            3 => {
                same && ((lengths[0] == 4 && within(lengths[1], 1, 2) && within(lengths[2], 1, 2))
                    || (within(lengths[0], 1, 2)
                        && within(lengths[1], 1, 2)
                        && within(lengths[2], 2, 4)))
            }
            4 => same && separators[0] == dot && lengths[..4].iter().all(|&n| within(n, 1, 3)),
            _ => false,
        }
    }
}
