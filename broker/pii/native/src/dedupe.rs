//! `Detector.find_many`'s (string, key) dedupe and `CleanStrings`' choice of pairs to remember,
//! in native code: broker/pii/detector.py (`distinct`, `repeated`) and broker/pii/clean.py
//! (`clean_pairs`) keep the Python references, and tests/pii/test_native_find.py holds the two
//! alike. Input of another shape (no exact list, an item that is no exact str, a key that is no
//! exact str or None, lists of unequal lengths) goes to the Python reference whole.

use crate::pyobj::{owned, status, Owned};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::AsPyPointer;
use std::cell::RefCell;

/// The reference named `name` in `module`, called with `args`.
fn reference(
    py: Python<'_>,
    module: &str,
    name: &str,
    args: impl IntoPy<Py<PyTuple>>,
) -> PyResult<PyObject> {
    let function = py.import(module)?.getattr(name)?;
    Ok(function.call1(args)?.into())
}

/// A (string, key) pair of exact strs (the key may be None), equal as Python's tuples are.
struct Pair {
    text: *mut ffi::PyObject,
    key: *mut ffi::PyObject,
    hash: u64,
}

/// Two exact strs' equality: CPython stores each string in its narrowest width, so equal
/// strings have equal kinds and bytes.
unsafe fn same(a: *mut ffi::PyObject, b: *mut ffi::PyObject) -> bool {
    if a == b {
        return true;
    }
    if a == ffi::Py_None() || b == ffi::Py_None() {
        return false;
    }
    let length = ffi::PyUnicode_GET_LENGTH(a);
    if length != ffi::PyUnicode_GET_LENGTH(b) || ffi::PyUnicode_KIND(a) != ffi::PyUnicode_KIND(b) {
        return false;
    }
    let size = length as usize * ffi::PyUnicode_KIND(a) as usize;
    let (a, b) = (ffi::PyUnicode_DATA(a), ffi::PyUnicode_DATA(b));
    std::slice::from_raw_parts(a as *const u8, size)
        == std::slice::from_raw_parts(b as *const u8, size)
}

impl PartialEq for Pair {
    fn eq(&self, other: &Pair) -> bool {
        // SAFETY: both pairs hold exact strs (or None keys) borrowed from the caller's lists.
        unsafe { same(self.text, other.text) && same(self.key, other.key) }
    }
}

impl Eq for Pair {}

/// Whether `object` is an exact, ready str.
unsafe fn is_str(object: *mut ffi::PyObject) -> bool {
    #[allow(deprecated)]
    let ready = ffi::PyUnicode_CheckExact(object) != 0 && ffi::PyUnicode_READY(object) == 0;
    ready
}

// The open-addressing table of `distinct_slots`, kept between calls: a fresh one per batch
// (a 5 MB result's 66,000 strings: 1 MB) was written at fresh pages and cold cache lines, which
// cost more than the dedupe itself. Tables above `KEPT_TABLE` entries are not kept.
thread_local! {
    static TABLE: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}
const KEPT_TABLE: usize = 1 << 20;

/// The slot of each pair among the distinct pairs (in order of first occurrence), and the index
/// of each distinct pair's first occurrence: linear probing over slot numbers (+1, 0 is empty)
/// in a table of at least twice as many entries as pairs.
fn distinct_slots(pairs: &[Pair]) -> (Vec<u32>, Vec<u32>) {
    let size = (pairs.len() * 2).next_power_of_two().max(16);
    let mask = size - 1;
    let mut slot_of = Vec::with_capacity(pairs.len());
    let mut firsts_at: Vec<u32> = Vec::new();
    let mut fill = |table: &mut [u32]| {
        for (index, pair) in pairs.iter().enumerate() {
            let mut at = pair.hash as usize & mask;
            let slot = loop {
                let entry = table[at];
                if entry == 0 {
                    firsts_at.push(index as u32);
                    table[at] = firsts_at.len() as u32;
                    break firsts_at.len() as u32 - 1;
                }
                let other = &pairs[firsts_at[entry as usize - 1] as usize];
                if other.hash == pair.hash && other == pair {
                    break entry - 1;
                }
                at = (at + 1) & mask;
            };
            slot_of.push(slot);
        }
    };
    let kept = TABLE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut table) if size <= KEPT_TABLE => {
            table.clear();
            table.resize(size, 0);
            fill(&mut table);
            true
        }
        _ => false,
    });
    if !kept {
        fill(&mut vec![0; size]);
    }
    (slot_of, firsts_at)
}

