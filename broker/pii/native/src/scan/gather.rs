//! `scan_json`: the text tokenised (mod.rs), then walked as `Collected.walk` walks the parsed
//! document, by the same code where it can be (src/walk/: the key rules, the clean pairs, the
//! gathering): the same texts, keys, key slots and values masked whole in the same order, the
//! same `FieldRules` memos read and filled, the same Python calls (`key_info`, `child`, `keep`,
//! `strongest`, `leaf`) with equal arguments. Only the strings gathered (and those masked
//! whole) are made as Python objects. No slots are gathered: the event of each text is kept in
//! the `Scan` (its masked text comes back in a list by text, `splice_each`'s); a value masked
//! whole has the slot (`replaced`, its event), where the write-back puts what it becomes.

use super::{decode_into, tokenise, Event, ARRAY, FLOAT, INT, OBJECT, STRING};
use crate::clean_memo::key_chars;
use crate::pyobj::{owned, status, Owned, Py_EnterRecursiveCall};
use crate::pystr::{chars, Chars};
use crate::walk::{Slot, Walker, DEEPER};
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use pyo3::AsPyPointer;
use std::os::raw::{c_char, c_void};

/// A document scanned: its text and events, and its keys as Python strings (by number).
#[pyclass(module = "broker.pii._native")]
pub struct Scan {
    pub(super) text: PyObject,
    pub(super) events: Vec<super::Event>,
    pub(super) keys: Vec<PyObject>,
    /// The event of each text gathered (`collected.texts`), in order.
    pub(super) places: Vec<u32>,
}

struct Gatherer<'py, 'c> {
    walker: Walker<'py>,
    chars: &'c Chars<'c>,
    events: &'c [Event],
    names: &'c [Box<[u32]>],
    replaced: *mut ffi::PyObject,
    keys: Vec<Option<Owned>>,
    decoded: Vec<u32>,
}

/// A new str of `data` (`kind` bytes a character), in the narrowest storage that holds it.
unsafe fn new_str(
    py: Python<'_>,
    kind: u32,
    data: *const c_void,
    length: usize,
) -> PyResult<Owned> {
    owned(
        py,
        ffi::PyUnicode_FromKindAndData(kind as _, data, length as ffi::Py_ssize_t),
    )
}

impl<'py, 'c> Gatherer<'py, 'c> {
    /// `decoded` holds the escaped string between `start` and `end`, decoded.
    fn decode(&mut self, start: usize, end: usize) {
        self.decoded.clear();
        match self.chars {
            Chars::One(c) => decode_into(&c[start..end], &mut self.decoded),
            Chars::Two(c) => decode_into(&c[start..end], &mut self.decoded),
            Chars::Four(c) => decode_into(&c[start..end], &mut self.decoded),
        }
    }

    /// The string (or a number's digits) at `event`, decoded.
    unsafe fn text(&mut self, event: &Event) -> PyResult<Owned> {
        let (start, end) = (event.start as usize, event.end as usize);
        let py = self.walker.py;
        if event.escaped {
            self.decode(start, end);
            let data = self.decoded.as_ptr() as *const c_void;
            return new_str(py, 4, data, self.decoded.len());
        }
        let (kind, data) = match self.chars {
            Chars::One(c) => (1, c[start..].as_ptr() as *const c_void),
            Chars::Two(c) => (2, c[start..].as_ptr() as *const c_void),
            Chars::Four(c) => (4, c[start..].as_ptr() as *const c_void),
        };
        new_str(py, kind, data, end - start)
    }

    /// The key numbered `number`, one str for all its occurrences (as `json.loads` makes it).
    unsafe fn key(&mut self, number: u32) -> PyResult<Owned> {
        let number = number as usize;
        if let Some(key) = &self.keys[number] {
            return Ok(Owned::from_borrowed(key.0));
        }
        let name = &self.names[number];
        let key = new_str(
            self.walker.py,
            4,
            name.as_ptr() as *const c_void,
            name.len(),
        )?;
        self.keys[number] = Some(Owned::from_borrowed(key.0));
        Ok(key)
    }

