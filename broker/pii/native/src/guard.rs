//! The audit's prompt-injection prefilter: what `broker.guard.injection.reference_suspect`
//! decides, without its four passes and a Python call per token and per match of a short word
//! (~1 ms per 64 KB of masked CRM records, now ~0.13). tests/guard/test_injection_native.py
//! holds the two to the same verdicts.
//!
//! The text is read as `reference_suspect` reads it: each PII token's hex id taken out
//! (`<EMAIL_ADDRESS_3ac9f0b1>` reads `<EMAIL_ADDRESS>`), then searched for the suspect
//! keywords in its lowering (the short ones only as words of their own), then for the
//! disguises' parts by character class and a run of 16 base64 characters.
//!
//! ASCII text is read as its bytes. Other text of the Basic Multilingual Plane (accented
//! Latin, Cyrillic, CJK: a str of kind 1 or 2) is read through two tables of Python's own
//! Unicode rules per code point (its lowering, `re`'s classes), given once by `read_unicode`
//! (broker/guard/prefilter_tables.py), so the verdicts are Python's whatever its Unicode version.
//! Text with a character beyond the plane (kind 4: an emoji, a CJK Extension B ideograph, a
//! mathematical letter) is read the same way once `read_astral` gave the planes beyond it, as
//! pages of 256 code points of which only the distinct ones are kept.

use std::borrow::Cow;

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyStringData};
use pyo3::AsPyPointer;

/// The suspect keywords as a DFA over symbols: an ASCII byte (upper case read as lower case),
/// from 128 on a keyword's character beyond ASCII, then `word` for any other word character.
#[pyclass(module = "broker.pii._native")]
pub struct Prefilter {
    /// The transitions: from `state` on `symbol` to `next[(state & !OUTPUT) + symbol]`. A state
    /// is its row's offset (row * stride), plus OUTPUT when a keyword or a short word ends there.
    /// A row's last entry holds what ends at its state: the lengths of the short words (bit n:
    /// length n), and bit 0 for a keyword (not a short word). There, not in a table by row, it
    /// costs no division of the offset (a twentieth of the look at an ASCII text).
    next: Vec<u32>,
    /// The length of a row: the alphabet's and the last entry, made even (OUTPUT is a row
    /// offset's low bit).
    stride: usize,
    /// The longest keyword's length, in characters.
    longest: usize,
    /// The keywords' characters beyond ASCII: the one at index i is symbol 128 + i.
    wide: Vec<char>,
    /// Python's rules for each code point of the plane, once `read_unicode` gave them.
    unicode: Option<Unicode>,
    /// And of the planes beyond it, once `read_astral` gave them.
    astral: Option<Astral>,
}

/// What the prefilter reads a character of the plane as, by index of its code point.
struct Unicode {
    /// The keyword DFA's symbol of the character's lowering (`_folded(c).lower()`, one
    /// character): ASCII itself, a keyword's character, another word character (`word`), else 0.
    symbols: Vec<u8>,
    /// Its class, as `CLASSES` (kind and flags).
    classes: Vec<u8>,
}

/// What the prefilter reads a code point beyond the first plane as (`Unicode`'s symbol and
/// class), in pages of 256: `pages[(c >> 8) - 256]` is the index of c's page in `symbols` and
/// `classes`, whose page 0 is all zeros (no class, symbol 0). The 4096 pages of planes 1 to 16
/// hold 73 distinct ones in Python 3.11 (plane 2 is ~all CJK letters, 4 to 16 are empty): ~45 KB.
struct Astral {
    pages: Vec<u16>,
    symbols: Vec<u8>,
    classes: Vec<u8>,
}

impl Astral {
    #[inline(always)]
    fn at(&self, c: u32) -> usize {
        let page = self.pages[(c as usize >> 8) - PLANE / PAGE] as usize;
        page * PAGE + (c as usize & (PAGE - 1))
    }
}

const ASCII: usize = 128;
const PLANE: usize = 0x10000;
const PAGE: usize = 256;
const PLANES: usize = 17;
const OUTPUT: u32 = 1;
const LANES: usize = 4;

struct Trie {
    next: Vec<u32>,
    stride: usize,
    plain: Vec<bool>,
    alone: Vec<u32>,
    longest: usize,
    wide: Vec<char>,
}

