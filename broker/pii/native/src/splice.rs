//! The masker's write-back: `spliced_back` of broker/pii/splicing.py, which stays the reference
//! (and the fallback where this module is not built).
//!
//! Each scanned string with findings is rebuilt from its own storage (1, 2 or 4 bytes a
//! character; offsets are Python's indices) and the pieces that replace its findings: an
//! entity's fixed text, its token (`tokens[entity, value]`) or what its operator returns (a call
//! back into Python), as `plans` says. The result is made in the narrowest storage that holds
//! it, as `"".join` makes it. What the fast path does not take as it comes (findings that are no
//! 4-tuples of exact ints, offsets a slice would read differently, plans or pieces that are no
//! exact str) goes to the Python `splice` for that string, which then does exactly what the
//! reference does, errors included. Counts are kept per entity here and added to `counts` in the
//! order entities were first counted, before any string goes to Python and at the end, so the
//! dict's order is the reference's too. tests/pii/test_native_splice.py holds the two alike.
//!
//! Written against the C API (src/pyobj.rs), as the walk is: no PyO3 pool entries per string.

use crate::pyobj::{new_pair, owned, status, Owned};
use crate::pystr::{chars, copy_into, slice_width, storage, width};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3::AsPyPointer;

/// What an entity's values become (`Plan` of broker/pii/splicing.py).
enum Action {
    Keep,
    Fixed(Owned),
    Token,
    Call(Owned),
    /// A plan the fast path does not read: strings holding the entity go to Python.
    Python,
}

struct Entity {
    entity: Owned,
    action: Action,
    /// Values masked since the last `flush`.
    count: usize,
}

/// A piece of the result: a slice of the text, or a whole str.
enum Piece {
    Text(usize, usize),
    Str(*mut ffi::PyObject),
}

/// The one write-back: its arguments and what it has learnt of the entities.
struct Splicer<'py> {
    py: Python<'py>,
    tokens: *mut ffi::PyObject,
    counts: *mut ffi::PyObject,
    plans: *mut ffi::PyObject,
    entities: Vec<Entity>,
    /// Per finding masked in the current string: start, end, entry in `entities`.
    cuts: Vec<(usize, usize, usize)>,
    pieces: Vec<Piece>,
    held: Vec<Owned>,
}

/// The outcome of the fast path for one string.
enum Spliced {
    Done(Owned),
    Python,
}

impl<'py> Splicer<'py> {
    fn new(py: Python<'py>, tokens: &PyAny, counts: &PyDict, plans: &PyAny) -> Self {
        Splicer {
            py,
            tokens: tokens.as_ptr(),
            counts: counts.as_ptr(),
            plans: plans.as_ptr(),
            entities: Vec::new(),
            cuts: Vec::new(),
            pieces: Vec::new(),
            held: Vec::new(),
        }
    }

    /// `text` masked at `spans`: here, or by Python's `splice` where the fast path hands it back
    /// (the counts kept here added to `counts` first, as that one adds to them).
    unsafe fn masked(
        &mut self,
        text: *mut ffi::PyObject,
        spans: *mut ffi::PyObject,
    ) -> PyResult<Owned> {
        Ok(match self.splice(text, spans)? {
            Spliced::Done(masked) => masked,
            Spliced::Python => {
                self.flush()?;
                let py = self.py;
                let splice = py.import("broker.pii.splicing")?.getattr("splice")?;
                let masked = splice.call1((
                    PyObject::from_borrowed_ptr(py, text),
                    PyObject::from_borrowed_ptr(py, spans),
                    PyObject::from_borrowed_ptr(py, self.tokens),
                    PyObject::from_borrowed_ptr(py, self.counts),
                    PyObject::from_borrowed_ptr(py, self.plans),
                ))?;
                Owned::from_borrowed(masked.as_ptr())
            }
        })
    }

    /// The entry of `entity` in `entities`, its plan read (`plans[entity]`) on first sight.
    unsafe fn entry(&mut self, entity: *mut ffi::PyObject) -> PyResult<usize> {
        if let Some(at) = self.entities.iter().position(|e| e.entity.0 == entity) {
            return Ok(at);
        }
        let plan = owned(self.py, ffi::PyObject_GetItem(self.plans, entity))?;
        let action = self.action(plan.0)?;
        self.entities.push(Entity {
            entity: Owned::from_borrowed(entity),
            action,
            count: 0,
        });
        Ok(self.entities.len() - 1)
    }

