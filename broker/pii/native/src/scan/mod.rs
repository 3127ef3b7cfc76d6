//! A big JSON result masked from its text, without the Python document: `scan_json` reads the
//! text (in Python's own storage of it: 1, 2 or 4 bytes a character), gathers what the walk of
//! broker/pii/structure.py gathers (`Collected`: texts, keys, slots, key slots, values masked
//! whole) and keeps each value's span; `emit_json` then writes the masked document as
//! `jsontext.serialise` writes the parsed-and-masked one (orjson's text: compact, or indented by
//! 2), taking the text's own spans where nothing changed.
//!
//! The reference is the Python path (`json.loads`, `collect`, the write-back, `orjson.dumps`):
//! whatever would make this path's text differ from it is declined here (None) and goes there.
//! Declined: anything `json.loads` refuses; NaN and infinities; exponents; integers of more than
//! 18 digits and "-0"; floats whose Python repr is not their text (or outside [1e-4, 1e16), where
//! orjson's and repr's forms part); escaped or raw lone surrogates (and raw surrogates at all);
//! duplicate keys in an object; a top level that is no object or array; nesting deeper than
//! `DEEPEST`. tests/pii/test_native_scan.py holds the two paths to the same output.
//!
//! This file is the tokeniser: one strict pass over the text (RFC 8259 as `json.loads` reads it)
//! into a flat list of events; gather.rs walks the events with the field rules, emit.rs writes.

mod emit;
mod gather;

pub use emit::emit_json;
pub use gather::{scan_json, Scan};

/// Containers nested deeper than this are declined (the Python path decides).
const DEEPEST: usize = 256;

pub(crate) const OBJECT: u8 = 0;
pub(crate) const ARRAY: u8 = 1;
pub(crate) const CLOSE: u8 = 2;
pub(crate) const KEY: u8 = 3;
pub(crate) const STRING: u8 = 4;
pub(crate) const INT: u8 = 5;
pub(crate) const FLOAT: u8 = 6;
pub(crate) const LITERAL: u8 = 7;

/// One token of the document, in order.
///
/// Strings and keys: `start..end` is what lies between the quotes, `escaped` whether a backslash
/// is in it. Numbers and literals: their text. Containers: `extra` is how many items they hold
/// and `up` the index of their CLOSE. Keys: `extra` is the key's number (equal keys, equal
/// numbers) and `up` the index of their object's event.
#[derive(Clone, Copy)]
pub(crate) struct Event {
    pub kind: u8,
    pub escaped: bool,
    pub start: u32,
    pub end: u32,
    pub extra: u32,
    pub up: u32,
}

