//! The IP finders: `ipv4_addresses(text)` and `ipv6_candidates(text)` of broker/pii/recognizers.py,
//! worked out as `re` and the Python around its patterns work them out.
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

crate::text::scanner!(Ips);

impl<'a, T: Copy + Into<u32>> Ips<'a, T> {
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
        let mut hint = 0;
        while hint < length {
            hint = self.next_hint(hint);
            if hint == length {
                break;
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

    /// The first '.' from `from` on that a digit may follow (an ASCII one, or any character beyond
    /// ASCII: `tail` decides), else the text's length: the only ones `tail` can take. Tested 32
    /// positions at a time (the compiler makes vector tests of them): an e-mail's, a sentence's
    /// dots were each tried alone, and most are followed by a letter or a space.
    fn next_hint(&self, from: usize) -> usize {
        let chars = self.chars;
        let hint = |c: u32, next: u32| {
            (c == '.' as u32) & ((next.wrapping_sub('0' as u32) < 10) | (next >= 0x80))
        };
        let mut at = from;
        while at + 33 <= chars.len() {
            let window = &chars[at..at + 33];
            let mut any = false;
            for k in 0..32 {
                any |= hint(window[k].into(), window[k + 1].into());
            }
            if any {
                break;
            }
            at += 32;
        }
        (at..chars.len())
            .find(|&i| hint(chars[i].into(), chars.get(i + 1).map_or(0, |&c| c.into())))
            .unwrap_or(chars.len())
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

    /// The number of ASCII hex digits (`[0-9A-Fa-f]`) from `i` on.
    #[inline]
    fn hex(&self, i: usize) -> usize {
        let mut end = i;
        while matches!(self.at(end), Some(c) if c < 0x80 && (c as u8).is_ascii_hexdigit()) {
            end += 1;
        }
        end - i
    }

    /// `[0-9A-Fa-f]{min,4}:` at `at` (the hex digits a whole run, as giving one back leaves a
    /// hex digit where ':' must be): its end.
    #[inline]
    fn hex_colon(&self, at: usize, min: usize) -> Option<usize> {
        let n = self.hex(at);
        if (min..=4).contains(&n) && self.is(at + n, ':') {
            Some(at + n + 1)
        } else {
            None
        }
    }

    /// `ipv6_candidates(text)`: `_IPV6_POSSIBLE` as `finditer` finds it, and each string (between
    /// NULs) holding one searched once by `_find_ipv6`.
    pub fn ipv6(&self) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        let length = self.chars.len();
        let colon = ':' as u32;
        let mut high = None;
        let mut at = 0;
        while at < length {
            at = self.find(at, colon);
            if at == length {
                break;
            }
            // `::|:(?:[0-9A-Fa-f]{1,4}:){5}`
            let end = if self.is(at + 1, ':') {
                Some(at + 2)
            } else {
                (0..5).try_fold(at + 1, |i, _| self.hex_colon(i, 1))
            };
            let Some(end) = end else {
                at += 1;
                continue;
            };
            if high.is_none_or(|high| at >= high) {
                let low = (0..at)
                    .rev()
                    .find(|&i| self.is(i, '\0'))
                    .map_or(0, |nul| nul + 1);
                let string_end = (end..length).find(|&i| self.is(i, '\0')).unwrap_or(length);
                self.ipv6_in(low, string_end, &mut found);
                high = Some(string_end);
            }
            at = end;
        }
        found
    }

    /// `_find_ipv6(text, low, high, spans)`: `_IPV6_HINT`, `:[0-9A-Fa-f]{0,4}:`, as `finditer`
    /// finds it in text[low:high]; `_IPV6` tried once per run of address characters, from where
    /// its hex digits and colons start; kept if it has '::', seven colons, or six and a '.'.
    fn ipv6_in(&self, low: usize, high: usize, found: &mut Vec<(usize, usize)>) {
        let mut done = 0;
        let mut hint = low;
        while hint < high {
            let Some(hint_end) = (if self.is(hint, ':') {
                self.hex_colon(hint + 1, 0)
            } else {
                None
            })
            .filter(|&end| end <= high) else {
                hint += 1;
                continue;
            };
            if hint >= done {
                let mut start = hint;
                while start > hint.saturating_sub(40)
                    && matches!(self.at(start - 1), Some(c) if c == ':' as u32 || (c < 0x80 && (c as u8).is_ascii_hexdigit()))
                {
                    start -= 1;
                }
                // `[\w:.%]*` from the hint
                done = hint;
                while matches!(self.at(done), Some(c) if is_word(c) || c == ':' as u32 || c == '.' as u32 || c == '%' as u32)
                {
                    done += 1;
                }
                if let Some(end) = self.ipv6_at(start) {
                    let colons = (start..end).filter(|&i| self.is(i, ':')).count();
                    let double = (start + 1..end).any(|i| self.is(i - 1, ':') && self.is(i, ':'));
                    let dot = (start..end).any(|i| self.is(i, '.'));
                    if double || colons == 7 || (colons == 6 && dot) {
                        found.push((start, end));
                    }
                }
            }
            hint = hint_end;
        }
    }

    /// `_IPV6.match(text, start)`: `(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}` then
    /// `(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?:%[\w.]{1,15})?(?![\w:]|\.\d)`: the
    /// groups from seven down to two, each with the tails in `re`'s order, each with the zone
    /// from its longest down and then without. The tails take whole runs of digits (a digit given
    /// back stands where '.', '%' or the look-ahead refuses it); the zone may end before a '.'.
    fn ipv6_at(&self, start: usize) -> Option<usize> {
        if start > 0
            && matches!(self.at(start - 1), Some(c) if is_word(c) || c == ':' as u32 || c == '.' as u32)
        {
            return None;
        }
        let mut ends = [0usize; 8];
        ends[0] = start;
        let mut groups = 0;
        while groups < 7 {
            match self.hex_colon(ends[groups], 0) {
                Some(end) => {
                    groups += 1;
                    ends[groups] = end;
                }
                None => break,
            }
        }
        for k in (2..=groups).rev() {
            let at = ends[k];
            let tails = [self.ipv4_tail(at), self.hex_tail(at), Some(at)];
            for tail in tails.into_iter().flatten() {
                if let Some(end) = self.zone(tail) {
                    return Some(end);
                }
            }
        }
        None
    }

    /// `(?:\d{1,3}\.){3}\d{1,3}` at `at`.
    fn ipv4_tail(&self, at: usize) -> Option<usize> {
        let mut i = at;
        for _ in 0..3 {
            i = self.number(i)?;
            if !self.is(i, '.') {
                return None;
            }
            i += 1;
        }
        self.number(i)
    }

    /// `[0-9A-Fa-f]{1,4}` at `at`.
    fn hex_tail(&self, at: usize) -> Option<usize> {
        match self.hex(at) {
            n @ 1..=4 => Some(at + n),
            _ => None,
        }
    }

    /// `(?:%[\w.]{1,15})?(?![\w:]|\.\d)` at `at`: the end.
    fn zone(&self, at: usize) -> Option<usize> {
        if self.is(at, '%') {
            let mut run = 0;
            while run < 15
                && matches!(self.at(at + 1 + run), Some(c) if is_word(c) || c == '.' as u32)
            {
                run += 1;
            }
            for z in (1..=run).rev() {
                if self.free_after_v6(at + 1 + z) {
                    return Some(at + 1 + z);
                }
            }
        }
        if self.free_after_v6(at) {
            Some(at)
        } else {
            None
        }
    }

    /// `(?![\w:]|\.\d)` at `at`.
    #[inline]
    fn free_after_v6(&self, at: usize) -> bool {
        !self.is(at, ':') && self.free_after(at)
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
