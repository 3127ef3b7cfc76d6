//! The values to tokenise: `requested_tokens` of broker/pii/splicing.py, which stays the
//! reference. Each finding of a tokenised entity gives (entity, value), in order; a string whose
//! findings are not all 4-tuples of exact ints within it and an exact str goes to the Python
//! `requested` whole, and a `tokenized` that is no exact set or frozenset everything.
//! tests/pii/test_native_splice.py holds the two alike.

use crate::pyobj::{new_pair, owned, status, Owned};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyList;
use pyo3::AsPyPointer;

/// The spans of one string, when all are (start, end, entity, score) with `0 <= start <= end <=
/// length`: (start, end, entity) each.
unsafe fn spans_of(
    spans: *mut ffi::PyObject,
    length: usize,
    into: &mut Vec<(isize, isize, *mut ffi::PyObject)>,
) -> bool {
    into.clear();
    let listed = ffi::PyList_CheckExact(spans) != 0;
    if !listed && ffi::PyTuple_CheckExact(spans) == 0 {
        return false;
    }
    let size = if listed {
        ffi::PyList_GET_SIZE(spans)
    } else {
        ffi::PyTuple_GET_SIZE(spans)
    };
    for k in 0..size {
        let found = if listed {
            ffi::PyList_GET_ITEM(spans, k)
        } else {
            ffi::PyTuple_GET_ITEM(spans, k)
        };
        if ffi::PyTuple_CheckExact(found) == 0 || ffi::PyTuple_GET_SIZE(found) != 4 {
            return false;
        }
        let (start, end) = (
            ffi::PyTuple_GET_ITEM(found, 0),
            ffi::PyTuple_GET_ITEM(found, 1),
        );
        if ffi::PyLong_CheckExact(start) == 0 || ffi::PyLong_CheckExact(end) == 0 {
            return false;
        }
        let (start, end) = (ffi::PyLong_AsSsize_t(start), ffi::PyLong_AsSsize_t(end));
        if start < 0 || end < start || end as usize > length {
            ffi::PyErr_Clear(); // (a big int: Python's slices read it their way)
            return false;
        }
        let entity = ffi::PyTuple_GET_ITEM(found, 2);
        if ffi::PyUnicode_CheckExact(entity) == 0 {
            return false;
        }
        into.push((start, end, entity));
    }
    true
}

/// `requested_tokens(texts, findings, tokenized)`.
#[pyfunction]
pub fn token_requests(
    py: Python<'_>,
    texts: &PyList,
    findings: &PyList,
    tokenized: &PyAny,
) -> PyResult<PyObject> {
    let found = PyList::empty(py);
    let mut spans = Vec::new();
    // SAFETY: with the GIL held; the spans read are held by `findings` while they are used: no
    // Python code runs in between (`entity in tokenized` of an exact str in an exact set).
    unsafe {
        if ffi::PyAnySet_CheckExact(tokenized.as_ptr()) == 0 {
            let reference = py
                .import("broker.pii.splicing")?
                .getattr("requested_tokens")?;
            return Ok(reference.call1((texts, findings, tokenized))?.into());
        }
        let mut index = 0;
        while index < ffi::PyList_GET_SIZE(findings.as_ptr()) {
            let those = Owned::from_borrowed(ffi::PyList_GET_ITEM(findings.as_ptr(), index));
            if status(py, ffi::PyObject_IsTrue(those.0))? == 0 {
                index += 1;
                continue;
            }
            let item = ffi::PyList_GetItem(texts.as_ptr(), index);
            if item.is_null() {
                return Err(PyErr::fetch(py)); // the IndexError `texts[index]` raises
            }
            let text = Owned::from_borrowed(item);
            let fast = ffi::PyUnicode_CheckExact(text.0) != 0
                && spans_of(
                    those.0,
                    ffi::PyUnicode_GET_LENGTH(text.0) as usize,
                    &mut spans,
                );
            if !fast {
                let requested = py.import("broker.pii.splicing")?.getattr("requested")?;
                requested.call1((
                    PyObject::from_borrowed_ptr(py, text.0),
                    PyObject::from_borrowed_ptr(py, those.0),
                    tokenized,
                    found,
                ))?;
                index += 1;
                continue;
            }
            for &(start, end, entity) in &spans {
                let entity = Owned::from_borrowed(entity);
                if status(py, ffi::PySequence_Contains(tokenized.as_ptr(), entity.0))? == 0 {
                    continue;
                }
                let value = owned(py, ffi::PyUnicode_Substring(text.0, start, end))?;
                let pair = new_pair(py, entity.0, value.0)?;
                status(py, ffi::PyList_Append(found.as_ptr(), pair.0))?;
            }
            index += 1;
        }
    }
    Ok(found.into())
}