impl Trie {
    fn symbol(&self, c: char) -> usize {
        if c.is_ascii() {
            c as usize
        } else {
            ASCII + self.wide.iter().position(|&w| w == c).unwrap_or(0)
        }
    }

    fn add_row(&mut self) -> usize {
        self.next.resize(self.next.len() + self.stride, 0);
        self.plain.push(false);
        self.alone.push(0);
        self.plain.len() - 1
    }

    fn insert(&mut self, word: &str, alone: bool) -> PyResult<()> {
        let length = word.chars().count();
        if word.is_empty()
            || word.bytes().any(|c| c.is_ascii_uppercase())
            || word.chars().any(|c| c as usize >= PLANE)
            || (alone && length > 31)
        {
            return Err(PyValueError::new_err(format!(
                "not a lower-case keyword of the plane's characters: {word:?}"
            )));
        }
        self.longest = self.longest.max(length);
        let mut state = 0usize;
        for c in word.chars() {
            let symbol = self.symbol(c);
            let child = self.next[state * self.stride + symbol];
            state = if child == 0 {
                let added = self.add_row();
                self.next[state * self.stride + symbol] = added as u32;
                added
            } else {
                child as usize
            };
        }
        if alone {
            self.alone[state] |= 1 << length;
        } else {
            self.plain[state] = true;
        }
        Ok(())
    }

    /// Aho-Corasick's failure links folded into the transitions (a DFA), each state's outputs
    /// joined with those of its longest proper suffix: every overlapping match is seen.
    fn into_prefilter(mut self) -> Prefilter {
        let stride = self.stride;
        let mut fail = vec![0u32; self.plain.len()];
        let mut queue: Vec<usize> = (0..stride)
            .map(|symbol| self.next[symbol] as usize)
            .filter(|&child| child != 0)
            .collect();
        let mut head = 0;
        while head < queue.len() {
            let state = queue[head];
            head += 1;
            let back = fail[state] as usize;
            self.plain[state] |= self.plain[back];
            self.alone[state] |= self.alone[back];
            for symbol in 0..stride {
                let child = self.next[state * stride + symbol];
                let through = self.next[back * stride + symbol];
                if child == 0 {
                    self.next[state * stride + symbol] = through;
                } else {
                    fail[child as usize] = through;
                    queue.push(child as usize);
                }
            }
        }
        for row in self.next.chunks_exact_mut(stride) {
            for upper in b'A'..=b'Z' {
                row[upper as usize] = row[upper.to_ascii_lowercase() as usize];
            }
        }
        let ends = |row: usize| self.alone[row] | self.plain[row] as u32;
        let state = |row: u32| row * stride as u32 + (ends(row as usize) != 0) as u32 * OUTPUT;
        let next = self
            .next
            .chunks_exact(stride)
            .enumerate()
            .flat_map(|(row, entries)| {
                let (_, symbols) = entries.split_last().unwrap_or((&0, &[]));
                symbols.iter().map(move |&to| state(to)).chain([ends(row)])
            });
        Prefilter {
            next: next.collect(),
            stride,
            longest: self.longest,
            wide: self.wide,
            unicode: None,
            astral: None,
        }
    }
}

#[pymethods]
impl Prefilter {
    /// The DFA of `words` (anywhere) and `alone` (only as words of their own), in lower case;
    /// characters beyond ASCII are read once `read_unicode` gave Python's rules.
    #[new]
    fn new(words: Vec<&str>, alone: Vec<&str>) -> PyResult<Self> {
        let mut wide: Vec<char> = Vec::new();
        for c in words.iter().chain(&alone).flat_map(|word| word.chars()) {
            if !c.is_ascii() && !wide.contains(&c) {
                wide.push(c);
            }
        }
        // the symbols: ASCII, the wide characters, `word`; `word` must fit in a byte
        if wide.len() > 255 - ASCII {
            return Err(PyValueError::new_err(
                "too many keyword characters beyond ASCII",
            ));
        }
        let stride = (ASCII + wide.len() + 2).next_multiple_of(2);
        let mut trie = Trie {
            next: vec![0; stride],
            stride,
            plain: vec![false],
            alone: vec![0],
            longest: 1,
            wide,
        };
        for word in words {
            trie.insert(word, false)?;
        }
        for word in alone {
            trie.insert(word, true)?;
        }
        Ok(trie.into_prefilter())
    }

