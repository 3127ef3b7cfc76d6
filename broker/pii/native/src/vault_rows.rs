//! The SQL token vault's flush, row by row: the batch in key order, each value sealed, each
//! statement's parameters. `broker.pii.sql_rows` and `broker.pii.sealing` hold the Python
//! references (and fall back on them): the vault's loops there cost ~9 of a flush's ~25 ms of
//! CPU per MB of result (23,000 rows over 200,000), Python objects made and unpacked per row. Each value is still sealed by
//! the AESGCM object's `encrypt` (cryptography's; no AES crate is packaged offline), called from
//! here with the name and value encoded and the sealed row's bytes made in one piece.
//! tests/pii/test_native_vault_rows.py holds them to their references.

use std::ptr;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyList, PyTuple};
use pyo3::AsPyPointer;

use crate::keys;
use crate::pyobj::{owned, Owned};

/// What a token's value is sealed with, before its agent and token (`broker.pii.keys.sealed_name`).
const NAME: &[u8] = b"pii-token:";
/// Bytes of an AES-GCM nonce (`broker.pii.sealing._NONCE`).
const NONCE: usize = 12;

/// `reference_batch_rows`: the (agent, token) -> (value, expires) of `batch` as rows (agent,
/// token, value, expires) in the order of their keys (equal keys as in `batch`), and the keys.
#[pyfunction]
pub fn batch_rows(py: Python<'_>, batch: &PyDict) -> PyResult<(Vec<i64>, PyObject)> {
    let mut keyed: Vec<(i64, Owned)> = Vec::with_capacity(batch.len());
    // SAFETY: the GIL is held; PyDict_Next lends the items of a dict nothing changes meanwhile
    // (no Python code runs here); each is checked for its type before it is read.
    unsafe {
        let mut position: ffi::Py_ssize_t = 0;
        let mut pair: *mut ffi::PyObject = ptr::null_mut();
        let mut entry: *mut ffi::PyObject = ptr::null_mut();
        while ffi::PyDict_Next(batch.as_ptr(), &mut position, &mut pair, &mut entry) != 0 {
            if ffi::PyTuple_Check(pair) == 0
                || ffi::PyTuple_GET_SIZE(pair) != 2
                || ffi::PyTuple_Check(entry) == 0
                || ffi::PyTuple_GET_SIZE(entry) != 2
            {
                return Err(PyTypeError::new_err(
                    "pairs of (agent, token) and (value, expires) are needed",
                ));
            }
            let items = [
                ffi::PyTuple_GET_ITEM(pair, 0),
                ffi::PyTuple_GET_ITEM(pair, 1),
                ffi::PyTuple_GET_ITEM(entry, 0),
                ffi::PyTuple_GET_ITEM(entry, 1),
            ];
            let key = keys::key(utf8(py, items[0])?, utf8(py, items[1])?);
            let row = owned(py, ffi::PyTuple_New(4))?;
            for (at, item) in items.into_iter().enumerate() {
                ffi::Py_INCREF(item);
                ffi::PyTuple_SET_ITEM(row.0, at as ffi::Py_ssize_t, item);
            }
            keyed.push((key, row));
        }
        keyed.sort_by_key(|(key, _)| *key); // stable: equal keys keep their order
        let rows = owned(py, ffi::PyList_New(keyed.len() as ffi::Py_ssize_t))?;
        let mut keys = Vec::with_capacity(keyed.len());
        for (at, (key, row)) in keyed.into_iter().enumerate() {
            keys.push(key);
            ffi::PyList_SET_ITEM(rows.0, at as ffi::Py_ssize_t, row.into_ptr());
        }
        Ok((keys, PyObject::from_owned_ptr(py, rows.into_ptr())))
    }
}

/// The UTF-8 of a `str` (borrowed from it: Python caches it), or the error `.encode()` raises.
///
/// # Safety
/// `text` is a live object and the GIL is held while the bytes are used.
unsafe fn utf8<'a>(py: Python<'_>, text: *mut ffi::PyObject) -> PyResult<&'a [u8]> {
    if ffi::PyUnicode_Check(text) == 0 {
        return Err(PyTypeError::new_err(
            "rows of (agent, token, value, expires) strings are needed",
        ));
    }
    let mut size: ffi::Py_ssize_t = 0;
    let data = ffi::PyUnicode_AsUTF8AndSize(text, &mut size);
    if data.is_null() {
        return Err(PyErr::fetch(py));
    }
    Ok(std::slice::from_raw_parts(data as *const u8, size as usize))
}

/// New bytes holding `parts` one after the other.
///
/// # Safety
/// The GIL is held.
unsafe fn joined(py: Python<'_>, parts: &[&[u8]]) -> PyResult<Owned> {
    let size: usize = parts.iter().map(|part| part.len()).sum();
    let bytes = owned(
        py,
        ffi::PyBytes_FromStringAndSize(ptr::null(), size as ffi::Py_ssize_t),
    )?;
    let mut out = ffi::PyBytes_AsString(bytes.0) as *mut u8;
    for part in parts {
        ptr::copy_nonoverlapping(part.as_ptr(), out, part.len());
        out = out.add(part.len());
    }
    Ok(bytes)
}

