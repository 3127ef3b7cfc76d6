//! The number finder's decisions that need no Python: broker/pii/recognizers_number.py's
//! `find_numbers` over the digit runs of `runs.rs`, for the runs whose outcome is certain here.
//!
//! Decided here: a run glued to a code before it (`_GLUED_BEFORE`), bare digits opening a value
//! under a key that names no PII (`Scan.key_is_negative`), runs starting with '+' (the country
//! code and national length test of `phones._international`), and runs that are a whole string value
//! (nothing before them for context words, nothing after for an amount: only the key counts),
//! through `phones.phone_score` with its shapes. Python is asked back for what it alone knows (key verdicts,
//! phonenumbers' lengths per country code, `credit_card_ok`, `phones.valid_somewhere`), and every
//! other run (text around it, an SSN's shape, a valid card number, a run to split) is handed
//! back whole to the unchanged Python per-run code. tests/pii/test_native_numbers.py holds the
//! two to the same findings.

use crate::chars::{digit_value, is_digit, is_word};
use crate::pyobj::{owned, Owned};
use crate::text::Text;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyStringData};
use pyo3::AsPyPointer;

/// Which entities are asked for (bits of `entities`).
const CARD: u32 = 1;
const SSN: u32 = 2;
const PHONE: u32 = 4;
/// What a key names (bits of `judge_key`'s answer): `Scan.key_is_negative`, `Scan.key_is_phone`.
const NEGATIVE_KEY: i64 = 1;
const PHONE_KEY: i64 = 2;

/// What the Python side knows and memoises: see `find_numbers` in recognizers_number.py.
struct Facts<'py> {
    py: Python<'py>,
    text: &'py PyString,
    /// `Scan._starts` and `Scan._keys` as lists.
    starts: &'py PyList,
    keys: &'py PyList,
    /// Raw key -> its bits (`NEGATIVE_KEY`, `PHONE_KEY`), filled by `judge_key` on a miss.
    kinds: &'py PyDict,
    judge_key: &'py PyAny,
    /// Country code (0-999) -> bit mask of the national lengths possible after it, -1 until
    /// `judge_code` has filled it.
    codes: &'py PyList,
    judge_code: &'py PyAny,
    /// `credit_card_ok(run)` and `phones.valid_somewhere(digits)`.
    card_ok: &'py PyAny,
    valid_somewhere: &'py PyAny,
    entities: u32,
}

/// The findings decided here, and the spans of the runs left to Python.
type Decided = (Vec<PyObject>, Vec<(usize, usize)>);

/// What becomes of one run.
enum Verdict {
    Drop,
    Phone(f64),
}

/// Not decided here: the run goes to Python (a C API failure is cleared first).
struct Unknown;

type Known<T> = Result<T, Unknown>;

unsafe fn known<T>(value: T, failed: bool) -> Known<T> {
    if failed && !ffi::PyErr_Occurred().is_null() {
        ffi::PyErr_Clear();
        return Err(Unknown);
    }
    Ok(value)
}

/// `callable(argument)`: a new reference, or null with the exception set. (Not through PyO3
/// 0.17's inline one-argument vectorcall, which asserts on callables without vectorcall.)
unsafe fn call_one(
    callable: *mut ffi::PyObject,
    argument: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let arguments = ffi::PyTuple_Pack(1, argument);
    if arguments.is_null() {
        return arguments;
    }
    let arguments = Owned(arguments);
    ffi::PyObject_Call(callable, arguments.0, std::ptr::null_mut())
}

/// `callable(argument)`'s truth, the new `argument` dropped after.
unsafe fn truth(callable: &PyAny, argument: *mut ffi::PyObject) -> Known<bool> {
    let argument = Owned(argument);
    known((), argument.0.is_null())?;
    let answer = call_one(callable.as_ptr(), argument.0);
    known((), answer.is_null())?;
    let answer = Owned(answer);
    let truth = ffi::PyObject_IsTrue(answer.0);
    known(truth == 1, truth < 0)
}