    /// Python's rules for each code point c of the plane: `lowered[c]` is its lowering as
    /// `_has_keyword` reads it (one character), `classes[c]` its class (CLASSES' kinds and
    /// flags). ValueError when they do not fit the keywords (a keyword's character not a word
    /// character in lower case) or disagree with the native reading of ASCII.
    fn read_unicode(&mut self, lowered: &PyString, classes: &[u8]) -> PyResult<()> {
        let lowered = code_points(lowered)?;
        if lowered.len() != PLANE || classes.len() != PLANE {
            return Err(PyValueError::new_err(
                "one lowering and one class per code point of the plane",
            ));
        }
        if (0..ASCII).any(|c| {
            classes[c] != CLASSES[c] || lowered[c] != (c as u8).to_ascii_lowercase() as u32
        }) {
            return Err(PyValueError::new_err(
                "Python reads ASCII otherwise than the native prefilter",
            ));
        }
        for &c in &self.wide {
            let at = c as usize;
            if lowered[at] != c as u32 || classes[at] & WORD == 0 {
                return Err(PyValueError::new_err(format!(
                    "a keyword's character is not a word character in lower case: {c:?}"
                )));
            }
        }
        let symbols = self.symbols(&lowered, classes);
        self.unicode = Some(Unicode {
            symbols,
            classes: classes.to_vec(),
        });
        Ok(())
    }

    /// Python's rules for the planes beyond the first: `planes` holds (number, lowered, classes)
    /// of some, as `read_unicode` takes the first's (`lowered[c]`, c counted from the plane's
    /// first code point, may be any code point); `empty` the numbers of the others, which Python
    /// found to hold no character of any class, each its own lowering. ValueError unless each of
    /// planes 1 to 16 is in one of them once.
    fn read_astral(
        &mut self,
        planes: Vec<(usize, &PyString, &[u8])>,
        empty: Vec<usize>,
    ) -> PyResult<()> {
        let wrong = |why: &str| {
            Err(PyValueError::new_err(format!(
                "not tables of planes 1 to 16: {why}"
            )))
        };
        let mut given = [0u8; PLANES];
        for &number in planes.iter().map(|(number, _, _)| number).chain(&empty) {
            match given.get_mut(number) {
                Some(count) if number > 0 => *count += 1,
                _ => return wrong("a plane's number"),
            }
        }
        if given[1..].iter().any(|&count| count != 1) {
            return wrong("a plane missing or given twice");
        }
        let pages_per_plane = PLANE / PAGE;
        let mut astral = Astral {
            pages: vec![0; (PLANES - 1) * pages_per_plane],
            symbols: vec![0; PAGE],
            classes: vec![0; PAGE],
        };
        let mut distinct = std::collections::HashMap::from([(vec![0u8; 2 * PAGE], 0u16)]);
        for (number, lowered, classes) in planes {
            let lowered = code_points(lowered)?;
            if lowered.len() != PLANE || classes.len() != PLANE {
                return wrong("one lowering and one class per code point of each");
            }
            if classes.iter().any(|&class| class & KIND != O) {
                return wrong("a kind beyond ASCII");
            }
            let symbols = self.symbols(&lowered, classes);
            for (index, (symbols, classes)) in symbols
                .chunks_exact(PAGE)
                .zip(classes.chunks_exact(PAGE))
                .enumerate()
            {
                let key = [symbols, classes].concat();
                let next = distinct.len() as u16;
                let page = *distinct.entry(key).or_insert_with(|| {
                    astral.symbols.extend_from_slice(symbols);
                    astral.classes.extend_from_slice(classes);
                    next
                });
                astral.pages[(number - 1) * pages_per_plane + index] = page;
            }
        }
        self.astral = Some(astral);
        Ok(())
    }

