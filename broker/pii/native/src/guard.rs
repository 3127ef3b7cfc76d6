//! The audit's prompt-injection prefilter over ASCII text: what
//! `broker.guard.injection.reference_suspect` decides, without its four passes and a Python call
//! per token and per match of a short word (~1 ms per 64 KB of masked CRM records, now ~0.13).
//! tests/guard/test_injection_native.py holds the two to the same verdicts.
//!
//! The text is read as `reference_suspect` reads it: each PII token's hex id taken out
//! (`<EMAIL_ADDRESS_3ac9f0b1>` reads `<EMAIL_ADDRESS>`), then searched for the suspect
//! keywords (the short ones only as words of their own), then for the disguises' parts by
//! character class and a run of 16 base64 characters.

use std::borrow::Cow;

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyStringData};
use pyo3::AsPyPointer;

/// The suspect keywords as a DFA over ASCII bytes, upper case read as lower case.
#[pyclass(module = "broker.pii._native")]
pub struct Prefilter {
    /// The transitions: from `state` on `byte` to `next[(state & !OUTPUT) + byte]`. A state is
    /// its row's offset (row * ALPHABET), plus OUTPUT when a keyword or a short word ends there.
    next: Vec<u32>,
    /// Whether a keyword (not a short word) ends at the row's state.
    plain: Vec<bool>,
    /// The lengths of the short words ending at the row's state (bit n: length n).
    alone: Vec<u32>,
    /// The longest keyword's length.
    longest: usize,
}

const ALPHABET: usize = 128;
const OUTPUT: u32 = 1;
const LANES: usize = 4;

struct Trie {
    next: Vec<[u32; ALPHABET]>,
    plain: Vec<bool>,
    alone: Vec<u32>,
    longest: usize,
}

impl Trie {
    fn insert(&mut self, word: &str, alone: bool) -> PyResult<()> {
        let bytes = word.as_bytes();
        if bytes.is_empty()
            || !bytes.is_ascii()
            || bytes.iter().any(u8::is_ascii_uppercase)
            || (alone && bytes.len() > 31)
        {
            return Err(PyValueError::new_err(format!(
                "not a lower-case ASCII keyword: {word:?}"
            )));
        }
        self.longest = self.longest.max(bytes.len());
        let mut state = 0usize;
        for &byte in bytes {
            let child = self.next[state][byte as usize];
            state = if child == 0 {
                self.next.push([0; ALPHABET]);
                self.plain.push(false);
                self.alone.push(0);
                let added = self.next.len() - 1;
                self.next[state][byte as usize] = added as u32;
                added
            } else {
                child as usize
            };
        }
        if alone {
            self.alone[state] |= 1 << bytes.len();
        } else {
            self.plain[state] = true;
        }
        Ok(())
    }

    /// Aho-Corasick's failure links folded into the transitions (a DFA), each state's outputs
    /// joined with those of its longest proper suffix: every overlapping match is seen.
    fn into_prefilter(mut self) -> Prefilter {
        let mut fail = vec![0u32; self.next.len()];
        let mut queue: Vec<usize> = Vec::with_capacity(self.next.len());
        for byte in 0..ALPHABET {
            let child = self.next[0][byte];
            if child != 0 {
                queue.push(child as usize);
            }
        }
        let mut head = 0;
        while head < queue.len() {
            let state = queue[head];
            head += 1;
            let back = fail[state] as usize;
            self.plain[state] |= self.plain[back];
            self.alone[state] |= self.alone[back];
            for byte in 0..ALPHABET {
                let child = self.next[state][byte];
                let through = self.next[back][byte];
                if child == 0 {
                    self.next[state][byte] = through;
                } else {
                    fail[child as usize] = through;
                    queue.push(child as usize);
                }
            }
        }
        for row in &mut self.next {
            for upper in b'A'..=b'Z' {
                row[upper as usize] = row[upper.to_ascii_lowercase() as usize];
            }
        }
        let state = |row: u32| {
            let output = self.plain[row as usize] || self.alone[row as usize] != 0;
            row * ALPHABET as u32 + if output { OUTPUT } else { 0 }
        };
        Prefilter {
            next: self.next.concat().into_iter().map(state).collect(),
            plain: self.plain,
            alone: self.alone,
            longest: self.longest,
        }
    }
}