/// FxHash's step: the keys hashed are a document's own, short, and many.
#[inline]
pub(crate) fn mix(hash: u64, n: u64) -> u64 {
    (hash.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
}

/// A tokenised document: its events and its distinct keys (decoded, by number).
pub(crate) struct Tokens {
    pub events: Vec<Event>,
    pub keys: Vec<Box<[u32]>>,
}

/// The keys met so far, by their characters: an open-addressing table of (hash, number), the
/// characters compared in the text's own width (a key is decoded only where it has escapes).
#[derive(Default)]
struct Names {
    slots: Vec<(u64, u32)>,
    used: usize,
}

impl Names {
    fn hash<T: Copy + Into<u32>>(chars: &[T]) -> u64 {
        let hash = chars
            .iter()
            .fold(chars.len() as u64, |h, &c| mix(h, c.into() as u64));
        hash | 1 // (0 marks an empty slot)
    }

    /// The number of the key `chars`, numbered next (and kept in `keys`) where new.
    fn number<T: Copy + Into<u32>>(&mut self, chars: &[T], keys: &mut Vec<Box<[u32]>>) -> u32 {
        if self.used * 2 >= self.slots.len() {
            self.grow();
        }
        let hash = Self::hash(chars);
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        loop {
            let (seen, number) = self.slots[at];
            if seen == 0 {
                break;
            }
            if seen == hash {
                let name = &keys[number as usize];
                if name.len() == chars.len() && name.iter().zip(chars).all(|(&a, &b)| a == b.into())
                {
                    return number;
                }
            }
            at = (at + 1) & mask;
        }
        let number = keys.len() as u32;
        keys.push(chars.iter().map(|&c| c.into()).collect());
        self.slots[at] = (hash, number);
        self.used += 1;
        number
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(64);
        let old = std::mem::replace(&mut self.slots, vec![(0, 0); size]);
        for (hash, number) in old.into_iter().filter(|&(hash, _)| hash != 0) {
            let mut at = hash as usize & (size - 1);
            while self.slots[at].0 != 0 {
                at = (at + 1) & (size - 1);
            }
            self.slots[at] = (hash, number);
        }
    }
}

/// What the tokeniser makes of a number's text.
enum Number {
    Int,
    Float,
    Declined,
}

/// The strict tokeniser over a text's characters.
/// A character of Python's storage of a text (1, 2 or 4 bytes).
pub(crate) trait Unit: Copy + Into<u32> {
    /// Where the run of plain string characters from `at` ends: at the first quote, backslash,
    /// control character or surrogate (or the end).
    fn plain(s: &[Self], at: usize) -> usize {
        let mut at = at;
        while let Some(&c) = s.get(at) {
            let c: u32 = c.into();
            if c == 0x22 || c == 0x5c || c < 0x20 || (0xd800..0xe000).contains(&c) {
                break;
            }
            at += 1;
        }
        at
    }
}

impl Unit for u16 {}
impl Unit for u32 {}

impl Unit for u8 {
    /// Eight characters a step while none of them ends the run.
    fn plain(s: &[u8], at: usize) -> usize {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let below = |word: u64, n: u64| word.wrapping_sub(n * ONES) & !word & HIGH;
        let mut at = at;
        while let Some(chunk) = s.get(at..at + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            if below(word ^ (0x22 * ONES), 1) | below(word ^ (0x5c * ONES), 1) | below(word, 0x20)
                != 0
            {
                break;
            }
            at += 8;
        }
        while let Some(&c) = s.get(at) {
            if c == 0x22 || c == 0x5c || c < 0x20 {
                break;
            }
            at += 1;
        }
        at
    }
}

struct Tokeniser<'a, T> {
    s: &'a [T],
    at: usize,
    events: Vec<Event>,
    keys: Vec<Box<[u32]>>,
    names: Names,
    /// The key numbers of the objects open, innermost last.
    open_keys: Vec<u32>,
    decoded: Vec<u32>,
}

#[inline]
fn hex(c: u32) -> Option<u32> {
    char::from_u32(c).and_then(|c| c.to_digit(16))
}

impl<'a, T: Unit> Tokeniser<'a, T> {
    #[inline]
    fn peek(&self) -> Option<u32> {
        self.s.get(self.at).map(|&c| c.into())
    }

    #[inline]
    fn space(&mut self) {
        while let Some(c) = self.peek() {
            if c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09 {
                self.at += 1;
            } else {
                break;
            }
        }
    }

    /// The four hex digits of a `\u` escape at `at` (after the `u`).
    fn unit(&self, at: usize) -> Option<u32> {
        let mut value = 0;
        for k in 0..4 {
            value = value * 16 + hex((*self.s.get(at + k)?).into())?;
        }
        Some(value)
    }

    /// A string from after its opening quote: (start, end, escaped), `at` past the closing quote.
    fn string(&mut self) -> Option<(u32, u32, bool)> {
        let start = self.at;
        let mut escaped = false;
        loop {
            self.at = T::plain(self.s, self.at);
            let c = self.peek()?;
            if c == 0x22 {
                break;
            }
            if c < 0x20 || (0xd800..0xe000).contains(&c) {
                return None; // a control character (json.loads is strict) or a raw surrogate
            }
            if c == 0x5c {
                escaped = true;
                let e = self.s.get(self.at + 1).map(|&c| c.into())?;
                match e {
                    0x22 | 0x5c | 0x2f | 0x62 | 0x66 | 0x6e | 0x72 | 0x74 => self.at += 2,
                    0x75 => {
                        let unit = self.unit(self.at + 2)?;
                        self.at += 6;
                        if (0xdc00..0xe000).contains(&unit) {
                            return None; // a lone low surrogate
                        }
                        if (0xd800..0xdc00).contains(&unit) {
                            // only a pair is taken
                            let next: u32 = (*self.s.get(self.at + 1)?).into();
                            if self.peek()? != 0x5c || next != 0x75 {
                                return None;
                            }
                            let low = self.unit(self.at + 2)?;
                            if !(0xdc00..0xe000).contains(&low) {
                                return None;
                            }
                            self.at += 6;
                        }
                    }
                    _ => return None,
                }
                continue;
            }
            self.at += 1;
        }
        let end = self.at;
        self.at += 1;
        Some((start as u32, end as u32, escaped))
    }