    /// `reference_suspect(text)`: True (a keyword or a disguise), False (neither, nor a base64
    /// run), None (only a base64 run: its decoding is Python's to read). ValueError for a text
    /// it cannot read: one beyond ASCII before `read_unicode`, one with a character beyond the
    /// plane before `read_astral`.
    fn suspect(&self, text: &PyString) -> PyResult<Option<bool>> {
        // SAFETY: the data is read while the string (held by the caller) is alive, GIL held.
        let data = unsafe { text.data()? };
        let ascii = unsafe { ffi::PyUnicode_IS_ASCII(text.as_ptr()) != 0 };
        let symbol = |unicode: &Unicode, c: u32| unicode.symbols[c as usize];
        let class = |unicode: &Unicode, c: u32| unicode.classes[c as usize];
        match (data, &self.unicode, &self.astral) {
            (PyStringData::Ucs1(bytes), _, _) if ascii => {
                Ok(self.verdict(&without_token_ids(bytes)))
            }
            (PyStringData::Ucs1(chars), Some(unicode), _) => Ok(self.wide_verdict(
                &without_token_ids(chars),
                |c| symbol(unicode, c),
                |c| class(unicode, c),
            )),
            (PyStringData::Ucs2(chars), Some(unicode), _) => Ok(self.wide_verdict(
                &without_token_ids(chars),
                |c| symbol(unicode, c),
                |c| class(unicode, c),
            )),
            (PyStringData::Ucs4(chars), Some(unicode), Some(astral)) => {
                let read = |plane: &[u8], beyond: &[u8], c: u32| {
                    if (c as usize) < PLANE {
                        plane[c as usize]
                    } else {
                        beyond[astral.at(c)]
                    }
                };
                Ok(self.wide_verdict(
                    &without_token_ids(chars),
                    |c| read(&unicode.symbols, &astral.symbols, c),
                    |c| read(&unicode.classes, &astral.classes, c),
                ))
            }
            _ => Err(PyValueError::new_err(
                "the native prefilter reads ASCII, other text once given each plane's tables",
            )),
        }
    }
}

impl Prefilter {
    fn verdict(&self, text: &[u8]) -> Option<bool> {
        if self.keyword_in(text) {
            return Some(true);
        }
        ascii_disguise_or_base64(text)
    }

    /// `verdict` for text beyond ASCII: its characters as their symbols, then as their classes.
    fn wide_verdict<T: Unit>(
        &self,
        text: &[T],
        symbol: impl Fn(u32) -> u8,
        class: impl Fn(u32) -> u8,
    ) -> Option<bool> {
        let symbols: Vec<u8> = text.iter().map(|&c| symbol(c.into())).collect();
        if self.keyword_in(&symbols) {
            return Some(true);
        }
        let classes: Vec<u8> = text.iter().map(|&c| class(c.into())).collect();
        disguise_or_base64(&classes, &IDENTITY)
    }

    /// The keyword DFA's symbol of each code point of a plane, from its lowering (any code point)
    /// and class: ASCII itself, a keyword's character (all are of the first plane), another word
    /// character (`word`), else 0.
    fn symbols(&self, lowered: &[u32], classes: &[u8]) -> Vec<u8> {
        let mut symbol_of = vec![0u8; PLANE];
        for (index, &c) in self.wide.iter().enumerate() {
            symbol_of[c as usize] = (ASCII + index) as u8;
        }
        let word = (ASCII + self.wide.len()) as u8;
        lowered
            .iter()
            .zip(classes)
            .map(|(&low, &class)| match low as usize {
                low if low < ASCII => low as u8,
                low if low < PLANE && symbol_of[low] != 0 => symbol_of[low],
                _ if class & WORD != 0 => word,
                _ => 0,
            })
            .collect()
    }

    /// Whether a keyword is in `text` (symbols). A run of the DFA waits on each transition's
    /// load, so it runs over LANES parts of the text at once, each from the longest keyword's
    /// length before its part (a keyword across two parts is seen whole in the second).
    fn keyword_in(&self, text: &[u8]) -> bool {
        let part = text.len().div_ceil(LANES);
        let begin = |lane: usize| {
            (lane * part)
                .saturating_sub(self.longest - 1)
                .min(text.len())
        };
        let end = |lane: usize| ((lane + 1) * part).min(text.len());
        let starts: [usize; LANES] = std::array::from_fn(begin);
        let steps = (0..LANES)
            .map(|lane| end(lane) - starts[lane])
            .min()
            .unwrap_or(0);
        let [one, two, three, four] = starts.map(|start| &text[start..start + steps]);
        let mut states = [0u32; LANES];
        let lanes = one.iter().zip(two).zip(three).zip(four);
        for (step, (((&a, &b), &c), &d)) in lanes.enumerate() {
            states = [
                self.step(states[0], a),
                self.step(states[1], b),
                self.step(states[2], c),
                self.step(states[3], d),
            ];
            if (states[0] | states[1] | states[2] | states[3]) & OUTPUT != 0
                && (0..LANES).any(|lane| self.found_at(text, starts[lane] + step, states[lane]))
            {
                return true;
            }
        }
        (0..LANES).any(|lane| {
            let mut state = states[lane];
            (starts[lane] + steps..end(lane)).any(|at| {
                state = self.step(state, text[at]);
                self.found_at(text, at, state)
            })
        })
    }

