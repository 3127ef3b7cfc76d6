//! `emit_json`: a scanned document written back masked, as `jsontext.serialise` writes the
//! parsed document after the write-back (orjson's text: compact, or indented by 2; non-ASCII as
//! it is; `"`, `\` and control characters escaped as `json.dumps` escapes them), in UTF-8. Each
//! value's text is the document's own where nothing replaced it (its escapes written again as
//! orjson writes the characters they stand for); a replaced value (a gathered text's masked
//! string in `masked`, a value masked whole in `replaced[event]`) is written as the string it
//! is; an object whose keys were masked gets its keys as `jsontext.rename_keys` names them
//! (asked of `renamed`, in Python).

use super::gather::Scan;
use super::{decode_into, Unit, ARRAY, CLOSE, FLOAT, INT, KEY, LITERAL, OBJECT, STRING};
use crate::pyobj::{owned, Owned};
use crate::pystr::{chars, Chars};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3::AsPyPointer;

/// The UTF-8 of a character.
#[inline]
fn utf8(out: &mut Vec<u8>, c: u32) {
    if c < 0x80 {
        out.push(c as u8);
    } else if c < 0x800 {
        out.extend_from_slice(&[0xc0 | (c >> 6) as u8, 0x80 | (c & 0x3f) as u8]);
    } else if c < 0x10000 {
        out.extend_from_slice(&[
            0xe0 | (c >> 12) as u8,
            0x80 | ((c >> 6) & 0x3f) as u8,
            0x80 | (c & 0x3f) as u8,
        ]);
    } else {
        out.extend_from_slice(&[
            0xf0 | (c >> 18) as u8,
            0x80 | ((c >> 12) & 0x3f) as u8,
            0x80 | ((c >> 6) & 0x3f) as u8,
            0x80 | (c & 0x3f) as u8,
        ]);
    }
}

/// A character of a string as `json.dumps(ensure_ascii=False)` (and orjson) write it.
#[inline]
fn escaped(out: &mut Vec<u8>, c: u32) {
    match c {
        0x22 => out.extend_from_slice(b"\\\""),
        0x5c => out.extend_from_slice(b"\\\\"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x09 => out.extend_from_slice(b"\\t"),
        0x0a => out.extend_from_slice(b"\\n"),
        0x0c => out.extend_from_slice(b"\\f"),
        0x0d => out.extend_from_slice(b"\\r"),
        0..=0x1f => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(c >> 4) as usize]);
            out.push(HEX[(c & 15) as usize]);
        }
        _ => utf8(out, c),
    }
}

/// The writer: the text's characters, its events, what replaced some, and the output.
struct Writer<'a> {
    chars: &'a Chars<'a>,
    ascii: bool,
    out: Vec<u8>,
    decoded: Vec<u32>,
    indent: bool,
    depth: usize,
    first: bool,
    after_key: bool,
}

impl Writer<'_> {
    fn span(&mut self, start: usize, end: usize) {
        fn each<T: Copy + Into<u32>>(out: &mut Vec<u8>, s: &[T]) {
            for &c in s {
                utf8(out, c.into());
            }
        }
        match self.chars {
            Chars::One(c) if self.ascii => self.out.extend_from_slice(&c[start..end]),
            Chars::One(c) => each(&mut self.out, &c[start..end]),
            Chars::Two(c) => each(&mut self.out, &c[start..end]),
            Chars::Four(c) => each(&mut self.out, &c[start..end]),
        }
    }

    /// A string of the text (between its quotes), quoted.
    fn string(&mut self, start: usize, end: usize, has_escapes: bool) {
        self.out.push(b'"');
        if has_escapes {
            self.decoded.clear();
            match self.chars {
                Chars::One(c) => decode_into(&c[start..end], &mut self.decoded),
                Chars::Two(c) => decode_into(&c[start..end], &mut self.decoded),
                Chars::Four(c) => decode_into(&c[start..end], &mut self.decoded),
            }
            for k in 0..self.decoded.len() {
                escaped(&mut self.out, self.decoded[k]);
            }
        } else {
            self.span(start, end); // (nothing in it to escape: the tokeniser checked)
        }
        self.out.push(b'"');
    }

    /// A Python str, quoted; false where it has no UTF-8 (a lone surrogate).
    unsafe fn str(&mut self, text: *mut ffi::PyObject) -> bool {
        let mut size: ffi::Py_ssize_t = 0;
        let data = ffi::PyUnicode_AsUTF8AndSize(text, &mut size);
        if data.is_null() {
            ffi::PyErr_Clear();
            return false;
        }
        let bytes = std::slice::from_raw_parts(data as *const u8, size as usize);
        self.out.push(b'"');
        let mut at = 0;
        while at < bytes.len() {
            let end = u8::plain(bytes, at); // (runs of what needs no escape, copied whole)
            self.out.extend_from_slice(&bytes[at..end]);
            if let Some(&b) = bytes.get(end) {
                escaped(&mut self.out, b as u32);
            }
            at = end + 1;
        }
        self.out.push(b'"');
        true
    }

    /// Before an item: its comma and line, unless it is an object's value.
    fn item(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        if !self.first {
            self.out.push(b',');
        }
        if self.indent && self.depth > 0 {
            self.line();
        }
        self.first = false;
    }

    fn line(&mut self) {
        self.out.push(b'\n');
        self.out.resize(self.out.len() + 2 * self.depth, b' ');
    }
}

