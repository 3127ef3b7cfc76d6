//! The first tokens of an agent's values: `tokens_for` of broker/pii/operators.py, which stays
//! the reference. Each (entity, value) request gets `<ENTITY_hex8>`, the first four bytes of
//! HMAC-SHA256 under the agent's derived key of `entity NUL value` in UTF-8 (Debian's
//! librust-hmac-dev and librust-sha2-dev). The keyed context is set up once and cloned per
//! request, as the reference copies OpenSSL's. A lone surrogate (JSON's "\ud800", which any
//! upstream can send) is encoded as Python's "surrogatepass" writes it, as the reference does.
//! tests/pii/test_native_tokens.py holds the two to the same dicts.

use crate::pyobj::{owned, status, Owned};
use crate::pystr::{chars, Chars};
use hmac::{Hmac, Mac};
use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::AsPyPointer;
use sha2::Sha256;
use std::os::raw::c_char;

/// Hex characters of a first token (`TOKEN_HEX`).
const TOKEN_HEX: usize = 8;
const HEX: &[u8; 16] = b"0123456789abcdef";
/// The error handler a token is decoded with: its entity name may hold what `encode` passed.
const SURROGATEPASS: &std::ffi::CStr = c"surrogatepass";

/// `text`'s UTF-8 added to `out`, a lone surrogate as "surrogatepass" writes it (three bytes, as
/// any other code point of its plane).
unsafe fn encode(py: Python<'_>, text: *mut ffi::PyObject, out: &mut Vec<u8>) -> PyResult<()> {
    fn wide<T: Copy + Into<u32>>(chars: &[T], out: &mut Vec<u8>) {
        let mut bytes = [0u8; 4];
        for &c in chars {
            let code = c.into();
            match char::from_u32(code) {
                Some(c) => out.extend_from_slice(c.encode_utf8(&mut bytes).as_bytes()),
                None => out.extend_from_slice(&[
                    0xE0 | (code >> 12) as u8,
                    0x80 | ((code >> 6) & 0x3F) as u8,
                    0x80 | (code & 0x3F) as u8,
                ]),
            }
        }
    }
    match chars(py, text)? {
        Chars::One(c) if ffi::PyUnicode_IS_ASCII(text) != 0 => out.extend_from_slice(c),
        Chars::One(c) => wide(c, out),
        Chars::Two(c) => wide(c, out),
        Chars::Four(c) => wide(c, out),
    }
    Ok(())
}

/// `tokens_for(mac, requests)` with `mac`'s key: {request: token} over an iterable of exact
/// (str, str) tuples, the keys being the request objects themselves.
#[pyfunction]
pub(crate) fn keyed_tokens(py: Python<'_>, key: &[u8], requests: &PyAny) -> PyResult<PyObject> {
    let keyed = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    let mut message: Vec<u8> = Vec::with_capacity(256);
    let mut token: Vec<u8> = Vec::with_capacity(64);
    // SAFETY: the C API is called with the GIL held; every new reference is held by an `Owned`
    // (or handed to the dict), every borrowed one lives in the request tuple held meanwhile.
    unsafe {
        let tokens = owned(py, ffi::PyDict_New())?;
        let iterator = owned(py, ffi::PyObject_GetIter(requests.as_ptr()))?;
        loop {
            let next = ffi::PyIter_Next(iterator.0);
            if next.is_null() {
                if !ffi::PyErr_Occurred().is_null() {
                    return Err(PyErr::fetch(py));
                }
                break;
            }
            let request = Owned(next);
            if ffi::PyTuple_CheckExact(request.0) == 0 || ffi::PyTuple_GET_SIZE(request.0) != 2 {
                return Err(PyTypeError::new_err(
                    "a request is an (entity, value) tuple",
                ));
            }
            let entity = ffi::PyTuple_GET_ITEM(request.0, 0);
            let value = ffi::PyTuple_GET_ITEM(request.0, 1);
            if ffi::PyUnicode_CheckExact(entity) == 0 || ffi::PyUnicode_CheckExact(value) == 0 {
                return Err(PyTypeError::new_err("a request's entity and value are str"));
            }
            message.clear();
            encode(py, entity, &mut message)?;
            let entity_bytes = message.len();
            message.push(0);
            encode(py, value, &mut message)?;
            let mut mac = keyed.clone();
            mac.update(&message);
            let digest = mac.finalize().into_bytes();
            token.clear();
            token.push(b'<');
            token.extend_from_slice(&message[..entity_bytes]);
            token.push(b'_');
            for &byte in &digest[..TOKEN_HEX / 2] {
                token.push(HEX[(byte >> 4) as usize]);
                token.push(HEX[(byte & 15) as usize]);
            }
            token.push(b'>');
            let text = owned(
                py,
                ffi::PyUnicode_DecodeUTF8(
                    token.as_ptr() as *const c_char,
                    token.len() as ffi::Py_ssize_t,
                    SURROGATEPASS.as_ptr(),
                ),
            )?;
            status(py, ffi::PyDict_SetItem(tokens.0, request.0, text.0))?;
        }
        Ok(PyObject::from_owned_ptr(py, tokens.into_ptr()))
    }
}