    #[inline(always)]
    fn step(&self, state: u32, symbol: u8) -> u32 {
        self.next[(state & !OUTPUT) as usize + symbol as usize]
    }

    /// Whether a keyword or a short word ending at `at` (in `state`) counts: a short word only
    /// alone, with no word character (`\w` of the lowered text) before or after it.
    fn found_at(&self, text: &[u8], at: usize, state: u32) -> bool {
        if state & OUTPUT == 0 {
            return false;
        }
        let lengths = self.next[(state & !OUTPUT) as usize + self.stride - 1];
        lengths & 1 != 0
            || (1..32).any(|length| {
                lengths & (1 << length) != 0
                    && !(at >= length && word_symbol(text[at - length]))
                    && !text.get(at + 1).is_some_and(|&c| word_symbol(c))
            })
    }
}

/// A str's code points (any kind).
fn code_points(text: &PyString) -> PyResult<Vec<u32>> {
    // SAFETY: read while the string (held by the caller) is alive, GIL held.
    Ok(match unsafe { text.data()? } {
        PyStringData::Ucs1(chars) => chars.iter().map(|&c| c.into()).collect(),
        PyStringData::Ucs2(chars) => chars.iter().map(|&c| c.into()).collect(),
        PyStringData::Ucs4(chars) => chars.to_vec(),
    })
}

/// Whether a symbol stands for a word character: an ASCII one, a keyword's character beyond
/// ASCII (`read_unicode` checks they are), or `word`.
fn word_symbol(symbol: u8) -> bool {
    symbol.is_ascii_alphanumeric() || symbol == b'_' || symbol >= ASCII as u8
}

/// True for a disguise part in `units`, else None for a base64 run, else False; `table` gives
/// each unit's class (ASCII bytes: CLASSES; classes already: IDENTITY).
fn disguise_or_base64(units: &[u8], table: &[u8; 256]) -> Option<bool> {
    let class = |c: u8| table[c as usize];
    // every part is led by a dot, space, leet digit or joiner before a letter
    let leads = units
        .windows(2)
        .enumerate()
        .filter(|(_, pair)| (class(pair[0]) >= D) & (class(pair[1]) & (LETTER | AZ) != 0));
    for (at, pair) in leads {
        if disguise_at(units, table, at, class(pair[0])) {
            return Some(true);
        }
    }
    (!base64_run(units, table)).then_some(false)
}

/// `disguise_or_base64(text, &CLASSES)` for ASCII text, with the disguises' leads looked for 32
/// positions at a time (the compiler makes vector tests of them) by what every part needs around
/// its lead (`may_lead`): in a tool result's prose a space before a letter comes every few
/// characters, and the lookup of each pair's classes cost ~9 instructions a character.
fn ascii_disguise_or_base64(text: &[u8]) -> Option<bool> {
    let lead = |at: usize| {
        let class = CLASSES[text[at] as usize];
        class >= D
            && text
                .get(at + 1)
                .is_some_and(|&c| CLASSES[c as usize] & (LETTER | AZ) != 0)
            && disguise_at(text, &CLASSES, at, class)
    };
    let mut at = 1;
    if !text.is_empty() && lead(0) {
        return Some(true);
    }
    while at + 34 <= text.len() {
        let window: &[u8; 35] = text[at - 1..at + 34].try_into().expect("35 characters");
        let mut any = false;
        for k in 0..32 {
            any |= may_lead(window[k], window[k + 1], window[k + 2], window[k + 3]);
        }
        if any && (at..at + 32).any(lead) {
            return Some(true);
        }
        at += 32;
    }
    if (at..text.len()).any(lead) {
        return Some(true);
    }
    (!base64_run(text, &CLASSES)).then_some(false)
}