    /// `keep, operate, fixed = plan` read as the reference reads it.
    unsafe fn action(&self, plan: *mut ffi::PyObject) -> PyResult<Action> {
        if ffi::PyTuple_CheckExact(plan) == 0 || ffi::PyTuple_GET_SIZE(plan) != 3 {
            return Ok(Action::Python);
        }
        let (keep, operate, fixed) = (
            ffi::PyTuple_GET_ITEM(plan, 0),
            ffi::PyTuple_GET_ITEM(plan, 1),
            ffi::PyTuple_GET_ITEM(plan, 2),
        );
        if status(self.py, ffi::PyObject_IsTrue(keep))? != 0 {
            return Ok(Action::Keep);
        }
        let none = ffi::Py_None();
        Ok(if fixed != none {
            if ffi::PyUnicode_CheckExact(fixed) != 0 {
                Action::Fixed(Owned::from_borrowed(fixed))
            } else {
                Action::Python
            }
        } else if operate == none {
            Action::Token
        } else {
            Action::Call(Owned::from_borrowed(operate))
        })
    }

    /// `counts[entity] += n` for each entity counted since the last flush, in `entities`' order.
    unsafe fn flush(&mut self) -> PyResult<()> {
        for entry in self.entities.iter_mut().filter(|e| e.count > 0) {
            let had = owned(self.py, ffi::PyObject_GetItem(self.counts, entry.entity.0))?;
            let more = owned(self.py, ffi::PyLong_FromSize_t(entry.count))?;
            let sum = owned(self.py, ffi::PyNumber_Add(had.0, more.0))?;
            status(
                self.py,
                ffi::PyObject_SetItem(self.counts, entry.entity.0, sum.0),
            )?;
            entry.count = 0;
        }
        Ok(())
    }

