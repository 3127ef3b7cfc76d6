//! `CleanMemo`: the memo of clean (string, key) pairs of broker/pii/clean.py kept natively, as a
//! set of the pairs' characters. The scan of JSON text (src/scan/) looks a value up on its own
//! characters in the text before it makes a Python str of it, so a value known clean (most of a
//! listing's statuses, names and dates) never becomes a Python object; the walk looks up the strs
//! it has; a string longer than any held is not even hashed. With a Python set of (str, str | None)
//! tuples each value cost a new str, its hash and a tuple compare, the entries spread over the
//! heap: `perf` put those lookups at ~4.5% of the gateway's CPU for bench/pii_path.py's 100 KB
//! calls, and the scan of such a result took ~0.31 against ~0.38 ms once they were made here.
//!
//! A pair is equal to another when their strings and keys hold the same characters, as Python's
//! str equality has it (whatever storage each string has). Python code reads it as a set of
//! (str, str | None) tuples (`in`, `len`, iteration, `update`, `clear`, `isdisjoint`), which is
//! all broker/pii/clean.py's references ask of a memo: tests/pii/test_native_memo.py holds the
//! two to the same contents.

use crate::pyobj::{owned, Owned};
use crate::pystr::{chars, Chars};
use crate::scan::mix;
use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use pyo3::AsPyPointer;
use std::os::raw::c_void;

/// A string's characters, stored one byte each where they all fit.
enum Stored {
    One(Box<[u8]>),
    Four(Box<[u32]>),
}

impl Stored {
    fn of<T: Copy + Into<u32>>(chars: &[T]) -> Stored {
        if chars.iter().all(|&c| c.into() < 0x100) {
            Stored::One(chars.iter().map(|&c| c.into() as u8).collect())
        } else {
            Stored::Four(chars.iter().map(|&c| c.into()).collect())
        }
    }

    fn equals<T: Copy + Into<u32>>(&self, chars: &[T]) -> bool {
        match self {
            Stored::One(stored) => same(stored, chars),
            Stored::Four(stored) => same(stored, chars),
        }
    }

    /// A new str of these characters.
    fn to_str(&self, py: Python<'_>) -> PyResult<Owned> {
        let (kind, data, length) = match self {
            Stored::One(c) => (1, c.as_ptr() as *const c_void, c.len()),
            Stored::Four(c) => (4, c.as_ptr() as *const c_void, c.len()),
        };
        // SAFETY: `data` holds `length` characters of `kind` bytes; the GIL is held.
        unsafe {
            owned(
                py,
                ffi::PyUnicode_FromKindAndData(kind, data, length as ffi::Py_ssize_t),
            )
        }
    }
}

macro_rules! with_chars {
    ($text:expr, $c:ident => $body:expr) => {
        match $text {
            Chars::One($c) => $body,
            Chars::Two($c) => $body,
            Chars::Four($c) => $body,
        }
    };
}

/// Whether two strings hold the same characters, whatever the storage of each.
fn same<A: Copy + Into<u32>, B: Copy + Into<u32>>(a: &[A], b: &[B]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| x.into() == y.into())
}

/// A string as the memo reads it (a str's own storage, or a span of a JSON text's).
impl Chars<'_> {
    fn len(&self) -> usize {
        with_chars!(self, c => c.len())
    }

    pub(crate) fn hash(&self) -> u64 {
        fn hash<T: Copy + Into<u32>>(chars: &[T]) -> u64 {
            let start = chars.len() as u64;
            chars.iter().fold(start, |h, &c| mix(h, c.into() as u64))
        }
        with_chars!(self, c => hash(c))
    }

    /// Whether `other` holds the same characters.
    pub(crate) fn same(&self, other: &Chars<'_>) -> bool {
        with_chars!(self, a => with_chars!(other, b => same(a, b)))
    }

    fn stored(&self) -> Stored {
        with_chars!(self, c => Stored::of(c))
    }

    fn equals(&self, stored: &Stored) -> bool {
        with_chars!(self, c => stored.equals(c))
    }
}

/// The hash of a (text, key) pair: None keys hash apart from every string.
fn pair_hash(text: &Chars<'_>, key: Option<&Chars<'_>>) -> u64 {
    let key_hash = key.map_or(0x9e37_79b9_7f4a_7c15, Chars::hash);
    mix(text.hash(), key_hash) | 1 // (0 marks an empty slot)
}

struct Entry {
    hash: u64,
    text: Stored,
    key: Option<Stored>,
}

/// The memo: an open-addressing table of (hash, entry number) over its entries in the order added.
#[pyclass(module = "broker.pii._native")]
#[derive(Default)]
pub struct CleanMemo {
    slots: Vec<(u64, u32)>,
    entries: Vec<Entry>,
    /// The most characters of a string held: a longer one is not looked for (nor hashed).
    longest: usize,
}

impl CleanMemo {
    /// Whether the pair (`text`, `key`) is held.
    pub(crate) fn holds(&self, text: &Chars<'_>, key: Option<&Chars<'_>>) -> bool {
        if text.len() > self.longest || self.entries.is_empty() {
            return false;
        }
        self.find(pair_hash(text, key), text, key).is_ok()
    }