    /// A string (or a long integer's digits) no field rule matched: gathered unless known clean.
    unsafe fn unmatched(
        &mut self,
        event: &Event,
        key: *mut ffi::PyObject,
        slot: Slot,
    ) -> PyResult<()> {
        let clean = match self.known_clean(event, key)? {
            Some(clean) => clean,
            None => {
                let text = self.text(event)?;
                if self.walker.not_clean(text.0, key)? {
                    self.walker.gather(text.0, key, self.replaced, slot)?;
                }
                return Ok(());
            }
        };
        if !clean {
            let text = self.text(event)?;
            self.walker.gather(text.0, key, self.replaced, slot)?;
        }
        Ok(())
    }

    /// Whether the memo holds the value at `event` under `key`, looked up on its characters in
    /// the text (no str made of it); None where the memo is no `CleanMemo` (the walk looks up
    /// the str).
    unsafe fn known_clean(
        &mut self,
        event: &Event,
        key: *mut ffi::PyObject,
    ) -> PyResult<Option<bool>> {
        let Some(memo) = self.walker.memo else {
            return Ok(None);
        };
        let key = key_chars(self.walker.py, key)?; // (a scan's keys are its own strs, or None)
        let (start, end) = (event.start as usize, event.end as usize);
        let memo = memo.try_borrow()?;
        if event.escaped {
            self.decode(start, end);
            return Ok(Some(memo.holds(&Chars::Four(&self.decoded), key.as_ref())));
        }
        let text = match self.chars {
            Chars::One(c) => Chars::One(&c[start..end]),
            Chars::Two(c) => Chars::Two(&c[start..end]),
            Chars::Four(c) => Chars::Four(&c[start..end]),
        };
        Ok(Some(memo.holds(&text, key.as_ref())))
    }

    /// `collected.leaf(value, replaced, at, key, matched)`: a value a field rule matched.
    unsafe fn leaf(
        &self,
        value: *mut ffi::PyObject,
        at: usize,
        key: *mut ffi::PyObject,
        matched: *mut ffi::PyObject,
    ) -> PyResult<()> {
        let py = self.walker.py;
        let slot = owned(py, ffi::PyLong_FromSize_t(at))?;
        let name = intern!(py, "leaf");
        self.walker.call(
            self.walker.collected,
            name,
            &[value, self.replaced, slot.0, key, matched],
        )?;
        Ok(())
    }

    /// The value at event `at` (its key `key`), walked: the event after it.
    unsafe fn value(
        &mut self,
        at: usize,
        key: *mut ffi::PyObject,
        states: *mut ffi::PyObject,
        matched: *mut ffi::PyObject,
    ) -> PyResult<usize> {
        let py = self.walker.py;
        let event = self.events[at];
        let unmatched = matched == ffi::Py_None();
        let slot = Slot::Index(at as isize);
        match event.kind {
            OBJECT => return self.container(at, key, states, matched, true),
            ARRAY => return self.container(at, key, states, matched, false),
            STRING if unmatched && event.end > event.start => self.unmatched(&event, key, slot)?,
            STRING if unmatched => {} // "": never gathered
            STRING => {
                let text = self.text(&event)?;
                self.leaf(text.0, at, key, matched)?;
            }
            INT if unmatched => {
                let digits = (event.end - event.start) as usize;
                let signed = self.first(&event) == 0x2d;
                if digits - usize::from(signed) >= 7 {
                    self.unmatched(&event, key, slot)?;
                }
            }
            INT | FLOAT if !unmatched => {
                let text = self.text(&event)?;
                let number = if event.kind == INT {
                    ffi::PyNumber_Long(text.0)
                } else {
                    ffi::PyFloat_FromString(text.0)
                };
                let number = owned(py, number)?;
                self.leaf(number.0, at, key, matched)?;
            }
            _ => {} // a float left as it is (finite: others are declined), true, false, null
        }
        Ok(at + 1)
    }

    fn first(&self, event: &Event) -> u32 {
        let at = event.start as usize;
        match self.chars {
            Chars::One(c) => c[at] as u32,
            Chars::Two(c) => c[at] as u32,
            Chars::Four(c) => c[at],
        }
    }