    /// `splice(text, spans, ...)`, or `Python` where the fast path does not take them as they come.
    unsafe fn splice(
        &mut self,
        text: *mut ffi::PyObject,
        spans: *mut ffi::PyObject,
    ) -> PyResult<Spliced> {
        if ffi::PyUnicode_CheckExact(text) == 0 {
            return Ok(Spliced::Python);
        }
        let listed = ffi::PyList_CheckExact(spans) != 0;
        if !listed && ffi::PyTuple_CheckExact(spans) == 0 {
            return Ok(Spliced::Python);
        }
        let chars = chars(self.py, text)?;
        let length = ffi::PyUnicode_GET_LENGTH(text) as usize;
        // First the findings and plans, read before any piece is made (no call twice on a way back).
        self.cuts.clear();
        let mut position = 0;
        let mut k = 0;
        loop {
            // The size read at each step, as a `for` over a list reads it (a plan's `__missing__`
            // runs Python code; the finding is held while it runs).
            let size = if listed {
                ffi::PyList_GET_SIZE(spans)
            } else {
                ffi::PyTuple_GET_SIZE(spans)
            };
            if k >= size {
                break;
            }
            let held = Owned::from_borrowed(if listed {
                ffi::PyList_GET_ITEM(spans, k)
            } else {
                ffi::PyTuple_GET_ITEM(spans, k)
            });
            k += 1;
            let found = held.0;
            if ffi::PyTuple_CheckExact(found) == 0 || ffi::PyTuple_GET_SIZE(found) != 4 {
                return Ok(Spliced::Python);
            }
            let (start, end) = (
                ffi::PyTuple_GET_ITEM(found, 0),
                ffi::PyTuple_GET_ITEM(found, 1),
            );
            if ffi::PyLong_CheckExact(start) == 0 || ffi::PyLong_CheckExact(end) == 0 {
                return Ok(Spliced::Python);
            }
            let entry = self.entry(ffi::PyTuple_GET_ITEM(found, 2))?;
            match self.entities[entry].action {
                Action::Keep => continue,
                Action::Python => return Ok(Spliced::Python),
                _ => {}
            }
            let start = ffi::PyLong_AsSsize_t(start);
            let end = ffi::PyLong_AsSsize_t(end);
            if start == -1 || end == -1 {
                ffi::PyErr_Clear(); // (a big int: Python's slices read it their way)
                return Ok(Spliced::Python);
            }
            let (start, end) = (start as usize, end as usize);
            if start < position || end < start || end > length {
                return Ok(Spliced::Python);
            }
            self.cuts.push((start, end, entry));
            position = end;
        }
        if self.cuts.is_empty() {
            return Ok(Spliced::Done(Owned::from_borrowed(text))); // "".join([text[0:]]) is text
        }
        // Then the pieces, in the reference's order of calls.
        self.pieces.clear();
        self.held.clear();
        let mut position = 0;
        let mut total = 0;
        let mut widest = 0;
        for &(start, end, entry) in &self.cuts {
            self.pieces.push(Piece::Text(position, start));
            total += start - position;
            let entity = &self.entities[entry];
            let piece = match &entity.action {
                Action::Fixed(fixed) => fixed.0,
                Action::Token => {
                    let value = owned(
                        self.py,
                        ffi::PyUnicode_Substring(text, start as isize, end as isize),
                    )?;
                    let key = new_pair(self.py, entity.entity.0, value.0)?;
                    let token = owned(self.py, ffi::PyObject_GetItem(self.tokens, key.0))?;
                    let raw = token.0;
                    self.held.push(token);
                    raw
                }
                Action::Call(operate) => {
                    let value = owned(
                        self.py,
                        ffi::PyUnicode_Substring(text, start as isize, end as isize),
                    )?;
                    let made = owned(self.py, ffi::PyObject_CallOneArg(operate.0, value.0))?;
                    let raw = made.0;
                    self.held.push(made);
                    raw
                }
                Action::Keep | Action::Python => unreachable!("taken out above"),
            };
            if ffi::PyUnicode_CheckExact(piece) == 0 {
                return Ok(Spliced::Python); // `"".join` raises its TypeError there
            }
            #[allow(deprecated)]
            status(self.py, ffi::PyUnicode_READY(piece))?;
            widest = widest.max(width(piece));
            total += ffi::PyUnicode_GET_LENGTH(piece) as usize;
            self.pieces.push(Piece::Str(piece));
            position = end;
        }
        self.pieces.push(Piece::Text(position, length));
        total += length - position;
        // The result's storage: the widest of its pieces, the text's kept slices looked at only
        // where the text is wider than the other pieces.
        let top = width(text);
        if top > widest {
            for piece in &self.pieces {
                if let Piece::Text(start, end) = *piece {
                    widest = widest.max(slice_width(&chars, start, end, top));
                    if widest == top {
                        break;
                    }
                }
            }
        }
        let most = [0x7f, 0xff, 0xffff, 0x10ffff][widest as usize];
        let result = owned(self.py, ffi::PyUnicode_New(total as isize, most))?;
        let mut to = storage(result.0, total);
        let mut at = 0;
        for piece in &self.pieces {
            match *piece {
                Piece::Text(start, end) => {
                    copy_into(&mut to, at, &chars, start, end);
                    at += end - start;
                }
                Piece::Str(made) => {
                    let from = self::chars(self.py, made)?;
                    let n = ffi::PyUnicode_GET_LENGTH(made) as usize;
                    copy_into(&mut to, at, &from, 0, n);
                    at += n;
                }
            }
        }
        for &(_, _, entry) in &self.cuts {
            self.entities[entry].count += 1;
        }
        self.held.clear();
        Ok(Spliced::Done(result))
    }
}