/// `distinct(texts, keys)`: the index of each (text, key) pair's first occurrence among the
/// distinct pairs, and the distinct texts and keys in that order (`keys` empty: no keys).
#[pyfunction]
pub fn distinct_pairs(py: Python<'_>, texts: &PyAny, keys: &PyAny) -> PyResult<PyObject> {
    // SAFETY: with the GIL held; items are borrowed from `texts` and `keys`, which no Python code
    // changes here (str hashes run no Python code).
    unsafe {
        let (list, names) = (texts.as_ptr(), keys.as_ptr());
        let fallback = |py| reference(py, "broker.pii.detector", "distinct", (texts, keys));
        let no_keys = ffi::PyTuple_CheckExact(names) != 0 && ffi::PyTuple_GET_SIZE(names) == 0;
        if ffi::PyList_CheckExact(list) == 0 || (ffi::PyList_CheckExact(names) == 0 && !no_keys) {
            return fallback(py);
        }
        let size = ffi::PyList_GET_SIZE(list);
        let keyed = !no_keys && ffi::PyList_GET_SIZE(names) != 0;
        if (keyed && ffi::PyList_GET_SIZE(names) != size) || size >= u32::MAX as isize / 2 {
            return fallback(py);
        }
        let none = ffi::Py_None();
        let mut pairs = Vec::with_capacity(size as usize);
        for index in 0..size {
            let text = ffi::PyList_GET_ITEM(list, index);
            let key = if keyed {
                ffi::PyList_GET_ITEM(names, index)
            } else {
                none
            };
            if !is_str(text) || (key != none && !is_str(key)) {
                return fallback(py);
            }
            let mut hash = ffi::PyObject_Hash(text) as u64;
            if key != none {
                hash = hash.wrapping_mul(1_000_003) ^ ffi::PyObject_Hash(key) as u64;
            }
            pairs.push(Pair { text, key, hash });
        }
        let (slot_of, firsts_at) = distinct_slots(&pairs);
        let which = owned(py, ffi::PyList_New(size))?;
        for (index, &slot) in slot_of.iter().enumerate() {
            let number = owned(py, ffi::PyLong_FromSsize_t(slot as isize))?;
            ffi::PyList_SET_ITEM(which.0, index as isize, number.into_ptr());
        }
        let count = firsts_at.len() as isize;
        let firsts = owned(py, ffi::PyList_New(count))?;
        let first_keys = owned(py, ffi::PyList_New(if keyed { count } else { 0 }))?;
        for (slot, &at) in firsts_at.iter().enumerate() {
            let pair = &pairs[at as usize];
            let text = Owned::from_borrowed(pair.text);
            ffi::PyList_SET_ITEM(firsts.0, slot as isize, text.into_ptr());
            if keyed {
                let key = Owned::from_borrowed(pair.key);
                ffi::PyList_SET_ITEM(first_keys.0, slot as isize, key.into_ptr());
            }
        }
        let result = owned(py, ffi::PyTuple_New(3))?;
        for (at, item) in [which, firsts, first_keys].into_iter().enumerate() {
            ffi::PyTuple_SET_ITEM(result.0, at as isize, item.into_ptr());
        }
        Ok(PyObject::from_owned_ptr(py, result.into_ptr()))
    }
}

/// `clean_pairs(pairs, found, most)`: the pairs whose findings are an empty list and whose
/// string is at most `most` characters long, in order.
#[pyfunction]
pub fn clean_pairs(
    py: Python<'_>,
    pairs: &PyAny,
    found: &PyAny,
    most: isize,
) -> PyResult<PyObject> {
    // SAFETY: with the GIL held; items are borrowed from `pairs` and `found`, unchanged here.
    unsafe {
        let (list, spans) = (pairs.as_ptr(), found.as_ptr());
        let fallback = |py| reference(py, "broker.pii.clean", "clean_pairs", (pairs, found, most));
        if ffi::PyList_CheckExact(list) == 0 || ffi::PyList_CheckExact(spans) == 0 {
            return fallback(py);
        }
        let size = ffi::PyList_GET_SIZE(list);
        if ffi::PyList_GET_SIZE(spans) != size {
            return fallback(py);
        }
        for index in 0..size {
            let pair = ffi::PyList_GET_ITEM(list, index);
            if ffi::PyTuple_CheckExact(pair) == 0
                || ffi::PyTuple_GET_SIZE(pair) != 2
                || ffi::PyUnicode_CheckExact(ffi::PyTuple_GET_ITEM(pair, 0)) == 0
                || ffi::PyList_CheckExact(ffi::PyList_GET_ITEM(spans, index)) == 0
            {
                return fallback(py);
            }
        }
        let fresh = owned(py, ffi::PyList_New(0))?;
        for index in 0..size {
            let pair = ffi::PyList_GET_ITEM(list, index);
            if ffi::PyList_GET_SIZE(ffi::PyList_GET_ITEM(spans, index)) == 0
                && ffi::PyUnicode_GET_LENGTH(ffi::PyTuple_GET_ITEM(pair, 0)) <= most
            {
                status(py, ffi::PyList_Append(fresh.0, pair))?;
            }
        }
        Ok(PyObject::from_owned_ptr(py, fresh.into_ptr()))
    }
}
