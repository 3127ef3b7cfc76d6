//! The SQL token vault's flush, row by row: the batch in key order, each value sealed into a
//! chunk's pieces, each slot's parameters (the layout: broker/pii/sql_rows.py).
//! `broker.pii.sql_rows` and `broker.pii.sealing` hold the Python references (and fall back on
//! them): Python objects made and unpacked per row cost ~9 of a flush's ~25 ms of CPU per MB of
//! result (23,000 rows over 200,000). Each value is sealed with ring's AES-256-GCM (Debian's
//! packaged crate; the same bytes as cryptography's `AESGCM` for the same key and nonce) in
//! place in the chunk's body, where a call of cryptography's `encrypt` a value cost ~0.85 µs.
//! tests/pii/test_native_vault_rows.py holds them to their references.

use std::ptr;

use pyo3::exceptions::{PyTypeError, PyUnicodeEncodeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyList, PyTuple};
use pyo3::AsPyPointer;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

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

/// A value's UTF-8 (borrowed from it where Python has it), or where it holds a lone surrogate
/// (JSON's "\ud800": any upstream can send one) the bytes "surrogatepass" writes for it, made by
/// Python into `scratch`: `broker.pii.sealing`'s `.encode("utf-8", ERRORS)`.
///
/// # Safety
/// `text` is a live object and the GIL is held while the bytes are used.
unsafe fn value_utf8<'a>(
    py: Python<'_>,
    text: *mut ffi::PyObject,
    scratch: &'a mut Vec<u8>,
) -> PyResult<&'a [u8]> {
    match utf8(py, text) {
        Ok(bytes) => Ok(bytes),
        Err(strict) if strict.is_instance_of::<PyUnicodeEncodeError>(py) => {
            let encoded = owned(
                py,
                ffi::PyUnicode_AsEncodedString(text, c"utf-8".as_ptr(), c"surrogatepass".as_ptr()),
            )?;
            scratch.clear();
            scratch.extend_from_slice(std::slice::from_raw_parts(
                ffi::PyBytes_AsString(encoded.0) as *const u8,
                ffi::PyBytes_Size(encoded.0) as usize,
            ));
            Ok(&scratch[..])
        }
        Err(other) => Err(other),
    }
}

/// `reference_sealed_chunk`: each row's value sealed with AES-256-GCM under `key` (32 bytes),
/// its name as associated data and its nonce from `nonces` (12 bytes a row), as `version | nonce |
/// ciphertext and tag`, in a piece of a chunk's body (2-byte token length, token, 4-byte sealed
/// length, sealed value, little-endian); the body and each piece's offset. The key is held only
/// for the call (ring's key schedule, dropped at its end).
#[pyfunction]
pub fn sealed_chunk(
    py: Python<'_>,
    key: &[u8],
    version: &[u8],
    nonces: &[u8],
    rows: &PyList,
) -> PyResult<(PyObject, Vec<u64>)> {
    if nonces.len() != NONCE * rows.len() {
        return Err(PyValueError::new_err("12 bytes of nonce a row are needed"));
    }
    let Ok(key) = UnboundKey::new(&AES_256_GCM, key) else {
        return Err(PyValueError::new_err("an AES-256-GCM key is 32 bytes"));
    };
    let key = LessSafeKey::new(key);
    let mut name: Vec<u8> = Vec::with_capacity(128);
    let mut body: Vec<u8> = Vec::with_capacity(96 * rows.len());
    let mut ats: Vec<u64> = Vec::with_capacity(rows.len());
    let mut scratch: Vec<u8> = Vec::new();
    for (at, nonce) in nonces.chunks_exact(NONCE).enumerate() {
        // SAFETY: the GIL is held and no Python code runs in this loop, so the list keeps the
        // size checked above; a row is checked for its type and size before its items are read.
        let (agent, token, value) = unsafe {
            let row = ffi::PyList_GET_ITEM(rows.as_ptr(), at as ffi::Py_ssize_t);
            if ffi::PyTuple_Check(row) == 0 || ffi::PyTuple_GET_SIZE(row) != 4 {
                return Err(PyTypeError::new_err(
                    "rows of (agent, token, value, expires) are needed",
                ));
            }
            (
                utf8(py, ffi::PyTuple_GET_ITEM(row, 0))?,
                utf8(py, ffi::PyTuple_GET_ITEM(row, 1))?,
                value_utf8(py, ffi::PyTuple_GET_ITEM(row, 2), &mut scratch)?,
            )
        };
        let (Ok(size), Ok(length)) = (
            u16::try_from(token.len()),
            u32::try_from(version.len() + NONCE + value.len() + AES_256_GCM.tag_len()),
        ) else {
            return Err(PyValueError::new_err(
                "a token or sealed value too long for a chunk",
            ));
        };
        name.clear();
        name.extend_from_slice(NAME);
        name.extend_from_slice(agent);
        name.push(b':');
        name.extend_from_slice(token);
        ats.push(body.len() as u64);
        body.extend_from_slice(&size.to_le_bytes());
        body.extend_from_slice(token);
        body.extend_from_slice(&length.to_le_bytes());
        body.extend_from_slice(version);
        body.extend_from_slice(nonce);
        let plain = body.len();
        body.extend_from_slice(value);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| PyValueError::new_err("12 bytes of nonce a row are needed"))?;
        let tag = key
            .seal_in_place_separate_tag(nonce, Aad::from(&name[..]), &mut body[plain..])
            .map_err(|_| PyValueError::new_err("a value too long for AES-GCM"))?;
        body.extend_from_slice(tag.as_ref());
    }
    Ok((PyBytes::new(py, &body).into(), ats))
}