impl Facts<'_> {
    /// `bisect.bisect_right(starts, position)`, probing as `bisect` does.
    fn bisect_right(&self, position: isize) -> Known<isize> {
        let list = self.starts.as_ptr();
        // SAFETY: GIL held; items are borrowed from a list no Python code runs against meanwhile.
        unsafe {
            let (mut low, mut high) = (0, ffi::PyList_GET_SIZE(list));
            while low < high {
                let middle = (low + high) / 2;
                let item = ffi::PyList_GET_ITEM(list, middle);
                if ffi::PyLong_CheckExact(item) == 0 {
                    return Err(Unknown);
                }
                let value = ffi::PyLong_AsSsize_t(item);
                let value = known(value, value == -1)?;
                if position < value {
                    high = middle;
                } else {
                    low = middle + 1;
                }
            }
            Ok(low)
        }
    }

    /// The bits of the key of the string holding `position`, as `Scan.key` finds that key.
    fn key_kinds(&self, position: usize) -> Known<i64> {
        let keys = self.keys.as_ptr();
        // SAFETY: GIL held; `key` is held while `judge_key` runs, and the dictionary holds its
        // own references once an item is stored.
        unsafe {
            let count = ffi::PyList_GET_SIZE(keys);
            if count == 0 {
                return Ok(0);
            }
            let index = self.bisect_right(position as isize)? - 1;
            if index < 0 {
                return Ok(0);
            }
            if index >= count {
                return Err(Unknown); // (an IndexError in Python)
            }
            let key = Owned::from_borrowed(ffi::PyList_GET_ITEM(keys, index));
            if key.0 == ffi::Py_None() {
                return Ok(0);
            }
            let memo = self.kinds.as_ptr();
            let mut kinds = ffi::PyDict_GetItemWithError(memo, key.0);
            let _judged: Owned;
            if kinds.is_null() {
                known((), true)?; // (an unhashable key)
                let judged = call_one(self.judge_key.as_ptr(), key.0);
                known((), judged.is_null())?;
                _judged = Owned(judged);
                if ffi::PyDict_SetItem(memo, key.0, judged) < 0 {
                    known((), true)?;
                }
                kinds = judged;
            }
            let bits = ffi::PyLong_AsLongLong(kinds);
            known(bits, bits == -1)
        }
    }

    /// The bit mask of national lengths after `code` (bit n: length n possible).
    fn lengths(&self, code: u32) -> Known<u64> {
        let codes = self.codes.as_ptr();
        // SAFETY: GIL held; the list's items are read and replaced through the C API only.
        unsafe {
            let at = code as isize;
            if at >= ffi::PyList_GET_SIZE(codes) {
                return Err(Unknown);
            }
            let mut mask = ffi::PyLong_AsLongLong(ffi::PyList_GET_ITEM(codes, at));
            mask = known(mask, mask == -1)?;
            if mask < 0 {
                let number =
                    owned(self.py, ffi::PyLong_FromLong(code as _)).map_err(|_| Unknown)?;
                let judged = call_one(self.judge_code.as_ptr(), number.0);
                known((), judged.is_null())?;
                let judged = Owned(judged);
                mask = ffi::PyLong_AsLongLong(judged.0);
                mask = known(mask, mask == -1)?;
                if mask < 0 {
                    return Err(Unknown);
                }
                if ffi::PyList_SetItem(codes, at, judged.into_ptr()) < 0 {
                    known((), true)?;
                }
            }
            Ok(mask as u64)
        }
    }

    /// `credit_card_ok(text[start:end])`.
    fn card_ok(&self, start: usize, end: usize) -> Known<bool> {
        // SAFETY: GIL held; the substring is a new string.
        unsafe {
            let run = ffi::PyUnicode_Substring(self.text.as_ptr(), start as isize, end as isize);
            truth(self.card_ok, run)
        }
    }

    /// `phones.valid_somewhere(digits)`, the digits given as characters.
    fn valid_somewhere(&self, digits: &[u32]) -> Known<bool> {
        // SAFETY: GIL held; the string is built from a buffer of `digits.len()` UCS4 characters.
        unsafe {
            let digits = ffi::PyUnicode_FromKindAndData(
                ffi::PyUnicode_4BYTE_KIND as _,
                digits.as_ptr().cast(),
                digits.len() as isize,
            );
            truth(self.valid_somewhere, digits)
        }
    }

    /// `phones._international(digits)` for the digits' characters `chars` and values `values`.
    fn international(&self, chars: &[u32], values: &[u32]) -> Known<f64> {
        let count = values.len();
        let mut code = 0;
        for size in 1..=3.min(count) {
            code = code * 10 + values[size - 1];
            let lengths = self.lengths(code)?;
            if lengths != 0 {
                let national = count - size;
                let possible = |n: usize| n < 64 && lengths & (1 << n) != 0;
                let trunk = chars.get(size) == Some(&('0' as u32)) && national >= 1;
                if possible(national) || (trunk && possible(national - 1)) {
                    return Ok(0.9); // (a '(0)' trunk left in: +44 (0)20 7946 0958)
                }
                return Ok(if (8..=15).contains(&count) { 0.6 } else { 0.0 });
            }
        }
        Ok(0.0)
    }
}

