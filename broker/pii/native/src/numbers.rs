//! The number finder's decisions that need no Python: broker/pii/recognizers_number.py's
//! `find_numbers` over the digit runs of `runs.rs`, for the runs whose outcome is certain here.
//!
//! Decided here: a run glued to a code before it (`_GLUED_BEFORE`), bare digits opening a value
//! under a key that names no PII (`Scan.key_is_negative`), and runs starting with '+' (the
//! country code and national length test of `_international`). Every other run, and any run a
//! fact is missing for, is handed back whole to the Python per-run code, which is unchanged.
//! On the CRM records (an id and a '+1 415 ...' phone in each record) that is every run.
//! tests/pii/test_native_numbers.py holds the two to the same findings.

use crate::chars::{digit_value, is_digit, is_word};
use crate::pyobj::{owned, Owned};
use crate::text::Text;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyStringData};
use pyo3::AsPyPointer;

/// What the Python side knows and memoises: see `find_numbers` in recognizers_number.py.
struct Facts<'py> {
    py: Python<'py>,
    /// `Scan._starts` and `Scan._keys` as lists.
    starts: &'py PyList,
    keys: &'py PyList,
    /// Raw key -> whether `Scan.key_is_negative` holds for it, filled by `judge_key` on a miss.
    negative: &'py PyDict,
    judge_key: &'py PyAny,
    /// Country code (0-999) -> bit mask of the national lengths possible after it, -1 until
    /// `judge_code` has filled it.
    codes: &'py PyList,
    judge_code: &'py PyAny,
}

/// The findings decided here, and the spans of the runs left to Python.
type Decided = (Vec<PyObject>, Vec<(usize, usize)>);

/// What becomes of one run.
enum Verdict {
    Drop,
    Phone(f64),
    Defer,
}

/// A C API failure here only means "let Python decide": the error is cleared.
struct Unknown;

unsafe fn known<T>(value: T, failed: bool) -> Result<T, Unknown> {
    if failed && !ffi::PyErr_Occurred().is_null() {
        ffi::PyErr_Clear();
        return Err(Unknown);
    }
    Ok(value)
}

