//! Python objects through the C API, for the walk: PyO3's owned references go through a pool
//! that would grow by a few entries for every value of a 5 MB result.

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use std::os::raw::{c_char, c_int};
use std::ptr;

// PyO3 0.17's declaration drops the status this returns (-1 and a RecursionError past the limit).
#[allow(clashing_extern_declarations)]
extern "C" {
    pub(crate) fn Py_EnterRecursiveCall(place: *const c_char) -> c_int;
}

/// A strong reference, released when dropped.
pub(crate) struct Owned(pub(crate) *mut ffi::PyObject);

impl Owned {
    /// A new reference to a borrowed object.
    pub(crate) unsafe fn from_borrowed(object: *mut ffi::PyObject) -> Owned {
        ffi::Py_INCREF(object);
        Owned(object)
    }

    /// The reference, handed over to the caller.
    pub(crate) fn into_ptr(self) -> *mut ffi::PyObject {
        let object = self.0;
        std::mem::forget(self);
        object
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: every `Owned` holds a reference it owns, and is only made with the GIL held.
        unsafe { ffi::Py_DECREF(self.0) }
    }
}

/// A new reference returned by the C API, or the exception it set.
pub(crate) unsafe fn owned(py: Python<'_>, object: *mut ffi::PyObject) -> PyResult<Owned> {
    if object.is_null() {
        Err(PyErr::fetch(py))
    } else {
        Ok(Owned(object))
    }
}

/// A C API status (-1 on error), or the exception it set.
pub(crate) unsafe fn status(py: Python<'_>, code: i32) -> PyResult<i32> {
    if code < 0 {
        Err(PyErr::fetch(py))
    } else {
        Ok(code)
    }
}

/// A new tuple of two borrowed objects.
pub(crate) unsafe fn new_pair(
    py: Python<'_>,
    first: *mut ffi::PyObject,
    second: *mut ffi::PyObject,
) -> PyResult<Owned> {
    let pair = owned(py, ffi::PyTuple_New(2))?;
    ffi::Py_INCREF(first);
    ffi::PyTuple_SET_ITEM(pair.0, 0, first);
    ffi::Py_INCREF(second);
    ffi::PyTuple_SET_ITEM(pair.0, 1, second);
    Ok(pair)
}

/// Every key of a dict is an exact `str`.
pub(crate) unsafe fn string_keys(dict: *mut ffi::PyObject) -> bool {
    let mut position: ffi::Py_ssize_t = 0;
    let mut key = ptr::null_mut();
    let mut value = ptr::null_mut();
    while ffi::PyDict_Next(dict, &mut position, &mut key, &mut value) != 0 {
        if ffi::PyUnicode_CheckExact(key) == 0 {
            return false;
        }
    }
    true
}

/// The two items of a pair (`a, b = pair` in Python, for a tuple of two).
pub(crate) unsafe fn pair(py: Python<'_>, object: &Owned) -> PyResult<(Owned, Owned)> {
    if ffi::PyTuple_Check(object.0) == 0 || ffi::PyTuple_GET_SIZE(object.0) != 2 {
        let _ = py;
        return Err(PyTypeError::new_err("expected a pair"));
    }
    Ok((
        Owned::from_borrowed(ffi::PyTuple_GET_ITEM(object.0, 0)),
        Owned::from_borrowed(ffi::PyTuple_GET_ITEM(object.0, 1)),
    ))
}

/// The value of an exact int, if it fits in an `isize`.
///
/// # Safety
/// The GIL is held and `object` is a live object.
pub(crate) unsafe fn int_of(object: *mut ffi::PyObject) -> Option<isize> {
    if ffi::PyLong_CheckExact(object) == 0 {
        return None;
    }
    let value = ffi::PyLong_AsSsize_t(object);
    if !ffi::PyErr_Occurred().is_null() {
        ffi::PyErr_Clear();
        return None;
    }
    Some(value)
}