    /// A number's text from `at`: what `json.loads` makes of it, `at` past it.
    fn number(&mut self) -> Option<Number> {
        let start = self.at;
        if self.peek() == Some(0x2d) {
            self.at += 1;
        }
        let digits = self.at;
        match self.peek()? {
            0x30 => self.at += 1,
            0x31..=0x39 => {
                while matches!(self.peek(), Some(0x30..=0x39)) {
                    self.at += 1;
                }
            }
            _ => return None,
        }
        let whole = self.at - digits;
        let mut fraction = false;
        if self.peek() == Some(0x2e) {
            self.at += 1;
            let first = self.at;
            while matches!(self.peek(), Some(0x30..=0x39)) {
                self.at += 1;
            }
            if self.at == first {
                return None;
            }
            fraction = true;
        }
        if matches!(self.peek(), Some(0x65 | 0x45)) {
            return Some(Number::Declined); // an exponent: Python's form of it is not the text's
        }
        let text: String = self.s[start..self.at]
            .iter()
            .map(|&c| char::from_u32(c.into()).unwrap_or('?'))
            .collect();
        if !fraction {
            return Some(if whole > 18 || text == "-0" {
                Number::Declined
            } else {
                Number::Int
            });
        }
        Some(if float_as_written(&text) {
            Number::Float
        } else {
            Number::Declined
        })
    }

    /// A literal's text at `at`, `at` past it.
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        for &b in word {
            if self.peek()? != b as u32 {
                return None;
            }
            self.at += 1;
        }
        Some(())
    }

    /// The number of a key (between `start` and `end`), a new one for a key not met before.
    fn key_number(&mut self, start: usize, end: usize, escaped: bool) -> u32 {
        if escaped {
            let mut decoded = std::mem::take(&mut self.decoded);
            decoded.clear();
            decode_into(&self.s[start..end], &mut decoded);
            let number = self.names.number(&decoded, &mut self.keys);
            self.decoded = decoded;
            number
        } else {
            self.names.number(&self.s[start..end], &mut self.keys)
        }
    }

    fn push(&mut self, kind: u8, start: u32, end: u32, escaped: bool, extra: u32, up: u32) {
        self.events.push(Event {
            kind,
            escaped,
            start,
            end,
            extra,
            up,
        });
    }

    /// The whole document, or None where the Python path is to decide.
    fn document(mut self) -> Option<Tokens> {
        if self.s.len() >= u32::MAX as usize / 2 {
            return None;
        }
        // Open containers: (their event, whether an object, items so far, where their keys start).
        let mut open: Vec<(usize, bool, u32, usize)> = Vec::new();
        self.space();
        if !matches!(self.peek()?, 0x7b | 0x5b) {
            return None; // (the masker takes only objects and arrays as documents)
        }
        loop {
            // A value.
            self.space();
            let at = self.at as u32;
            match self.peek()? {
                0x7b | 0x5b => {
                    let object = self.peek()? == 0x7b;
                    if open.len() >= DEEPEST {
                        return None;
                    }
                    let up = open.last().map_or(u32::MAX, |o| o.0 as u32);
                    open.push((self.events.len(), object, 0, self.open_keys.len()));
                    self.push(if object { OBJECT } else { ARRAY }, at, at, false, 0, up);
                    self.at += 1;
                    self.space();
                    let close = if object { 0x7d } else { 0x5d };
                    if self.peek()? == close {
                        self.at += 1;
                        self.close(&mut open)?;
                    } else if object {
                        self.key(&open)?;
                        continue;
                    } else {
                        continue;
                    }
                }
                0x22 => {
                    self.at += 1;
                    let (start, end, escaped) = self.string()?;
                    self.push(STRING, start, end, escaped, 0, 0);
                }
                0x2d | 0x30..=0x39 => {
                    let kind = match self.number()? {
                        Number::Int => INT,
                        Number::Float => FLOAT,
                        Number::Declined => return None,
                    };
                    self.push(kind, at, self.at as u32, false, 0, 0);
                }
                0x74 => {
                    self.literal(b"true")?;
                    self.push(LITERAL, at, self.at as u32, false, 0, 0);
                }
                0x66 => {
                    self.literal(b"false")?;
                    self.push(LITERAL, at, self.at as u32, false, 0, 0);
                }
                0x6e => {
                    self.literal(b"null")?;
                    self.push(LITERAL, at, self.at as u32, false, 0, 0);
                }
                _ => return None,
            }
            // After a value: the next item, or closes.
            loop {
                let Some(&(_, object, _, _)) = open.last() else {
                    self.space();
                    return if self.at == self.s.len() {
                        Some(Tokens {
                            events: self.events,
                            keys: self.keys,
                        })
                    } else {
                        None // extra data
                    };
                };
                if let Some(top) = open.last_mut() {
                    top.2 += 1;
                }
                self.space();
                match self.peek()? {
                    0x2c => {
                        self.at += 1;
                        if object {
                            self.space();
                            self.key(&open)?;
                        }
                        break;
                    }
                    0x7d if object => {
                        self.at += 1;
                        self.close(&mut open)?;
                    }
                    0x5d if !object => {
                        self.at += 1;
                        self.close(&mut open)?;
                    }
                    _ => return None,
                }
            }
        }
    }

    /// A key and its colon, `at` at its opening quote.
    fn key(&mut self, open: &[(usize, bool, u32, usize)]) -> Option<()> {
        if self.peek()? != 0x22 {
            return None;
        }
        self.at += 1;
        let (start, end, escaped) = self.string()?;
        let number = self.key_number(start as usize, end as usize, escaped);
        self.open_keys.push(number);
        let up = open.last()?.0 as u32;
        self.push(KEY, start, end, escaped, number, up);
        self.space();
        if self.peek()? != 0x3a {
            return None;
        }
        self.at += 1;
        Some(())
    }

    /// The innermost container closed (`at` past its bracket): its size and close noted, its
    /// keys checked for duplicates (declined: `json.loads` keeps the last value at the first place).
    fn close(&mut self, open: &mut Vec<(usize, bool, u32, usize)>) -> Option<()> {
        let (event, object, items, keys_from) = open.pop()?;
        // (the item just closed is counted by the caller's loop, not here)
        let close = self.events.len() as u32;
        self.push(
            CLOSE,
            self.at as u32 - 1,
            self.at as u32,
            false,
            0,
            event as u32,
        );
        let opened = &mut self.events[event];
        opened.extra = items;
        opened.up = close;
        if object {
            let keys = &mut self.open_keys[keys_from..];
            if keys.len() <= 16 {
                for i in 1..keys.len() {
                    if keys[..i].contains(&keys[i]) {
                        return None;
                    }
                }
            } else {
                keys.sort_unstable();
                if keys.windows(2).any(|w| w[0] == w[1]) {
                    return None;
                }
            }
            self.open_keys.truncate(keys_from);
        }
        Some(())
    }
}