    /// The slot holding the pair (Ok), or the empty slot where it would go (Err).
    fn find(&self, hash: u64, text: &Chars<'_>, key: Option<&Chars<'_>>) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        loop {
            let (seen, number) = self.slots[at];
            if seen == 0 {
                return Err(at);
            }
            if seen == hash {
                let entry = &self.entries[number as usize];
                let same_key = match (key, &entry.key) {
                    (None, None) => true,
                    (Some(key), Some(stored)) => key.equals(stored),
                    _ => false,
                };
                if same_key && text.equals(&entry.text) {
                    return Ok(at);
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// Adds the pair (`text`, `key`) where it is not held.
    pub(crate) fn add(&mut self, text: &Chars<'_>, key: Option<&Chars<'_>>) {
        if (self.entries.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let hash = pair_hash(text, key);
        if let Err(at) = self.find(hash, text, key) {
            self.slots[at] = (hash, self.entries.len() as u32);
            self.longest = self.longest.max(text.len());
            self.entries.push(Entry {
                hash,
                text: text.stored(),
                key: key.map(Chars::stored),
            });
        }
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(64);
        self.slots = vec![(0, 0); size];
        for (number, entry) in self.entries.iter().enumerate() {
            let mut at = entry.hash as usize & (size - 1);
            while self.slots[at].0 != 0 {
                at = (at + 1) & (size - 1);
            }
            self.slots[at] = (entry.hash, number as u32);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn empty(&mut self) {
        self.entries = Vec::new();
        self.slots = Vec::new();
        self.longest = 0;
    }
}

/// The characters of a key: None for None, else its str's (any str, subclasses too); a TypeError
/// for anything else (the memo holds str keys only).
///
/// # Safety
/// The GIL is held and `key` is alive while the result is used.
pub(crate) unsafe fn key_chars<'a>(
    py: Python<'_>,
    key: *mut ffi::PyObject,
) -> PyResult<Option<Chars<'a>>> {
    if key == ffi::Py_None() {
        return Ok(None);
    }
    if ffi::PyUnicode_Check(key) == 0 {
        return Err(PyTypeError::new_err("a memo's key is a str or None"));
    }
    Ok(Some(chars(py, key)?))
}

/// A (str, str | None) tuple's two parts, or None for anything else (held by no memo).
unsafe fn parts<'a>(
    py: Python<'_>,
    item: *mut ffi::PyObject,
) -> PyResult<Option<(Chars<'a>, Option<Chars<'a>>)>> {
    if ffi::PyTuple_Check(item) == 0 || ffi::PyTuple_GET_SIZE(item) != 2 {
        return Ok(None);
    }
    let (text, key) = (
        ffi::PyTuple_GET_ITEM(item, 0),
        ffi::PyTuple_GET_ITEM(item, 1),
    );
    if ffi::PyUnicode_Check(text) == 0 {
        return Ok(None);
    }
    if key != ffi::Py_None() && ffi::PyUnicode_Check(key) == 0 {
        return Ok(None);
    }
    Ok(Some((chars(py, text)?, key_chars(py, key)?)))
}

#[pymethods]
impl CleanMemo {
    #[new]
    fn new() -> Self {
        CleanMemo::default()
    }

    fn __len__(&self) -> usize {
        self.entries.len()
    }

    fn __contains__(&self, py: Python<'_>, item: &PyAny) -> PyResult<bool> {
        // SAFETY: the GIL is held; `item` and what it holds are alive for this call.
        unsafe {
            Ok(match parts(py, item.as_ptr())? {
                Some((text, key)) => self.holds(&text, key.as_ref()),
                None => false,
            })
        }
    }

    /// Adds each (str, str | None) pair of `pairs`.
    fn update(&mut self, py: Python<'_>, pairs: &PyAny) -> PyResult<()> {
        for item in pairs.iter()? {
            let item = item?;
            // SAFETY: the GIL is held; `item` is alive for this step.
            unsafe {
                match parts(py, item.as_ptr())? {
                    Some((text, key)) => self.add(&text, key.as_ref()),
                    None => {
                        return Err(PyTypeError::new_err(
                            "the memo holds (str, str | None) pairs",
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    fn clear(&mut self) {
        self.empty();
    }

    /// Whether none of `pairs` is held.
    fn isdisjoint(&self, pairs: &PyAny) -> PyResult<bool> {
        for item in pairs.iter()? {
            if self.__contains__(pairs.py(), item?)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The pairs, as (str, str | None) tuples in the order they were added.
    fn pairs(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        let list = PyList::empty(py);
        for entry in &self.entries {
            let text = entry.text.to_str(py)?;
            let key = match &entry.key {
                Some(key) => key.to_str(py)?,
                // SAFETY: the GIL is held.
                None => unsafe { Owned::from_borrowed(ffi::Py_None()) },
            };
            // SAFETY: both are new references, handed over to the tuple.
            let pair: &PyTuple = unsafe {
                let tuple = owned(py, ffi::PyTuple_New(2))?;
                ffi::PyTuple_SET_ITEM(tuple.0, 0, text.into_ptr());
                ffi::PyTuple_SET_ITEM(tuple.0, 1, key.into_ptr());
                py.from_owned_ptr(tuple.into_ptr())
            };
            list.append(pair)?;
        }
        Ok(list.into())
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<PyObject> {
        let pairs = self.pairs(py)?;
        // SAFETY: the GIL is held; a new reference to the list's iterator.
        unsafe {
            let iterator = owned(py, ffi::PyObject_GetIter(pairs.as_ptr()))?;
            Ok(PyObject::from_owned_ptr(py, iterator.into_ptr()))
        }
    }
}

/// The memo `clean` is, where it is one: borrowed for the caller's use.
pub(crate) fn memo_of(clean: &PyAny) -> Option<&PyCell<CleanMemo>> {
    clean.downcast::<PyCell<CleanMemo>>().ok()
}
