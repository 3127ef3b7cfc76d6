//! Python strings' storage for the write-back (src/splice.rs): read as Python keeps it (1, 2 or
//! 4 bytes a character, so indices are Python's), and a new string written in the narrowest
//! storage that holds it, as CPython itself stores every string (equality compares storage).

use crate::pyobj::status;
use pyo3::ffi;
use pyo3::prelude::*;

/// A string's characters in its own storage.
pub(crate) enum Chars<'a> {
    One(&'a [u8]),
    Two(&'a [u16]),
    Four(&'a [u32]),
}

/// The characters of an exact str.
pub(crate) unsafe fn chars<'a>(py: Python<'_>, text: *mut ffi::PyObject) -> PyResult<Chars<'a>> {
    #[allow(deprecated)]
    status(py, ffi::PyUnicode_READY(text))?;
    let length = ffi::PyUnicode_GET_LENGTH(text) as usize;
    let data = ffi::PyUnicode_DATA(text);
    Ok(match ffi::PyUnicode_KIND(text) {
        ffi::PyUnicode_1BYTE_KIND => {
            Chars::One(std::slice::from_raw_parts(data as *const u8, length))
        }
        ffi::PyUnicode_2BYTE_KIND => {
            Chars::Two(std::slice::from_raw_parts(data as *const u16, length))
        }
        _ => Chars::Four(std::slice::from_raw_parts(data as *const u32, length)),
    })
}

/// The width class of an exact (ready) str: 0 ASCII, 1 Latin-1, 2 BMP, 3 beyond.
pub(crate) unsafe fn width(text: *mut ffi::PyObject) -> u8 {
    if ffi::PyUnicode_IS_ASCII(text) != 0 {
        return 0;
    }
    match ffi::PyUnicode_KIND(text) {
        ffi::PyUnicode_1BYTE_KIND => 1,
        ffi::PyUnicode_2BYTE_KIND => 2,
        _ => 3,
    }
}

#[inline]
fn class(c: u32) -> u8 {
    if c < 0x80 {
        0
    } else if c < 0x100 {
        1
    } else if c < 0x10000 {
        2
    } else {
        3
    }
}

/// The width class of `chars[start..end]`, looked at only until `top` (the text's own) is met.
pub(crate) fn slice_width(chars: &Chars<'_>, start: usize, end: usize, top: u8) -> u8 {
    fn widest<T: Copy + Into<u32>>(chars: &[T], top: u8) -> u8 {
        let mut found = 0;
        for &c in chars {
            found = found.max(class(c.into()));
            if found == top {
                break;
            }
        }
        found
    }
    match chars {
        Chars::One(c) => widest(&c[start..end], top),
        Chars::Two(c) => widest(&c[start..end], top),
        Chars::Four(c) => widest(&c[start..end], top),
    }
}

/// The storage of a new string, written before anything else sees it.
pub(crate) enum Out<'a> {
    One(&'a mut [u8]),
    Two(&'a mut [u16]),
    Four(&'a mut [u32]),
}

/// The storage of a string just made by `PyUnicode_New`.
pub(crate) unsafe fn storage<'a>(text: *mut ffi::PyObject, length: usize) -> Out<'a> {
    let data = ffi::PyUnicode_DATA(text);
    match ffi::PyUnicode_KIND(text) {
        ffi::PyUnicode_1BYTE_KIND => {
            Out::One(std::slice::from_raw_parts_mut(data as *mut u8, length))
        }
        ffi::PyUnicode_2BYTE_KIND => {
            Out::Two(std::slice::from_raw_parts_mut(data as *mut u16, length))
        }
        _ => Out::Four(std::slice::from_raw_parts_mut(data as *mut u32, length)),
    }
}

/// Copies `from[start..end]` to `to[at..]` (each character fits: the result's storage is as wide
/// as its widest piece).
pub(crate) fn copy_into(to: &mut Out<'_>, at: usize, from: &Chars<'_>, start: usize, end: usize) {
    fn convert<S: Copy + Into<u32>, D: Copy + TryFrom<u32>>(to: &mut [D], from: &[S]) {
        for (d, &c) in to.iter_mut().zip(from) {
            if let Ok(c) = D::try_from(c.into()) {
                *d = c;
            }
        }
    }
    let n = end - start;
    match (to, from) {
        (Out::One(t), Chars::One(f)) => t[at..at + n].copy_from_slice(&f[start..end]),
        (Out::Two(t), Chars::Two(f)) => t[at..at + n].copy_from_slice(&f[start..end]),
        (Out::Four(t), Chars::Four(f)) => t[at..at + n].copy_from_slice(&f[start..end]),
        (Out::One(t), Chars::Two(f)) => convert(&mut t[at..at + n], &f[start..end]),
        (Out::One(t), Chars::Four(f)) => convert(&mut t[at..at + n], &f[start..end]),
        (Out::Two(t), Chars::One(f)) => convert(&mut t[at..at + n], &f[start..end]),
        (Out::Two(t), Chars::Four(f)) => convert(&mut t[at..at + n], &f[start..end]),
        (Out::Four(t), Chars::One(f)) => convert(&mut t[at..at + n], &f[start..end]),
        (Out::Four(t), Chars::Two(f)) => convert(&mut t[at..at + n], &f[start..end]),
    }
}