/// `c` is the ASCII character `ascii`.
fn is(c: Option<&u32>, ascii: char) -> bool {
    c == Some(&(ascii as u32))
}

/// The lengths of the digit groups of `main` between single separators, and the separators, if
/// `main` is laid out so (no space, no parenthesis, no two separators in a row).
fn dashed(main: &[u32]) -> Option<(Vec<usize>, Vec<u32>)> {
    let mut lengths = vec![0];
    let mut separators = Vec::new();
    for &c in main {
        if is_digit(c) {
            *lengths.last_mut()? += 1;
        } else if matches!(char::from_u32(c), Some('-' | '/' | '.')) && *lengths.last()? > 0 {
            lengths.push(0);
            separators.push(c);
        } else {
            return None;
        }
    }
    (*lengths.last()? > 0).then_some((lengths, separators))
}

/// `_DATE.fullmatch(main)`: `\d{4}([-/.])\d{1,2}\1\d{1,2}|\d{1,2}([-/.])\d{1,2}\2\d{2,4}`.
fn date(main: &[u32]) -> bool {
    let Some((lengths, separators)) = dashed(main) else {
        return false;
    };
    let within = |n: usize, low: usize, high: usize| (low..=high).contains(&n);
    lengths.len() == 3
        && separators[0] == separators[1]
        && ((lengths[0] == 4 && within(lengths[1], 1, 2) && within(lengths[2], 1, 2))
            || (within(lengths[0], 1, 2) && within(lengths[1], 1, 2) && within(lengths[2], 2, 4)))
}

/// `_ISO_DATE.match(main)`: `\d{4}-\d{2}-\d{2}\b` at its start.
fn iso_date(main: &[u32]) -> bool {
    let digit = |i: usize| main.get(i).is_some_and(|&c| is_digit(c));
    main.len() >= 10
        && (0..4).all(digit)
        && is(main.get(4), '-')
        && (5..7).all(digit)
        && is(main.get(7), '-')
        && (8..10).all(digit)
        && !main.get(10).is_some_and(|&c| is_word(c))
}

/// `_ZIP4.fullmatch(main)`: `\d{5}-\d{4}`.
fn zip4(main: &[u32]) -> bool {
    matches!(dashed(main), Some((lengths, separators)) if lengths == [5, 4] && separators == ['-' as u32])
}