/// Whether a disguise part may have its lead `c` (`b` before it, `n` and `a` after): what
/// `disguise_at` needs at least, for ASCII, branch-free. `L.L.`/`L L `: a letter before, a letter
/// then the same character after; a leet digit: a letter after, and one before or another after
/// with no digit before; a joiner: letters on both sides.
#[inline(always)]
fn may_lead(b: u8, c: u8, n: u8, a: u8) -> bool {
    let letter = |x: u8| (x | 0x20).wrapping_sub(b'a') < 26;
    let digit = |x: u8| x.wrapping_sub(b'0') < 10;
    let spaced = ((c == b'.') | (c == b' ')) & letter(b) & letter(n) & (a == c);
    let leet = (c == b'0') | (c == b'1') | (c == b'3') | (c == b'4') | (c == b'5') | (c == b'7');
    let leet = leet & letter(n) & (letter(b) | (!digit(b) & letter(a)));
    let joiner = (c == b'-') | (c == b'*') | (c == b'+') | (c == b'|') | (c == b'~');
    spaced | leet | (joiner & letter(b) & letter(n))
}

/// Whether 16 base64 characters follow each other in `units`. Such a run holds a whole aligned
/// block of 8: only such blocks are looked around.
fn base64_run(units: &[u8], table: &[u8; 256]) -> bool {
    let base64 = |c: &&u8| table[**c as usize] & BASE64 != 0;
    units.chunks_exact(8).enumerate().any(|(index, block)| {
        block
            .iter()
            .fold(true, |all, &c| all & (table[c as usize] & BASE64 != 0))
            && {
                let start = index * 8;
                let before = units[..start].iter().rev().take_while(base64).count();
                let after = units[start + 8..].iter().take_while(base64).count();
                before + 8 + after >= 16
            }
    })
}

// A character's class (broker/guard/prefilter_tables.py builds the same for the plane): its
// flags in the low four bits, then its kind; the kinds from D on lead a disguise (one compare).
const LETTER: u8 = 1; // `[^\W\d_]`
const AZ: u8 = 2; // `[a-z]` ignoring case
const BASE64: u8 = 4; // `[a-z0-9+/]` ignoring case
const WORD: u8 = 8; // its lowering is `\w`
const KIND: u8 = 0x70;
const O: u8 = 0;
const N: u8 = 0x10; // an ASCII digit other than a leet one
const D: u8 = 0x20; // a leet digit, `[013457]`
const J: u8 = 0x30; // a joiner, `[-*+|~]`
const DOT: u8 = 0x40;
const SPACE: u8 = 0x50;

const CLASSES: [u8; 256] = {
    let mut classes = [O; 256];
    let mut byte = 0;
    while byte < ASCII {
        let c = byte as u8;
        classes[byte] = match c {
            b'a'..=b'z' | b'A'..=b'Z' => LETTER | AZ | BASE64 | WORD,
            b'0' | b'1' | b'3' | b'4' | b'5' | b'7' => D | BASE64 | WORD,
            b'2' | b'6' | b'8' | b'9' => N | BASE64 | WORD,
            b'+' => J | BASE64,
            b'-' | b'*' | b'|' | b'~' => J,
            b'/' => BASE64,
            b'_' => WORD,
            b'.' => DOT,
            b' ' => SPACE,
            _ => O,
        };
        byte += 1;
    }
    classes
};

const IDENTITY: [u8; 256] = {
    let mut identity = [0; 256];
    let mut byte = 0;
    while byte < 256 {
        identity[byte] = byte as u8;
        byte += 1;
    }
    identity
};

/// Whether one of `disguises.obfuscated_part`'s parts holds the unit at `at` (of `class`) as
/// its leading dot, space, leet digit or joiner: `L.L.L.`, `L L L ` (L a letter), `ADA`, `DAA`
/// with no A or ASCII digit before (A: `[a-z]` ignoring case), `AJA{1,12}JA{1,12}JA`.
fn disguise_at(units: &[u8], table: &[u8; 256], at: usize, class: u8) -> bool {
    let class_at = |at: usize| units.get(at).map_or(O, |&c| table[c as usize]);
    let is = |at: usize, flag: u8| class_at(at) & flag != 0;
    let before = if at == 0 { O } else { class_at(at - 1) };
    let kind = class & KIND;
    match kind {
        DOT | SPACE => {
            before & LETTER != 0
                && is(at + 1, LETTER)
                && class_at(at + 2) & KIND == kind
                && is(at + 3, LETTER)
                && class_at(at + 4) & KIND == kind
        }
        D => {
            (before & AZ != 0 && is(at + 1, AZ))
                || (before & AZ == 0
                    && !matches!(before & KIND, D | N)
                    && is(at + 1, AZ)
                    && is(at + 2, AZ))
        }
        J => before & AZ != 0 && joined(units, table, at + 1),
        _ => false,
    }
}

