//! The JSON walk of structure-aware masking: `Collected.walk` of broker/pii/structure.py, which
//! stays the reference (and the fallback where this module is not built).
//!
//! Step for step the same walk: the same copy (new dicts and lists holding the same leaf
//! objects), the same texts, keys, slots and key slots gathered in the same order, the same
//! memos of the `FieldRules` read and filled. Every rule stays in Python: what is not memoised
//! (`key_info`, `child`), where two matches meet (`strongest`), and every value the Python walk
//! does not handle inline (`leaf`: matched values, subclasses of str, int and float, other
//! objects) are calls back into the Python methods. Only exact `str`, `int`, `float`, `bool`,
//! `None`, `dict` and `list` (what `json.loads` makes) are handled here, as the Python walk
//! handles them inline. tests/pii/test_native_walk.py holds the two to the same `Collected`.
//!
//! Written against the C API: PyO3's owned references go through a pool that would grow by a
//! few entries for every value of a 5 MB result.

use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PySet, PyString, PyTuple};
use pyo3::AsPyPointer;
use std::os::raw::c_char;
use std::ptr;

mod containers;

use crate::clean_memo::{key_chars, memo_of, CleanMemo};
use crate::pyobj::{new_pair, owned, pair, status, string_keys, Owned, Py_EnterRecursiveCall};
use crate::pystr::chars;

/// " while masking a JSON document", as `RecursionError`'s message ends.
pub(crate) const DEEPER: &[u8] = b" while masking a JSON document\0";

/// Where a value lives in its container: a dict's key or a list's index.
#[derive(Clone, Copy)]
pub(crate) enum Slot {
    Key(*mut ffi::PyObject),
    Index(isize),
}

/// One walk: the lists of a `Collected` it fills and the memos of its `FieldRules`.
pub(crate) struct Walker<'py> {
    pub(crate) py: Python<'py>,
    pub(crate) collected: &'py PyAny,
    pub(crate) rules: &'py PyAny,
    pub(crate) texts: *mut ffi::PyObject,
    keys: *mut ffi::PyObject,
    slots: *mut ffi::PyObject,
    key_slots: *mut ffi::PyObject,
    known_keys: *mut ffi::PyObject,
    known_children: &'py PyAny,
    clean: *mut ffi::PyObject,
    /// `clean` where it is a `CleanMemo` (looked up on characters, src/clean_memo.rs).
    pub(crate) memo: Option<&'py PyCell<CleanMemo>>,
    /// `clean` is a set or frozenset holding nothing: no pair is in it.
    clean_empty: bool,
    /// `clean` is a set or frozenset (looked up directly), not another `AbstractSet`.
    clean_is_set: bool,
    finite: bool,
    pub(crate) empty: Owned,
    /// The (text, key) pair looked up in `clean`, reused while nothing else holds it.
    pair: Owned,
    /// `key_info` of keys met in this walk (the key's address, the rule matching it, whether it may
    /// hold PII), by the key's address: `json.loads` makes one object of each key a document
    /// repeats, read here where `known_keys` would compare the text. A key met in this walk goes
    /// in the entry of its address, in place of the one there.
    seen: [(usize, *mut ffi::PyObject, bool); SEEN],
    /// The keys and rules in `seen`, held while it names them.
    held: Vec<Owned>,
    /// Where set (a scan of JSON text, src/scan/), each text's slot index is kept here in place
    /// of its slot in `slots`.
    pub(crate) places: Option<Vec<u32>>,
}

/// Entries of `Walker::seen` (a power of two).
const SEEN: usize = 64;

impl<'py> Walker<'py> {
    pub(crate) fn new(py: Python<'py>, collected: &'py PyAny) -> PyResult<Self> {
        let rules = collected.getattr(intern!(py, "_rules"))?;
        let texts = collected
            .getattr(intern!(py, "texts"))?
            .downcast::<PyList>()?
            .as_ptr();
        let keys = collected
            .getattr(intern!(py, "keys"))?
            .downcast::<PyList>()?
            .as_ptr();
        let slots = collected
            .getattr(intern!(py, "slots"))?
            .downcast::<PyList>()?
            .as_ptr();
        let key_slots = collected
            .getattr(intern!(py, "key_slots"))?
            .downcast::<PySet>()?
            .as_ptr();
        let known_keys = rules
            .getattr(intern!(py, "known_keys"))?
            .downcast::<PyDict>()?
            .as_ptr();
        let known_children = rules.getattr(intern!(py, "known_children"))?;
        known_children.downcast::<PyDict>()?;
        let clean_object = rules.getattr(intern!(py, "clean"))?;
        let memo = memo_of(clean_object);
        let clean = clean_object.as_ptr();
        // SAFETY: the GIL is held; `clean` is alive (held by the pool of this call).
        let (clean_is_set, clean_empty) = unsafe {
            let is_set = ffi::PyAnySet_Check(clean) != 0;
            let memo_empty = memo.is_some_and(|memo| memo.try_borrow().is_ok_and(|m| m.len() == 0));
            (is_set, memo_empty || is_set && ffi::PySet_Size(clean) == 0)
        };
        // SAFETY: PyTuple_New(0) returns a new reference to the empty tuple.
        let empty = unsafe { owned(py, ffi::PyTuple_New(0))? };
        // SAFETY: a new tuple, filled with None before anything reads it.
        let pair = unsafe { new_pair(py, ffi::Py_None(), ffi::Py_None())? };
        Ok(Walker {
            py,
            collected,
            rules,
            texts,
            keys,
            slots,
            key_slots,
            known_keys,
            known_children,
            clean,
            memo,
            clean_empty,
            clean_is_set,
            finite: true,
            empty,
            pair,
            seen: [(0, ptr::null_mut(), false); SEEN],
            held: Vec::new(),
            places: None,
        })
    }