/// The masked document's UTF-8 (bytes), or None where it is to be written by the Python path (a
/// replacement that is no str or has a lone surrogate; renamed keys that are no strs).
#[pyfunction]
pub fn emit_json(
    py: Python<'_>,
    scan: &Scan,
    masked: &PyList,
    replaced: &PyDict,
    indent: bool,
    renamed: &PyAny,
) -> PyResult<Option<PyObject>> {
    // SAFETY: the GIL is held; the text is held by `scan`, every str read by `replaced`, `finals`.
    unsafe {
        let text = scan.text.as_ptr();
        let chars = chars(py, text)?;
        let events = &scan.events;
        // What replaced values, by event, in the order of the events.
        let mut by_event: Vec<(u32, *mut ffi::PyObject)> = Vec::with_capacity(replaced.len());
        let mut renaming: Vec<u32> = Vec::new();
        if ffi::PyList_GET_SIZE(masked.as_ptr()) as usize != scan.places.len() {
            return Ok(None);
        }
        for (index, &at) in scan.places.iter().enumerate() {
            let made = ffi::PyList_GET_ITEM(masked.as_ptr(), index as ffi::Py_ssize_t);
            if made == ffi::Py_None() {
                continue;
            }
            if ffi::PyUnicode_CheckExact(made) == 0 {
                return Ok(None);
            }
            by_event.push((at, made));
            let event = events[at as usize];
            if event.kind == KEY && !renaming.contains(&event.up) {
                renaming.push(event.up);
            }
        }
        let mut position: ffi::Py_ssize_t = 0;
        let (mut key, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
        while ffi::PyDict_Next(replaced.as_ptr(), &mut position, &mut key, &mut value) != 0 {
            let at = ffi::PyLong_AsSsize_t(key);
            if at < 0 || at as usize >= events.len() || ffi::PyUnicode_CheckExact(value) == 0 {
                ffi::PyErr_Clear();
                return Ok(None);
            }
            by_event.push((at as u32, value));
            let event = events[at as usize];
            if event.kind == KEY && !renaming.contains(&event.up) {
                renaming.push(event.up);
            }
        }
        // Objects with masked keys: every key's final name, as `rename_keys` gives it.
        let mut finals: Vec<Owned> = Vec::new();
        let mut named_at: Vec<(u32, *mut ffi::PyObject)> = Vec::new();
        if !renaming.is_empty() {
            by_event.sort_unstable_by_key(|&(at, _)| at);
        }
        for &object in &renaming {
            let close = events[object as usize].up as usize;
            let at: Vec<usize> = (object as usize + 1..close)
                .filter(|&k| events[k].kind == KEY && events[k].up == object)
                .collect();
            let keys = PyList::empty(py);
            let names = PyDict::new(py);
            for &k in &at {
                let original = scan.keys[events[k].extra as usize].as_ref(py);
                keys.append(original)?;
                if let Ok(found) = by_event.binary_search_by_key(&(k as u32), |&(at, _)| at) {
                    names.set_item(original, py.from_borrowed_ptr::<PyAny>(by_event[found].1))?;
                }
            }
            let named = renamed.call1((keys, names))?;
            let named: &PyList = named.downcast()?;
            if named.len() != at.len() {
                return Ok(None);
            }
            for (&k, name) in at.iter().zip(named.iter()) {
                if ffi::PyUnicode_CheckExact(name.as_ptr()) == 0 {
                    return Ok(None);
                }
                finals.push(Owned::from_borrowed(name.as_ptr()));
                named_at.push((k as u32, name.as_ptr()));
            }
        }
        by_event.extend(named_at);
        // (a renamed key's final name after its masked one: the stable sort keeps it last)
        by_event.sort_by_key(|&(at, _)| at);
        let mut next = 0;
        let mut writer = Writer {
            chars: &chars,
            ascii: ffi::PyUnicode_IS_ASCII(text) != 0,
            out: Vec::with_capacity(ffi::PyUnicode_GET_LENGTH(text) as usize * 11 / 10 + 16),
            decoded: Vec::new(),
            indent,
            depth: 0,
            first: true,
            after_key: false,
        };
        for (at, event) in events.iter().enumerate() {
            let (start, end) = (event.start as usize, event.end as usize);
            let mut masked = None;
            while next < by_event.len() && by_event[next].0 as usize <= at {
                masked = Some(by_event[next].1); // (the last for this event: a final name)
                next += 1;
            }
            match event.kind {
                OBJECT | ARRAY => {
                    writer.item();
                    writer
                        .out
                        .push(if event.kind == OBJECT { b'{' } else { b'[' });
                    writer.depth += 1;
                    writer.first = true;
                }
                CLOSE => {
                    writer.depth -= 1;
                    if writer.indent && !writer.first {
                        writer.line();
                    }
                    let object = events[event.up as usize].kind == OBJECT;
                    writer.out.push(if object { b'}' } else { b']' });
                    writer.first = false;
                }
                KEY => {
                    writer.item();
                    match masked {
                        Some(name) if !writer.str(name) => return Ok(None),
                        Some(_) => {}
                        None => writer.string(start, end, event.escaped),
                    }
                    writer
                        .out
                        .extend_from_slice(if indent { b": " } else { b":" });
                    writer.after_key = true;
                }
                STRING | INT | FLOAT | LITERAL => {
                    writer.item();
                    match masked {
                        Some(made) if !writer.str(made) => return Ok(None),
                        Some(_) => {}
                        None if event.kind == STRING => writer.string(start, end, event.escaped),
                        None => writer.span(start, end),
                    }
                }
                _ => unreachable!("no other events"),
            }
        }
        drop(finals);
        let out = &writer.out;
        let bytes = owned(
            py,
            ffi::PyBytes_FromStringAndSize(out.as_ptr() as *const _, out.len() as ffi::Py_ssize_t),
        )?;
        Ok(Some(PyObject::from_owned_ptr(py, bytes.into_ptr())))
    }
}
