//! `Detector.find_many`'s bookkeeping around the finders: where each string starts in the
//! NUL-joined text (`string_starts`) and each resolved finding handed back to its string
//! (`spread_found`). broker/pii/detector.py keeps the Python references (`starts_of`, `spread`),
//! and tests/pii/test_native_find.py holds the two alike. Input of another shape than the
//! detector's own (no exact list, a finding that is no 4-tuple of exact ints starting at or
//! after the first string) goes to the Python reference whole.

use crate::pyobj::{owned, Owned};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::AsPyPointer;

/// The reference named `name` in broker/pii/detector.py, called with `args`.
fn reference(
    py: Python<'_>,
    name: &str,
    args: impl IntoPy<Py<pyo3::types::PyTuple>>,
) -> PyResult<PyObject> {
    let function = py.import("broker.pii.detector")?.getattr(name)?;
    Ok(function.call1(args)?.into())
}

/// `starts_of(texts)`: the index of each string in `"\0".join(texts)`.
#[pyfunction]
pub fn string_starts(py: Python<'_>, texts: &PyAny) -> PyResult<PyObject> {
    // SAFETY: with the GIL held; items are borrowed from `texts`, which no Python code changes here.
    unsafe {
        let list = texts.as_ptr();
        if ffi::PyList_CheckExact(list) == 0 {
            return reference(py, "starts_of", (texts,));
        }
        let size = ffi::PyList_GET_SIZE(list);
        for index in 0..size {
            if ffi::PyUnicode_CheckExact(ffi::PyList_GET_ITEM(list, index)) == 0 {
                return reference(py, "starts_of", (texts,));
            }
        }
        let starts = owned(py, ffi::PyList_New(size))?;
        let mut position: isize = 0;
        for index in 0..size {
            let number = owned(py, ffi::PyLong_FromSsize_t(position))?;
            ffi::PyList_SET_ITEM(starts.0, index, number.into_ptr());
            position += ffi::PyUnicode_GET_LENGTH(ffi::PyList_GET_ITEM(list, index)) + 1;
        }
        Ok(PyObject::from_owned_ptr(py, starts.into_ptr()))
    }
}

/// The (start, end) of each finding, when all are 4-tuples of exact ints with `start >= first`.
unsafe fn spans(found: *mut ffi::PyObject, first: isize) -> Option<Vec<(isize, isize)>> {
    let size = ffi::PyList_GET_SIZE(found);
    let mut spans = Vec::with_capacity(size as usize);
    for k in 0..size {
        let item = ffi::PyList_GET_ITEM(found, k);
        if ffi::PyTuple_CheckExact(item) == 0 || ffi::PyTuple_GET_SIZE(item) != 4 {
            return None;
        }
        let (start, end) = (
            ffi::PyTuple_GET_ITEM(item, 0),
            ffi::PyTuple_GET_ITEM(item, 1),
        );
        if ffi::PyLong_CheckExact(start) == 0 || ffi::PyLong_CheckExact(end) == 0 {
            return None;
        }
        let (start, end) = (ffi::PyLong_AsSsize_t(start), ffi::PyLong_AsSsize_t(end));
        if !ffi::PyErr_Occurred().is_null() {
            ffi::PyErr_Clear(); // (a big int: the reference's arithmetic reads it its way)
            return None;
        }
        if start < first {
            return None;
        }
        spans.push((start, end));
    }
    Some(spans)
}

/// `spread(found, starts)`: each finding, made relative to the string it starts in, in that
/// string's list (the last string starting at or before it, as `bisect_right` finds it).
#[pyfunction]
pub fn spread_found(py: Python<'_>, found: &PyAny, starts: &PyAny) -> PyResult<PyObject> {
    // SAFETY: with the GIL held; items are borrowed from `found` and `starts`, which no Python
    // code changes while they are read (only lists and tuples are built here).
    unsafe {
        let (list, bases) = (found.as_ptr(), starts.as_ptr());
        if ffi::PyList_CheckExact(list) == 0 || ffi::PyList_CheckExact(bases) == 0 {
            return reference(py, "spread", (found, starts));
        }
        let count = ffi::PyList_GET_SIZE(bases);
        let mut offsets = Vec::with_capacity(count as usize);
        for index in 0..count {
            let base = ffi::PyList_GET_ITEM(bases, index);
            if ffi::PyLong_CheckExact(base) == 0 {
                return reference(py, "spread", (found, starts));
            }
            let base = ffi::PyLong_AsSsize_t(base);
            if !ffi::PyErr_Occurred().is_null() {
                ffi::PyErr_Clear();
                return reference(py, "spread", (found, starts));
            }
            if index > 0 && base < offsets[index as usize - 1] {
                return reference(py, "spread", (found, starts)); // (bisect needs them sorted)
            }
            offsets.push(base);
        }
        let first = match offsets.first() {
            Some(&first) => first,
            None if ffi::PyList_GET_SIZE(list) == 0 => 0,
            None => return reference(py, "spread", (found, starts)),
        };
        let spans = match spans(list, first) {
            Some(spans) => spans,
            None => return reference(py, "spread", (found, starts)),
        };
        // each list made as long as it will be, and filled in place (no append grows one)
        let homes: Vec<usize> = spans
            .iter()
            .map(|&(start, _)| offsets.partition_point(|&base| base <= start) - 1)
            .collect();
        let mut sizes = vec![0isize; count as usize];
        for &index in &homes {
            sizes[index] += 1;
        }
        let results = owned(py, ffi::PyList_New(count))?;
        for (index, &size) in sizes.iter().enumerate() {
            let list = owned(py, ffi::PyList_New(size))?.into_ptr();
            ffi::PyList_SET_ITEM(results.0, index as isize, list);
        }
        let mut filled = vec![0isize; count as usize];
        for (k, (&(start, end), &index)) in spans.iter().zip(&homes).enumerate() {
            let base = offsets[index];
            let item = ffi::PyList_GET_ITEM(list, k as isize);
            let tuple = owned(py, ffi::PyTuple_New(4))?;
            let relative = owned(py, ffi::PyLong_FromSsize_t(start - base))?;
            ffi::PyTuple_SET_ITEM(tuple.0, 0, relative.into_ptr());
            let relative = owned(py, ffi::PyLong_FromSsize_t(end - base))?;
            ffi::PyTuple_SET_ITEM(tuple.0, 1, relative.into_ptr());
            for at in 2..4 {
                let kept = Owned::from_borrowed(ffi::PyTuple_GET_ITEM(item, at));
                ffi::PyTuple_SET_ITEM(tuple.0, at, kept.into_ptr());
            }
            let list = ffi::PyList_GET_ITEM(results.0, index as isize);
            ffi::PyList_SET_ITEM(list, filled[index], tuple.into_ptr());
            filled[index] += 1;
        }
        Ok(PyObject::from_owned_ptr(py, results.into_ptr()))
    }
}
