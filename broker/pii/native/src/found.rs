//! The e-mail and IPv4 finders' findings made here, as the (start, end, entity, score) tuples
//! broker/pii/recognizers.py would make of the spans (`emails_found`, `ipv4s_found` there are
//! the references): ~13,000 addresses of each in 5 MB of pii_path's CRM records, whose spans
//! were each a tuple made twice (~0.25 ms per MB each). tests/pii/test_native_found.py holds
//! the two alike.

use crate::pyobj::{owned, Owned};
use crate::text::Text;
use crate::{emails::Emails, ips::Ips};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyStringData};
use std::ffi::CString;

/// `[(start, end, entity, score) for start, end in spans]`, the entity interned (the same
/// object as the literal in Python code).
fn tuples(
    py: Python<'_>,
    spans: &[(usize, usize)],
    entity: &str,
    score: f64,
) -> PyResult<PyObject> {
    let name = CString::new(entity).expect("an entity name holds no NUL");
    // SAFETY: with the GIL held; every object made here is owned until handed to the list.
    unsafe {
        let entity = owned(py, ffi::PyUnicode_InternFromString(name.as_ptr()))?;
        let score = owned(py, ffi::PyFloat_FromDouble(score))?;
        let list = owned(py, ffi::PyList_New(spans.len() as isize))?;
        for (index, &(start, end)) in spans.iter().enumerate() {
            let tuple = owned(py, ffi::PyTuple_New(4))?;
            let start = owned(py, ffi::PyLong_FromSize_t(start))?;
            ffi::PyTuple_SET_ITEM(tuple.0, 0, start.into_ptr());
            let end = owned(py, ffi::PyLong_FromSize_t(end))?;
            ffi::PyTuple_SET_ITEM(tuple.0, 1, end.into_ptr());
            ffi::PyTuple_SET_ITEM(tuple.0, 2, Owned::from_borrowed(entity.0).into_ptr());
            ffi::PyTuple_SET_ITEM(tuple.0, 3, Owned::from_borrowed(score.0).into_ptr());
            ffi::PyList_SET_ITEM(list.0, index as isize, tuple.into_ptr());
        }
        Ok(PyObject::from_owned_ptr(py, list.into_ptr()))
    }
}

/// `scanner(Text::new(chars)).method()` in whichever width Python stores `text`.
macro_rules! spans {
    ($text:expr, $scan:path, $method:ident) => {
        // SAFETY: the data is read while the string (held by the caller) is alive, GIL held.
        match unsafe { $text.data()? } {
            PyStringData::Ucs1(chars) => $scan(Text::new(chars)).$method(),
            PyStringData::Ucs2(chars) => $scan(Text::new(chars)).$method(),
            PyStringData::Ucs4(chars) => $scan(Text::new(chars)).$method(),
        }
    };
}

/// `emails_found(text)`: the e-mail addresses as findings.
#[pyfunction]
pub fn email_found(py: Python<'_>, text: &PyString) -> PyResult<PyObject> {
    tuples(py, &spans!(text, Emails, emails), "EMAIL_ADDRESS", 1.0)
}

/// `ipv4s_found(text)`: the IPv4 addresses as findings.
#[pyfunction]
pub fn ipv4_found(py: Python<'_>, text: &PyString) -> PyResult<PyObject> {
    tuples(py, &spans!(text, Ips, ipv4), "IP_ADDRESS", 0.95)
}