impl Facts<'_> {
    /// `bisect.bisect_right(starts, position)`, probing as `bisect` does.
    fn bisect_right(&self, position: isize) -> Result<isize, Unknown> {
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

    /// `Scan.key_is_negative(position)`.
    fn key_is_negative(&self, position: usize) -> Result<bool, Unknown> {
        let keys = self.keys.as_ptr();
        // SAFETY: GIL held; `key` is borrowed from `keys`, which only `judge_key` could change
        // (it judges one key): the dictionary holds its own reference once stored.
        unsafe {
            let count = ffi::PyList_GET_SIZE(keys);
            if count == 0 {
                return Ok(false);
            }
            let index = self.bisect_right(position as isize)? - 1;
            if index < 0 {
                return Ok(false);
            }
            if index >= count {
                return Err(Unknown); // (an IndexError in Python)
            }
            let key = Owned::from_borrowed(ffi::PyList_GET_ITEM(keys, index));
            if key.0 == ffi::Py_None() {
                return Ok(false);
            }
            let memo = self.negative.as_ptr();
            let mut verdict = ffi::PyDict_GetItemWithError(memo, key.0);
            let _judged: Owned;
            if verdict.is_null() {
                known((), true)?; // (an unhashable key)
                let judged = ffi::PyObject_CallOneArg(self.judge_key.as_ptr(), key.0);
                known((), judged.is_null())?;
                _judged = Owned(judged);
                if ffi::PyDict_SetItem(memo, key.0, judged) < 0 {
                    known((), true)?;
                }
                verdict = judged;
            }
            let truth = ffi::PyObject_IsTrue(verdict);
            known(truth == 1, truth < 0)
        }
    }

    /// The bit mask of national lengths after `code` (bit n: length n possible).
    fn lengths(&self, code: u32) -> Result<u64, Unknown> {
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
                let judged = ffi::PyObject_CallOneArg(self.judge_code.as_ptr(), number.0);
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

    fn verdict(&self, start: usize, end: usize, facts: &Facts, phone: bool) -> Verdict {
        if start > 0 && self.is(start - 1, ' ') && self.glued(start) {
            return Verdict::Drop;
        }
        let opens = start == 0 || self.char(start - 1) == 0;
        if opens && (start..end).all(|i| is_digit(self.char(i))) {
            match facts.key_is_negative(start) {
                Ok(true) => return Verdict::Drop,
                Ok(false) => {}
                Err(Unknown) => return Verdict::Defer,
            }
        }
        if !self.is(start, '+') {
            return Verdict::Defer;
        }
        let score = if phone {
            match self.international(start, end, facts) {
                Ok(score) => score,
                Err(Unknown) => return Verdict::Defer,
            }
        } else {
            0.0
        };
        if score > 0.0 {
            Verdict::Phone(score)
        } else if (start..end).any(|i| self.is(i, ' ')) {
            Verdict::Defer // (`_split` tries its pieces)
        } else {
            Verdict::Drop
        }
    }

    /// The end of a run less its extension, as `_EXTENSION.sub("", run)` leaves it: the run's
    /// letters are its extension's (`x`, `ext`, `ext.`, `extension`, then 1 to 6 digits).
    fn main_end(&self, start: usize, end: usize) -> Option<usize> {
        let Some(letter) = (start..end).find(|&i| matches!(self.char(i), 0x61..=0x7a)) else {
            return Some(end);
        };
        let mut i = letter;
        let word = ["extension", "ext.", "ext", "x"]
            .into_iter()
            .find(|w| w.chars().enumerate().all(|(k, c)| self.is(i + k, c)))?;
        i += word.len();
        if self.is(i, ' ') {
            i += 1;
        }
        if !(1..=6).contains(&(end - i.min(end))) || !(i..end).all(|k| is_digit(self.char(k))) {
            return None;
        }
        Some(letter) // (`sub` takes the space before it too: no digit, so no matter here)
    }

    /// `_phone(run)` for a run starting with '+': `_international` of its digits.
    fn international(&self, start: usize, end: usize, facts: &Facts) -> Result<f64, Unknown> {
        let main = self.main_end(start, end).ok_or(Unknown)?;
        let mut values = [0u32; 15];
        let mut first_chars = [0u32; 15];
        let mut count = 0;
        for i in start..main {
            let c = self.char(i);
            if let Some(value) = digit_value(c) {
                if count < 15 {
                    values[count] = value;
                    first_chars[count] = c;
                }
                count += 1;
            }
        }
        if !(7..=15).contains(&count) {
            return Ok(0.0);
        }
        let mut code = 0;
        for size in 1..=3 {
            code = code * 10 + values[size - 1];
            let lengths = facts.lengths(code)?;
            if lengths != 0 {
                let national = count - size;
                let possible = |n: usize| n < 64 && lengths & (1 << n) != 0;
                if possible(national) || (first_chars[size] == '0' as u32 && possible(national - 1))
                {
                    return Ok(0.9); // (a '(0)' trunk left in: +44 (0)20 7946 0958)
                }
                return Ok(if (8..=15).contains(&count) { 0.6 } else { 0.0 });
            }
        }
        Ok(0.0)
    }

    fn decide(&self, facts: &Facts, phone: bool) -> PyResult<Decided> {
        let runs = crate::runs::Runs(Text::new(self.chars)).runs();
        let entity = PyString::intern(facts.py, "PHONE_NUMBER");
        let mut found = Vec::new();
        let mut deferred = Vec::new();
        for (start, end) in runs {
            match self.verdict(start, end, facts, phone) {
                Verdict::Drop => {}
                Verdict::Phone(score) => found.push((start, end, entity, score).into_py(facts.py)),
                Verdict::Defer => deferred.push((start, end)),
            }
        }
        Ok((found, deferred))
    }
}

/// `find_numbers`' findings in `text` that need no Python, and the runs that do (see above).
#[allow(clippy::too_many_arguments)]
#[pyfunction]
pub fn number_findings<'py>(
    py: Python<'py>,
    text: &'py PyString,
    starts: &'py PyList,
    keys: &'py PyList,
    negative: &'py PyDict,
    judge_key: &'py PyAny,
    codes: &'py PyList,
    judge_code: &'py PyAny,
    phone: bool,
) -> PyResult<Decided> {
    let facts = Facts {
        py,
        starts,
        keys,
        negative,
        judge_key,
        codes,
        judge_code,
    };
    // SAFETY: the data is read while the string (held by the caller) is alive, GIL held.
    match unsafe { text.data()? } {
        PyStringData::Ucs1(chars) => Numbers(Text::new(chars)).decide(&facts, phone),
        PyStringData::Ucs2(chars) => Numbers(Text::new(chars)).decide(&facts, phone),
        PyStringData::Ucs4(chars) => Numbers(Text::new(chars)).decide(&facts, phone),
    }
}