    /// A call of a Python method of `object` with borrowed arguments: a new reference.
    pub(crate) unsafe fn call(
        &self,
        object: &PyAny,
        name: &PyString,
        args: &[*mut ffi::PyObject],
    ) -> PyResult<Owned> {
        let args: Vec<&PyAny> = args
            .iter()
            .map(|&a| self.py.from_borrowed_ptr::<PyAny>(a))
            .collect();
        let result = object.call_method1(name, PyTuple::new(self.py, args))?;
        Ok(Owned::from_borrowed(result.as_ptr()))
    }

    /// `strongest(current, other)` of broker/pii/structure.py, called only where both are matches.
    pub(crate) unsafe fn strongest(
        &self,
        current: *mut ffi::PyObject,
        other: *mut ffi::PyObject,
    ) -> PyResult<Owned> {
        if current == ffi::Py_None() {
            return Ok(Owned::from_borrowed(other));
        }
        let module = self.py.import(intern!(self.py, "broker.pii.structure"))?;
        self.call(module, intern!(self.py, "strongest"), &[current, other])
    }

    /// `(text, key) not in clean`.
    pub(crate) unsafe fn not_clean(
        &mut self,
        text: *mut ffi::PyObject,
        key: *mut ffi::PyObject,
    ) -> PyResult<bool> {
        if self.clean_empty {
            return Ok(true);
        }
        if let Some(memo) = self.memo {
            if key != ffi::Py_None() && ffi::PyUnicode_Check(key) == 0 {
                return Ok(true); // (the memo holds str keys only)
            }
            let key = key_chars(self.py, key)?;
            return Ok(!memo
                .try_borrow()?
                .holds(&chars(self.py, text)?, key.as_ref()));
        }
        if ffi::Py_REFCNT(self.pair.0) != 1 {
            // held elsewhere (an `AbstractSet` of our callers' kept it): a fresh one
            self.pair = new_pair(self.py, ffi::Py_None(), ffi::Py_None())?;
        }
        let pair = &self.pair;
        // (tuples cache no hash: a tuple held by nothing else may be refilled)
        ffi::Py_INCREF(text);
        let old = ffi::PyTuple_GET_ITEM(pair.0, 0);
        ffi::PyTuple_SET_ITEM(pair.0, 0, text);
        ffi::Py_DECREF(old);
        ffi::Py_INCREF(key);
        let old = ffi::PyTuple_GET_ITEM(pair.0, 1);
        ffi::PyTuple_SET_ITEM(pair.0, 1, key);
        ffi::Py_DECREF(old);
        let found = if self.clean_is_set {
            ffi::PySet_Contains(self.clean, pair.0)
        } else {
            ffi::PySequence_Contains(self.clean, pair.0)
        };
        Ok(status(self.py, found)? == 0)
    }

    /// A new reference to the slot's key or index.
    unsafe fn slot_object(&self, slot: Slot) -> PyResult<Owned> {
        match slot {
            Slot::Key(key) => Ok(Owned::from_borrowed(key)),
            Slot::Index(index) => owned(self.py, ffi::PyLong_FromSsize_t(index)),
        }
    }

    /// texts.append(text); keys.append(key); slots.append((parent, slot)) (or its place kept).
    pub(crate) unsafe fn gather(
        &mut self,
        text: *mut ffi::PyObject,
        key: *mut ffi::PyObject,
        parent: *mut ffi::PyObject,
        slot: Slot,
    ) -> PyResult<()> {
        if let (Some(places), Slot::Index(at)) = (&mut self.places, slot) {
            places.push(at as u32);
            status(self.py, ffi::PyList_Append(self.texts, text))?;
            status(self.py, ffi::PyList_Append(self.keys, key))?;
            return Ok(());
        }
        let place = owned(self.py, ffi::PyTuple_New(2))?;
        ffi::Py_INCREF(parent);
        ffi::PyTuple_SET_ITEM(place.0, 0, parent);
        ffi::PyTuple_SET_ITEM(place.0, 1, self.slot_object(slot)?.into_ptr());
        status(self.py, ffi::PyList_Append(self.texts, text))?;
        status(self.py, ffi::PyList_Append(self.keys, key))?;
        status(self.py, ffi::PyList_Append(self.slots, place.0))?;
        Ok(())
    }