/// `reference_slot_parameters`: (key, chunk, offset, micros(expires)) of each row, one list.
#[pyfunction]
pub fn slot_parameters(
    py: Python<'_>,
    keys: Vec<i64>,
    chunk: i64,
    ats: Vec<u64>,
    rows: &PyList,
) -> PyResult<Py<PyList>> {
    if keys.len() != rows.len() || ats.len() != rows.len() {
        return Err(PyValueError::new_err(
            "a key and an offset a row are needed",
        ));
    }
    let mut parameters: Vec<PyObject> = Vec::with_capacity(4 * rows.len());
    let chunk = chunk.into_py(py);
    let mut last: Option<(f64, PyObject)> = None;
    for ((row, key), at) in rows.iter().zip(keys).zip(ats) {
        let row: &PyTuple = row.downcast()?;
        if row.len() != 4 {
            return Err(PyTypeError::new_err(
                "rows of (agent, token, value, expires) are needed",
            ));
        }
        let expires = row.get_item(3)?;
        let epoch: f64 = expires
            .downcast::<PyFloat>()
            .map(|f| f.value())
            .or_else(|_| expires.extract())?;
        let micros = match &last {
            Some((when, micros)) if *when == epoch => micros.clone_ref(py),
            _ => {
                let micros = micros_of(py, epoch)?;
                last = Some((epoch, micros.clone_ref(py)));
                micros
            }
        };
        parameters.push(key.into_py(py));
        parameters.push(chunk.clone_ref(py));
        parameters.push(at.into_py(py));
        parameters.push(micros);
    }
    Ok(PyList::new(py, parameters).into())
}

/// `broker.pii.sql_rows.micros`: `floor(epoch * 1e6)`, an error where that is no integer (NaN,
/// infinite) as Python's `math.floor` raises one.
fn micros_of(py: Python<'_>, epoch: f64) -> PyResult<PyObject> {
    let micros = (epoch * 1_000_000.0).floor();
    if !micros.is_finite() {
        return Err(PyValueError::new_err("an expiry must be a finite number"));
    }
    if micros.abs() < 9.0e18 {
        return Ok((micros as i64).into_py(py));
    }
    // beyond an i64: Python's own conversion of the float, as `math.floor` gives it
    let float = PyFloat::new(py, micros);
    Ok(py.import("math")?.getattr("floor")?.call1((float,))?.into())
}