/// `_SSN_SHAPE.fullmatch(run)`: `\d{3}([- .]?)\d{2}\1\d{4}`.
fn ssn_shaped(run: &[u32]) -> bool {
    let digits = |range: std::ops::Range<usize>| run[range].iter().all(|&c| is_digit(c));
    match run.len() {
        9 => digits(0..9),
        11 => {
            matches!(char::from_u32(run[3]), Some('-' | ' ' | '.'))
                && run[6] == run[3]
                && digits(0..3)
                && digits(4..6)
                && digits(7..11)
        }
        _ => false,
    }
}

/// `_ipv4_shaped(main)`: four dot-separated parts of 1 to 3 digits.
fn ipv4_shaped(main: &[u32]) -> bool {
    let parts: Vec<&[u32]> = main.split(|&c| c == '.' as u32).collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.iter().all(|&c| is_digit(c)))
}

crate::text::scanner!(Numbers);

impl<'a, T: Copy + Into<u32>> Numbers<'a, T> {
    #[inline]
    fn char(&self, i: usize) -> u32 {
        self.chars[i].into()
    }

    /// `_GLUED_BEFORE.match(scan.before(start, 30)[::-1])` after a space: a word of the 29
    /// characters before that space, read backwards, holds a digit (`\w*\d`).
    fn glued(&self, start: usize) -> bool {
        let low = start.saturating_sub(30);
        let mut i = start - 1;
        while i > low {
            i -= 1;
            let c = self.char(i);
            if !is_word(c) {
                return false;
            }
            if is_digit(c) {
                return true;
            }
        }
        false
    }

    /// The run at `start:end`, as `find_numbers` takes it in turn.
    fn verdict(&self, start: usize, end: usize, facts: &Facts) -> Known<Verdict> {
        if start > 0 && self.is(start - 1, ' ') && self.glued(start) {
            return Ok(Verdict::Drop);
        }
        // (runs longer than phone numbers or cards are laid out are rare: Python's)
        let mut buffer = [0u32; 40];
        let run = buffer.get_mut(..end - start).ok_or(Unknown)?;
        for (k, c) in run.iter_mut().enumerate() {
            *c = self.char(start + k);
        }
        let run = &*run;
        let opens = start == 0 || self.char(start - 1) == 0;
        if opens && run.iter().all(|&c| is_digit(c)) && facts.key_kinds(start)? & NEGATIVE_KEY != 0
        {
            return Ok(Verdict::Drop);
        }
        // Too short for any finding however the text around it reads: `_classify` (and `_split`,
        // on pieces of it) wants 12 characters for a card, 9 for an SSN, 7 that are no separator
        // for a phone (`exp 12/29` after a card number, a time, a short code in running text).
        let kept = |&&c: &&u32| {
            !matches!(
                char::from_u32(c),
                Some(' ' | '-' | '.' | '/' | '(' | ')' | '+')
            )
        };
        if run.len() < 9 && run.iter().filter(kept).count() < 7 {
            return Ok(Verdict::Drop);
        }
        let plus = is(run.first(), '+');
        let whole = opens && (end == self.chars.len() || self.char(end) == 0);
        if !plus && !whole {
            return Err(Unknown); // (the text around it counts)
        }
        // `_classify`: a card, then an SSN, then a phone (only whole values come this far).
        let plain = !plus && !run.contains(&('(' as u32));
        if plain && facts.entities & CARD != 0 && run.len() >= 12 {
            let digits = run.iter().filter(|&&c| c != ' ' as u32 && c != '-' as u32);
            let count = digits.clone().count();
            if (12..=19).contains(&count)
                && digits.clone().all(|&c| is_digit(c))
                && facts.card_ok(start, end)?
            {
                return Err(Unknown); // (`_card_context`)
            }
        }
        if plain && facts.entities & SSN != 0 && ssn_shaped(run) {
            return Err(Unknown); // (`_ssn`)
        }
        let score = if facts.entities & PHONE != 0 {
            self.phone(run, start, facts)?
        } else {
            0.0
        };
        if score > 0.0 {
            Ok(Verdict::Phone(score))
        } else if run.contains(&(' ' as u32)) {
            Err(Unknown) // (`_split` tries its pieces)
        } else {
            Ok(Verdict::Drop)
        }
    }