/// Whether `json.loads` reads this float's text (`-?digits.digits`) as a float whose Python repr
/// (and orjson's text) is that text again.
fn float_as_written(text: &str) -> bool {
    let Ok(value) = text.parse::<f64>() else {
        return false;
    };
    if value == 0.0 {
        return text == "0.0";
    }
    let size = value.abs();
    if !(1e-4..1e16).contains(&size) {
        return false;
    }
    let mut shortest = format!("{value}");
    if !shortest.contains('.') {
        shortest.push_str(".0");
    }
    shortest == text
}

/// A string's content (between its quotes, escapes valid as the tokeniser checked them) decoded.
pub(crate) fn decode_into<T: Copy + Into<u32>>(s: &[T], out: &mut Vec<u32>) {
    let mut i = 0;
    while i < s.len() {
        let c: u32 = s[i].into();
        if c != 0x5c {
            out.push(c);
            i += 1;
            continue;
        }
        let e: u32 = s[i + 1].into();
        i += 2;
        out.push(match e {
            0x62 => 0x08,
            0x66 => 0x0c,
            0x6e => 0x0a,
            0x72 => 0x0d,
            0x74 => 0x09,
            0x75 => {
                let unit = unit_at(s, i);
                i += 4;
                if (0xd800..0xdc00).contains(&unit) {
                    let low = unit_at(s, i + 2);
                    i += 6;
                    0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
                } else {
                    unit
                }
            }
            other => other, // " \ /
        });
    }
}

fn unit_at<T: Copy + Into<u32>>(s: &[T], at: usize) -> u32 {
    s[at..at + 4]
        .iter()
        .fold(0, |v, &c| v * 16 + hex(c.into()).unwrap_or(0))
}

/// The events of a text, or None where the Python path is to decide.
pub(crate) fn tokenise<T: Unit>(s: &[T]) -> Option<Tokens> {
    Tokeniser {
        s,
        at: 0,
        events: Vec::with_capacity(s.len() / 16),
        keys: Vec::new(),
        names: Names::default(),
        open_keys: Vec::new(),
        decoded: Vec::new(),
    }
    .document()
}