#[pymethods]
impl Prefilter {
    /// The DFA of `words` (anywhere) and `alone` (only as words of their own), lower-case ASCII.
    #[new]
    fn new(words: Vec<&str>, alone: Vec<&str>) -> PyResult<Self> {
        let mut trie = Trie {
            next: vec![[0; ALPHABET]],
            plain: vec![false],
            alone: vec![0],
            longest: 1,
        };
        for word in words {
            trie.insert(word, false)?;
        }
        for word in alone {
            trie.insert(word, true)?;
        }
        Ok(trie.into_prefilter())
    }

    /// `reference_suspect(text)` for ASCII `text`: True (a keyword or a disguise), False
    /// (neither, nor a base64 run), None (only a base64 run: its decoding is Python's to read).
    fn suspect(&self, text: &PyString) -> PyResult<Option<bool>> {
        // SAFETY: the data is read while the string (held by the caller) is alive, GIL held.
        let data = unsafe { text.data()? };
        let ascii = unsafe { ffi::PyUnicode_IS_ASCII(text.as_ptr()) != 0 };
        match data {
            PyStringData::Ucs1(bytes) if ascii => Ok(self.verdict(&without_token_ids(bytes))),
            _ => Err(PyValueError::new_err(
                "the native prefilter reads ASCII text only",
            )),
        }
    }
}

impl Prefilter {
    fn verdict(&self, text: &[u8]) -> Option<bool> {
        if self.keyword_in(text) {
            return Some(true);
        }
        disguise_or_base64(text)
    }

    /// Whether a keyword is in `text`. A run of the DFA waits on each transition's load, so it
    /// runs over LANES parts of the text at once, each from the longest keyword's length before
    /// its part (a keyword across two parts is seen whole in the second).
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
    fn step(&self, state: u32, byte: u8) -> u32 {
        self.next[(state & !OUTPUT) as usize + byte as usize]
    }

    /// Whether a keyword or a short word ending at `at` (in `state`) counts: a short word only
    /// alone, with no word character (`\w` in ASCII) before or after it.
    fn found_at(&self, text: &[u8], at: usize, state: u32) -> bool {
        if state & OUTPUT == 0 {
            return false;
        }
        let row = state as usize / ALPHABET;
        let lengths = self.alone[row];
        self.plain[row]
            || (1..32).any(|length| {
                lengths & (1 << length) != 0
                    && !(at >= length && word_char(text[at - length]))
                    && !text.get(at + 1).is_some_and(|&c| word_char(c))
            })
    }
}

/// True for a disguise part in `text`, else None for a base64 run, else False.
fn disguise_or_base64(text: &[u8]) -> Option<bool> {
    // every part is led by a dot, space, leet digit or joiner before a letter
    let leads = text
        .windows(2)
        .enumerate()
        .filter(|(_, pair)| (CLASSES[pair[0] as usize] >= D) & (CLASSES[pair[1] as usize] == L));
    for (at, pair) in leads {
        if disguise_at(text, at, CLASSES[pair[0] as usize]) {
            return Some(true);
        }
    }
    (!base64_run(text)).then_some(false)
}

/// Whether 16 base64 characters follow each other in `text`. Such a run holds a whole aligned
/// block of 8: only such blocks are looked around.
fn base64_run(text: &[u8]) -> bool {
    let base64 = |c: &&u8| BASE64[**c as usize];
    text.chunks_exact(8).enumerate().any(|(index, block)| {
        block.iter().fold(true, |all, &c| all & BASE64[c as usize]) && {
            let start = index * 8;
            let before = text[..start].iter().rev().take_while(base64).count();
            let after = text[start + 8..].iter().take_while(base64).count();
            before + 8 + after >= 16
        }
    })
}

fn word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