    /// `phones.phone_score(run)` for a run starting with '+' or a whole value (no text before or after).
    fn phone(&self, run: &[u32], start: usize, facts: &Facts) -> Known<f64> {
        let main = &run[..main_end(run).ok_or(Unknown)?];
        let count = main.iter().filter(|&&c| is_digit(c)).count();
        if !(7..=15).contains(&count) {
            return Ok(0.0);
        }
        let (mut chars, mut values) = ([0u32; 15], [0u32; 15]);
        for (k, &c) in main.iter().filter(|&&c| is_digit(c)).enumerate() {
            chars[k] = c;
            values[k] = digit_value(c).unwrap_or(0);
        }
        let (chars, values) = (&chars[..count], &values[..count]);
        if is(main.first(), '+') {
            return facts.international(chars, values);
        }
        let kinds = facts.key_kinds(start)?;
        let context = kinds & PHONE_KEY != 0; // (no words before a whole value)
        if !context && kinds & NEGATIVE_KEY != 0 {
            return Ok(0.0);
        }
        if chars.len() == main.len() {
            self.bare(chars, values, context, facts)
        } else {
            self.national(main, chars, values, context, facts)
        }
    }

    /// `phones._bare(digits)`: digits without separators.
    fn bare(&self, chars: &[u32], values: &[u32], context: bool, facts: &Facts) -> Known<f64> {
        let count = chars.len();
        let trunk = is(chars.first(), '0');
        if trunk && is(chars.get(1), '0') && count >= 11 {
            let score = facts.international(&chars[2..], &values[2..])?;
            if score > 0.0 {
                return Ok(score); // 0044 20 7946 0958 written without spaces
            }
        }
        if context {
            // `_national_number`
            if trunk && (9..=12).contains(&count) {
                return Ok(0.7);
            }
            if count == 10 && matches!(char::from_u32(chars[0]), Some('2'..='9')) {
                return Ok(0.7);
            }
            return Ok(if facts.valid_somewhere(chars)? {
                0.8
            } else {
                0.0
            });
        }
        if !trunk || is(chars.get(1), '0') || !(10..=11).contains(&count) {
            return Ok(0.0);
        }
        Ok(if facts.valid_somewhere(chars)? {
            0.6
        } else {
            0.0
        })
    }

    /// `phones._national(main, digits)`: digits in groups (no text before or after to look at).
    fn national(
        &self,
        main: &[u32],
        chars: &[u32],
        values: &[u32],
        context: bool,
        facts: &Facts,
    ) -> Known<f64> {
        let count = chars.len();
        let international = is(main.first(), '0') && is(main.get(1), '0') && count >= 10;
        if count > 13 && !international {
            return Ok(0.0);
        }
        // `_GROUP_SPLIT.split(main)`, empty groups left out: the groups' lengths.
        let groups: Vec<usize> = main
            .split(|&c| matches!(char::from_u32(c), Some(' ' | '.' | '/' | '(' | ')' | '-')))
            .filter(|g| !g.is_empty())
            .map(|g| g.len())
            .collect();
        let last = *groups.last().ok_or(Unknown)?;
        let nanp = {
            let (digits, from) = if count == 11 && is(chars.first(), '1') {
                (10, 1.min(groups.len()))
            } else {
                (count, 0)
            };
            let tail = &groups[from..];
            digits == 10 && tail.len() >= 3 && tail[tail.len() - 3..] == [3, 3, 4]
        };
        if main.contains(&('.' as u32))
            && !nanp
            && !(groups.len() >= 3 && groups.iter().all(|&g| g >= 2) && !ipv4_shaped(main))
        {
            return Ok(0.0);
        }
        let card_shaped = groups.len() >= 3
            && groups[..3].iter().all(|&g| g == 4)
            && groups.iter().sum::<usize>() >= 12;
        if last < 2 || card_shaped {
            return Ok(0.0);
        }
        if date(main) || iso_date(main) || zip4(main) || ssn_shaped(main) {
            return Ok(0.0);
        }
        if international {
            let score = facts.international(&chars[2..], &values[2..])?;
            if score > 0.0 {
                return Ok(score);
            }
        }
        if count < 9 && !context {
            return Ok(0.0);
        }
        if nanp {
            return Ok(0.85);
        }
        if is(chars.first(), '0') && (9..=12).contains(&count) {
            return Ok(0.7); // trunk prefix and groups
        }
        let valid = facts.valid_somewhere(chars)?;
        let thousands = groups[0] <= 3 && groups[1..].iter().all(|&g| g == 3);
        Ok(match (valid, thousands && !context) {
            (false, _) => 0.0,
            (true, true) => 0.7,
            (true, false) => 0.8,
        })
    }