    /// `Collected.walk_object` or `walk_items` of the container opened at event `at`.
    unsafe fn container(
        &mut self,
        at: usize,
        key: *mut ffi::PyObject,
        states: *mut ffi::PyObject,
        matched: *mut ffi::PyObject,
        object: bool,
    ) -> PyResult<usize> {
        if Py_EnterRecursiveCall(DEEPER.as_ptr() as *const c_char) != 0 {
            return Err(PyErr::fetch(self.walker.py));
        }
        let result = self.walk(at, key, states, matched, object);
        ffi::Py_LeaveRecursiveCall();
        result
    }

    unsafe fn walk(
        &mut self,
        at: usize,
        key: *mut ffi::PyObject,
        states: *mut ffi::PyObject,
        matched: *mut ffi::PyObject,
        object: bool,
    ) -> PyResult<usize> {
        let py = self.walker.py;
        let open = self.events[at];
        let close = open.up as usize;
        // the size matters to path rules only (an index counted from the end)
        let size = if status(py, ffi::PyObject_IsTrue(states))? != 0 {
            Some(owned(py, ffi::PyLong_FromSize_t(open.extra as usize))?)
        } else {
            None
        };
        let size_ptr = size.as_ref().map_or(std::ptr::null_mut(), |size| size.0);
        let mut next = at + 1;
        let mut index = 0;
        while next < close {
            if object {
                let name = self.key(self.events[next].extra)?;
                let slot = Slot::Index(next as isize);
                let (child_states, inner) =
                    self.walker
                        .keyed(name.0, self.replaced, slot, states, matched, size_ptr)?;
                next = self.value(next + 1, name.0, child_states.0, inner.0)?;
            } else {
                let (child_states, inner) = if size_ptr.is_null() {
                    let empty = Owned::from_borrowed(self.walker.empty.0);
                    (empty, Owned::from_borrowed(matched))
                } else {
                    self.walker.indexed(index, size_ptr, states, matched)?
                };
                next = self.value(next, key, child_states.0, inner.0)?;
                index += 1;
            }
        }
        Ok(close + 1)
    }
}

/// `collect` of `text` parsed, into `collected` (a new `Collected`: no `slots`; the slot of a value
/// masked whole in `replaced`);
/// None (and nothing gathered) where the Python path is to decide (see mod.rs).
#[pyfunction]
pub fn scan_json(
    py: Python<'_>,
    collected: &PyAny,
    text: &PyString,
    replaced: &PyDict,
) -> PyResult<Option<Scan>> {
    // SAFETY: the GIL is held; `text` is alive for this call and its storage read only in it.
    let chars = unsafe { chars(py, text.as_ptr())? };
    let tokens = match &chars {
        Chars::One(c) => tokenise(c),
        Chars::Two(c) => tokenise(c),
        Chars::Four(c) => tokenise(c),
    };
    let Some(tokens) = tokens else {
        return Ok(None);
    };
    let mut walker = Walker::new(py, collected)?;
    walker.places = Some(Vec::new());
    let start = walker.rules.getattr(intern!(py, "start"))?;
    let mut gatherer = Gatherer {
        walker,
        chars: &chars,
        events: &tokens.events,
        names: &tokens.keys,
        replaced: replaced.as_ptr(),
        keys: (0..tokens.keys.len()).map(|_| None).collect(),
        decoded: Vec::new(),
    };
    let object = tokens.events[0].kind == OBJECT;
    // SAFETY: the GIL is held; every object used is held by the arguments or owned here.
    unsafe {
        let none = ffi::Py_None();
        gatherer.container(0, none, start.as_ptr(), none, object)?;
    }
    let places = gatherer.walker.places.take().unwrap_or_default();
    let keys = gatherer
        .keys
        .into_iter()
        .map(|key| match key {
            // SAFETY: an owned reference handed over.
            Some(key) => unsafe { PyObject::from_owned_ptr(py, key.into_ptr()) },
            None => py.None(),
        })
        .collect();
    Ok(Some(Scan {
        text: text.into(),
        events: tokens.events,
        keys,
        places,
    }))
}