    /// A string value not matched by a field rule: gathered unless empty or known clean.
    unsafe fn string(
        &mut self,
        child: *mut ffi::PyObject,
        key: *mut ffi::PyObject,
        parent: *mut ffi::PyObject,
        slot: Slot,
    ) -> PyResult<()> {
        let full = if ffi::PyUnicode_CheckExact(child) != 0 {
            ffi::PyUnicode_GET_LENGTH(child) > 0
        } else {
            status(self.py, ffi::PyObject_IsTrue(child))? != 0
        };
        if full && self.not_clean(child, key)? {
            self.gather(child, key, parent, slot)?;
        }
        Ok(())
    }

    /// One value of an object or list, as the Python walks' shared dispatch handles it; the copy
    /// to put in its place when it is a container.
    unsafe fn value(
        &mut self,
        child: *mut ffi::PyObject,
        key: *mut ffi::PyObject,
        parent: *mut ffi::PyObject,
        slot: Slot,
        states: *mut ffi::PyObject,
        inner: *mut ffi::PyObject,
    ) -> PyResult<Option<Owned>> {
        let none = ffi::Py_None();
        let unmatched = inner == none;
        let kind = ffi::Py_TYPE(child);
        if unmatched && kind == ptr::addr_of_mut!(ffi::PyUnicode_Type) {
            self.string(child, key, parent, slot)?;
        } else if kind == ptr::addr_of_mut!(ffi::PyDict_Type) {
            return Ok(Some(self.walk_object(child, states, inner)?));
        } else if kind == ptr::addr_of_mut!(ffi::PyList_Type) {
            return Ok(Some(self.walk_items(child, key, states, inner)?));
        } else if unmatched && kind == ptr::addr_of_mut!(ffi::PyFloat_Type) {
            let number = ffi::PyFloat_AS_DOUBLE(child);
            if !number.is_finite() {
                self.finite = false; // NaN or an infinity
            }
        } else if unmatched && kind == ptr::addr_of_mut!(ffi::PyLong_Type) {
            let mut overflow = 0;
            let number = ffi::PyLong_AsLongLongAndOverflow(child, &mut overflow);
            if number == -1 && overflow == 0 && !ffi::PyErr_Occurred().is_null() {
                return Err(PyErr::fetch(self.py));
            }
            if overflow != 0 || number >= 1_000_000 || number <= -1_000_000 {
                let digits = owned(self.py, ffi::PyObject_Str(child))?;
                if self.not_clean(digits.0, key)? {
                    self.gather(digits.0, key, parent, slot)?;
                }
            }
        } else if child == none || kind == ptr::addr_of_mut!(ffi::PyBool_Type) {
            // never scanned nor masked
        } else if unmatched && ffi::PyUnicode_Check(child) != 0 {
            self.string(child, key, parent, slot)?;
        } else if ffi::PyDict_Check(child) != 0 {
            return Ok(Some(self.walk_object(child, states, inner)?));
        } else if ffi::PyList_Check(child) != 0 || ffi::PyTuple_Check(child) != 0 {
            return Ok(Some(self.walk_items(child, key, states, inner)?));
        } else {
            let slot = self.slot_object(slot)?;
            self.call(
                self.collected,
                intern!(self.py, "leaf"),
                &[child, parent, slot.0, key, inner],
            )?;
        }
        Ok(None)
    }
}

/// `Collected.walk(collected, value, key, states, matched)`: the copy of `value` (a dict, list or
/// tuple), with what it holds gathered into `collected` as the Python walk gathers it.
#[pyfunction]
pub fn walk(
    py: Python<'_>,
    collected: &PyAny,
    value: &PyAny,
    key: &PyAny,
    states: &PyAny,
    matched: &PyAny,
) -> PyResult<PyObject> {
    let mut walker = Walker::new(py, collected)?;
    // SAFETY: the GIL is held, and every pointer used is alive: the arguments and the attributes
    // read by `Walker::new` for this call, the values they hold for as long as they are used.
    let copy = unsafe {
        let (value, key, states, matched) = (
            value.as_ptr(),
            key.as_ptr(),
            states.as_ptr(),
            matched.as_ptr(),
        );
        if ffi::PyDict_Check(value) != 0 {
            walker.walk_object(value, states, matched)?
        } else {
            walker.walk_items(value, key, states, matched)?
        }
    };
    if !walker.finite {
        collected.setattr(intern!(py, "finite"), false)?;
    }
    // SAFETY: `copy` is a new reference, handed over.
    Ok(unsafe { PyObject::from_owned_ptr(py, copy.into_ptr()) })
}