    fn decide(&self, facts: &Facts) -> PyResult<Decided> {
        let runs = crate::runs::Runs(Text::new(self.chars)).runs();
        let entity = PyString::intern(facts.py, "PHONE_NUMBER");
        let mut found = Vec::new();
        let mut deferred = Vec::new();
        for (start, end) in runs {
            match self.verdict(start, end, facts) {
                Ok(Verdict::Drop) => {}
                Ok(Verdict::Phone(score)) => {
                    found.push((start, end, entity, score).into_py(facts.py))
                }
                Err(Unknown) => deferred.push((start, end)),
            }
        }
        Ok((found, deferred))
    }
}

/// The end of a run less its extension, as `_EXTENSION.sub("", run)` leaves it: the run's
/// letters are its extension's (`x`, `ext`, `ext.`, `extension`, then 1 to 6 digits).
fn main_end(run: &[u32]) -> Option<usize> {
    let Some(letter) = run.iter().position(|&c| (0x61..=0x7a).contains(&c)) else {
        return Some(run.len());
    };
    let rest = &run[letter..];
    let word = ["extension", "ext.", "ext", "x"]
        .into_iter()
        .find(|w| w.len() <= rest.len() && w.chars().zip(rest).all(|(c, &r)| c as u32 == r))?;
    let mut tail = &rest[word.len()..];
    if is(tail.first(), ' ') {
        tail = &tail[1..];
    }
    if !(1..=6).contains(&tail.len()) || !tail.iter().all(|&c| is_digit(c)) {
        return None;
    }
    // (`sub` takes a space before the word too, and a space counts for nothing below)
    Some(if letter > 0 && run[letter - 1] == ' ' as u32 {
        letter - 1
    } else {
        letter
    })
}

/// `find_numbers`' findings in `text` that need no Python, and the runs that do (see above).
#[allow(clippy::too_many_arguments)]
#[pyfunction]
pub fn number_findings<'py>(
    py: Python<'py>,
    text: &'py PyString,
    starts: &'py PyList,
    keys: &'py PyList,
    kinds: &'py PyDict,
    judge_key: &'py PyAny,
    codes: &'py PyList,
    judge_code: &'py PyAny,
    card_ok: &'py PyAny,
    valid_somewhere: &'py PyAny,
    entities: u32,
) -> PyResult<Decided> {
    let facts = Facts {
        py,
        text,
        starts,
        keys,
        kinds,
        judge_key,
        codes,
        judge_code,
        card_ok,
        valid_somewhere,
        entities,
    };
    // SAFETY: the data is read while the string (held by the caller) is alive, GIL held.
    match unsafe { text.data()? } {
        PyStringData::Ucs1(chars) => Numbers(Text::new(chars)).decide(&facts),
        PyStringData::Ucs2(chars) => Numbers(Text::new(chars)).decide(&facts),
        PyStringData::Ucs4(chars) => Numbers(Text::new(chars)).decide(&facts),
    }
}