// The classes of `broker.guard.disguises._CLASSES`; those from D on lead a disguise.
const O: u8 = 0;
const L: u8 = 1;
const N: u8 = 2; // a digit other than a leet one
const D: u8 = 3; // a leet digit
const J: u8 = 4; // a joiner
const DOT: u8 = 5;
const SPACE: u8 = 6;

const CLASSES: [u8; 256] = {
    let mut classes = [O; 256];
    let mut byte = 0;
    while byte < 128 {
        let c = byte as u8;
        classes[byte] = match c {
            b'a'..=b'z' | b'A'..=b'Z' => L,
            b'0' | b'1' | b'3' | b'4' | b'5' | b'7' => D,
            b'2' | b'6' | b'8' | b'9' => N,
            b'-' | b'*' | b'+' | b'|' | b'~' => J,
            b'.' => DOT,
            b' ' => SPACE,
            _ => O,
        };
        byte += 1;
    }
    classes
};

const BASE64: [bool; 256] = {
    let mut base64 = [false; 256];
    let mut byte = 0;
    while byte < 128 {
        let c = byte as u8;
        base64[byte] = c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
        byte += 1;
    }
    base64
};

fn class_at(text: &[u8], at: usize) -> u8 {
    text.get(at).map_or(O, |&c| CLASSES[c as usize])
}

/// Whether one of `disguises.obfuscated_part`'s parts holds the byte at `at` (of `class`) as its
/// leading dot, space, leet digit or joiner: `L.L.L.`, `L L L `, `LDL`, `DLL` with no letter or
/// digit before, `LJL{1,12}JL{1,12}JL`.
fn disguise_at(text: &[u8], at: usize, class: u8) -> bool {
    let before = if at == 0 { O } else { class_at(text, at - 1) };
    match class {
        DOT | SPACE => {
            before == L
                && class_at(text, at + 1) == L
                && class_at(text, at + 2) == class
                && class_at(text, at + 3) == L
                && class_at(text, at + 4) == class
        }
        D => {
            (before == L && class_at(text, at + 1) == L)
                || (!matches!(before, L | D | N)
                    && class_at(text, at + 1) == L
                    && class_at(text, at + 2) == L)
        }
        J => before == L && joined(text, at + 1),
        _ => false,
    }
}

/// `L{1,12}JL{1,12}JL` at `at` (the letters' runs are whole: a letter cannot stand for a joiner).
fn joined(text: &[u8], mut at: usize) -> bool {
    for _ in 0..2 {
        let letters = text[at.min(text.len())..]
            .iter()
            .take(13)
            .take_while(|&&c| CLASSES[c as usize] == L)
            .count();
        if !(1..=12).contains(&letters) || class_at(text, at + letters) != J {
            return false;
        }
        at += letters + 1;
    }
    class_at(text, at) == L
}

/// `broker.guard.injection._without_token_ids`: the text with each token's `_` and hex id taken
/// out, as `re.sub` of `broker.pii.vault.TOKEN` (`<([A-Z][A-Z0-9_]{1,39})_([0-9a-f]{8,32})>`)
/// finds them: left to right, the longest entity first.
fn without_token_ids(text: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Vec<u8> = Vec::new();
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = text[at..].iter().position(|&c| c == b'<') {
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

/// Where the token opening at `start` (a `<`) has its `_` before the id, and its `>`.
fn token_id(text: &[u8], start: usize) -> Option<(usize, usize)> {
    if !text.get(start + 1)?.is_ascii_uppercase() {
        return None;
    }
    let entity = text[start + 1..]
        .iter()
        .take(41)
        .take_while(|&&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
        .count();
    // the entity is 2 to 40 characters, followed by `_`, which the entity's run holds
    (2..=entity.min(40)).rev().find_map(|length| {
        let cut = start + 1 + length;
        if text.get(cut) != Some(&b'_') {
            return None;
        }
        let id = text[cut + 1..]
            .iter()
            .take(33)
            .take_while(|&&c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            .count();
        let end = cut + 1 + id;
        ((8..=32).contains(&id) && text.get(end) == Some(&b'>')).then_some((cut, end))
    })
}