/// `A{1,12}JA{1,12}JA` at `at` (the runs are whole: an A cannot stand for a joiner).
fn joined(units: &[u8], table: &[u8; 256], mut at: usize) -> bool {
    let class_at = |at: usize| units.get(at).map_or(O, |&c| table[c as usize]);
    for _ in 0..2 {
        let letters = units[at.min(units.len())..]
            .iter()
            .take(13)
            .take_while(|&&c| table[c as usize] & AZ != 0)
            .count();
        if !(1..=12).contains(&letters) || class_at(at + letters) & KIND != J {
            return false;
        }
        at += letters + 1;
    }
    class_at(at) & AZ != 0
}

/// `broker.guard.injection._without_token_ids`: the text with each token's `_` and hex id taken
/// out, as `re.sub` of `broker.pii.vault.TOKEN` (`<([A-Z][A-Z0-9_]{1,39})_([0-9a-f]{8,32})>`)
/// finds them: left to right, the longest entity first. A token is all ASCII, so the text is
/// read in its code units, whatever their width.
fn without_token_ids<T: Unit>(text: &[T]) -> Cow<'_, [T]> {
    let mut out: Vec<T> = Vec::new();
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = position(&text[at..], b'<') {
        let start = at + offset;
        match token_id(text, start) {
            Some((cut, end)) => {
                out.extend_from_slice(&text[copied..cut]);
                copied = end;
                at = end + 1;
            }
            None => at = start + 1,
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.extend_from_slice(&text[copied..]);
    Cow::Owned(out)
}

/// Where `byte` first is in `text`: looked for 32 units at a time (a loop the compiler makes
/// vector instructions of), then in the block holding it. A unit at a time, the search for the
/// tokens' `<` was a fifth of the look at an ASCII text.
fn position<T: Unit>(text: &[T], byte: u8) -> Option<usize> {
    const BLOCK: usize = 32;
    let found = |block: &[T]| block.iter().position(|&c| c.ascii() == byte);
    let mut blocks = text.chunks_exact(BLOCK);
    for (index, block) in blocks.by_ref().enumerate() {
        if block
            .iter()
            .fold(false, |any, &c| any | (c.ascii() == byte))
        {
            return found(block).map(|at| index * BLOCK + at);
        }
    }
    found(blocks.remainder()).map(|at| text.len() / BLOCK * BLOCK + at)
}

/// A str's code unit (kind 1, 2 or 4), as tokens read it.
trait Unit: Copy + Into<u32> {
    /// The unit as a byte that is no ASCII class's beyond ASCII (a byte of Latin-1 text is
    /// itself: no ASCII test passes on it).
    fn ascii(self) -> u8;
}

impl Unit for u8 {
    #[inline(always)]
    fn ascii(self) -> u8 {
        self
    }
}

impl Unit for u16 {
    #[inline(always)]
    fn ascii(self) -> u8 {
        if self < ASCII as u16 {
            self as u8
        } else {
            0x80
        }
    }
}

impl Unit for u32 {
    #[inline(always)]
    fn ascii(self) -> u8 {
        if self < ASCII as u32 {
            self as u8
        } else {
            0x80
        }
    }
}

/// Where the token opening at `start` (a `<`) has its `_` before the id, and its `>`.
fn token_id<T: Unit>(text: &[T], start: usize) -> Option<(usize, usize)> {
    let at = |at: usize| text.get(at).map(|&c| c.ascii());
    if !at(start + 1)?.is_ascii_uppercase() {
        return None;
    }
    let entity = text[start + 1..]
        .iter()
        .take(41)
        .map(|&c| c.ascii())
        .take_while(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
        .count();
    // the entity is 2 to 40 characters, followed by `_`, which the entity's run holds
    (2..=entity.min(40)).rev().find_map(|length| {
        let cut = start + 1 + length;
        if at(cut) != Some(b'_') {
            return None;
        }
        let id = text[cut + 1..]
            .iter()
            .take(33)
            .map(|&c| c.ascii())
            .take_while(|&c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            .count();
        let end = cut + 1 + id;
        ((8..=32).contains(&id) && at(end) == Some(b'>')).then_some((cut, end))
    })
}