/// `spliced_back(texts, findings, slots, key_slots, tokens, counts, plans)`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn splice_back(
    py: Python<'_>,
    texts: &PyList,
    findings: &PyList,
    slots: &PyList,
    key_slots: &PyAny,
    tokens: &PyAny,
    counts: &PyDict,
    plans: &PyAny,
) -> PyResult<PyObject> {
    let mut splicer = Splicer::new(py, tokens, counts, plans);
    let keyed = PyList::empty(py);
    // SAFETY: with the GIL held; every object read is held by the lists passed in, or owned here.
    unsafe {
        let key_slots_empty = ffi::PyAnySet_Check(key_slots.as_ptr()) != 0
            && ffi::PySet_Size(key_slots.as_ptr()) == 0;
        let mut index = 0;
        while index < ffi::PyList_GET_SIZE(findings.as_ptr()) {
            let spans = Owned::from_borrowed(ffi::PyList_GET_ITEM(findings.as_ptr(), index));
            if status(py, ffi::PyObject_IsTrue(spans.0))? == 0 {
                index += 1;
                continue;
            }
            let text = Owned::from_borrowed(owned_item(py, texts.as_ptr(), index)?);
            let masked = splicer.masked(text.0, spans.0)?;
            let slot = Owned::from_borrowed(owned_item(py, slots.as_ptr(), index)?);
            if ffi::PyTuple_CheckExact(slot.0) == 0 || ffi::PyTuple_GET_SIZE(slot.0) != 2 {
                let pair: &PyAny = py.from_borrowed_ptr(slot.0);
                pair.extract::<(&PyAny, &PyAny)>()?; // raises as unpacking it does
                return Err(pyo3::exceptions::PyTypeError::new_err(
                    "a slot is a 2-tuple",
                ));
            }
            let container = ffi::PyTuple_GET_ITEM(slot.0, 0);
            let key = ffi::PyTuple_GET_ITEM(slot.0, 1);
            let is_key = !key_slots_empty
                && {
                    let number = owned(py, ffi::PyLong_FromSsize_t(index))?;
                    status(py, ffi::PySequence_Contains(key_slots.as_ptr(), number.0))? != 0
                }
                && ffi::PyDict_Check(container) != 0
                && ffi::PyUnicode_Check(key) != 0;
            if is_key {
                let entry = owned(py, ffi::PyTuple_New(3))?;
                ffi::PyTuple_SET_ITEM(entry.0, 0, Owned::from_borrowed(container).into_ptr());
                ffi::PyTuple_SET_ITEM(entry.0, 1, Owned::from_borrowed(key).into_ptr());
                ffi::PyTuple_SET_ITEM(entry.0, 2, masked.into_ptr());
                status(py, ffi::PyList_Append(keyed.as_ptr(), entry.0))?;
            } else {
                status(py, ffi::PyObject_SetItem(container, key, masked.0))?;
            }
            index += 1;
        }
        splicer.flush()?;
    }
    Ok(keyed.into())
}

/// `list[index]`, borrowed, or the IndexError indexing raises.
unsafe fn owned_item(
    py: Python<'_>,
    list: *mut ffi::PyObject,
    index: isize,
) -> PyResult<*mut ffi::PyObject> {
    let item = ffi::PyList_GetItem(list, index);
    if item.is_null() {
        Err(PyErr::fetch(py))
    } else {
        Ok(item)
    }
}

/// `spliced_each(texts, findings, tokens, counts, plans)`: each string with findings spliced, None
/// for the others (the scanned document's write-back: its values have no containers).
#[pyfunction]
pub fn splice_each(
    py: Python<'_>,
    texts: &PyList,
    findings: &PyList,
    tokens: &PyAny,
    counts: &PyDict,
    plans: &PyAny,
) -> PyResult<PyObject> {
    let mut splicer = Splicer::new(py, tokens, counts, plans);
    // SAFETY: with the GIL held; every object read is held by the lists passed in, or owned here.
    unsafe {
        let size = ffi::PyList_GET_SIZE(findings.as_ptr());
        let out = owned(py, ffi::PyList_New(size))?;
        for index in 0..size {
            ffi::PyList_SET_ITEM(
                out.0,
                index,
                Owned::from_borrowed(ffi::Py_None()).into_ptr(),
            );
        }
        let mut index = 0;
        while index < ffi::PyList_GET_SIZE(findings.as_ptr()) {
            let spans = Owned::from_borrowed(ffi::PyList_GET_ITEM(findings.as_ptr(), index));
            if status(py, ffi::PyObject_IsTrue(spans.0))? == 0 {
                index += 1;
                continue;
            }
            let text = Owned::from_borrowed(owned_item(py, texts.as_ptr(), index)?);
            let masked = splicer.masked(text.0, spans.0)?;
            if index < ffi::PyList_GET_SIZE(out.0) {
                status(py, ffi::PyList_SetItem(out.0, index, masked.into_ptr()))?;
            }
            index += 1;
        }
        splicer.flush()?;
        Ok(PyObject::from_owned_ptr(py, out.into_ptr()))
    }
}