/// `reference_sealed_rows`: each row's value sealed by `encrypt(nonce, value, name)` with its
/// nonce from `nonces` (12 bytes a row), as `version | nonce | encrypt's bytes`. Through the C
/// API (a vectorcall, no pool of owned references): PyO3's calls and objects cost ~0.5 µs a row
/// around the ~0.85 of the encryption, where the Python reference's cost ~0.6.
#[pyfunction]
pub fn sealed_rows(
    py: Python<'_>,
    encrypt: &PyAny,
    version: &[u8],
    nonces: &[u8],
    rows: &PyList,
) -> PyResult<PyObject> {
    if nonces.len() != NONCE * rows.len() {
        return Err(PyValueError::new_err("12 bytes of nonce a row are needed"));
    }
    let mut name: Vec<u8> = Vec::with_capacity(128);
    // SAFETY: the GIL is held throughout; every object read is checked for its type first, and
    // the list's size again before each row (`encrypt` could change it); a row's strings are
    // read into new bytes before `encrypt` runs, and not after.
    unsafe {
        let sealed = owned(py, ffi::PyList_New(rows.len() as ffi::Py_ssize_t))?;
        for (at, nonce) in nonces.chunks_exact(NONCE).enumerate() {
            let at = at as ffi::Py_ssize_t;
            if at >= ffi::PyList_GET_SIZE(rows.as_ptr()) {
                return Err(PyValueError::new_err(
                    "the rows changed while they were sealed",
                ));
            }
            let row = ffi::PyList_GET_ITEM(rows.as_ptr(), at);
            if ffi::PyTuple_Check(row) == 0 || ffi::PyTuple_GET_SIZE(row) != 4 {
                return Err(PyTypeError::new_err(
                    "rows of (agent, token, value, expires) are needed",
                ));
            }
            let agent = utf8(py, ffi::PyTuple_GET_ITEM(row, 0))?;
            let token = utf8(py, ffi::PyTuple_GET_ITEM(row, 1))?;
            let value = utf8(py, ffi::PyTuple_GET_ITEM(row, 2))?;
            name.clear();
            name.extend_from_slice(NAME);
            name.extend_from_slice(agent);
            name.push(b':');
            name.extend_from_slice(token);
            let arguments = [
                joined(py, &[nonce])?,
                joined(py, &[value])?,
                joined(py, &[&name])?,
            ];
            let pointers = [arguments[0].0, arguments[1].0, arguments[2].0];
            let body = owned(
                py,
                ffi::PyObject_Vectorcall(encrypt.as_ptr(), pointers.as_ptr(), 3, ptr::null_mut()),
            )?;
            if ffi::PyBytes_Check(body.0) == 0 {
                return Err(PyTypeError::new_err("encrypt must return bytes"));
            }
            let body = std::slice::from_raw_parts(
                ffi::PyBytes_AsString(body.0) as *const u8,
                ffi::PyBytes_Size(body.0) as usize,
            );
            let whole = joined(py, &[version, nonce, body])?;
            ffi::PyList_SET_ITEM(sealed.0, at, whole.into_ptr());
        }
        Ok(PyObject::from_owned_ptr(py, sealed.into_ptr()))
    }
}

/// `reference_row_parameters`: (key, agent, token, sealed, stamp(expires)) of each row, one
/// list; `stamp` is called once per run of rows that expire alike.
#[pyfunction]
pub fn row_parameters(
    py: Python<'_>,
    rows: &PyList,
    keys: Vec<i64>,
    sealed: &PyList,
    stamp: &PyAny,
) -> PyResult<Py<PyList>> {
    if keys.len() != rows.len() || sealed.len() != rows.len() {
        return Err(PyValueError::new_err(
            "a key and a sealed value a row are needed",
        ));
    }
    let mut parameters: Vec<PyObject> = Vec::with_capacity(5 * rows.len());
    let mut last: Option<(f64, PyObject)> = None;
    for ((row, key), ciphertext) in rows.iter().zip(keys).zip(sealed.iter()) {
        let row: &PyTuple = row.downcast()?;
        if row.len() != 4 {
            return Err(PyValueError::new_err(
                "rows of (agent, token, value, expires) are needed",
            ));
        }
        let expires = row.get_item(3)?;
        let at: f64 = expires
            .downcast::<PyFloat>()
            .map(|f| f.value())
            .or_else(|_| expires.extract())?;
        let stamped = match &last {
            Some((when, stamped)) if *when == at => stamped.clone_ref(py),
            _ => {
                let stamped: PyObject = stamp.call1((expires,))?.into();
                last = Some((at, stamped.clone_ref(py)));
                stamped
            }
        };
        parameters.push(key.into_py(py));
        parameters.push(row.get_item(0)?.into());
        parameters.push(row.get_item(1)?.into());
        parameters.push(ciphertext.into());
        parameters.push(stamped);
    }
    Ok(PyList::new(py, parameters).into())
}
