//! Whether a text holds a run of at least so many ASCII digits: what an upstream's answer is
//! checked for before orjson reads it (connectors/mcp/answers.py, `reference_digit_run`), since
//! orjson reads an integer past 64 bits as a float. A run of 19 or more digits holds a whole
//! aligned word of eight, so the text is read eight bytes at a time and only such a word's
//! neighbours one by one: ~10 us for a 100 KB answer, where `re` took ~950.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyStringData};

const WORD: usize = 8;
const ONES: u64 = 0x0101_0101_0101_0101;

/// Whether all eight bytes of `word` are ASCII digits: high nibble 3, low nibble at most 9.
#[inline(always)]
fn all_digits(word: u64) -> bool {
    let high = 0xf0 * ONES;
    word & high == 0x30 * ONES && word.wrapping_add(0x06 * ONES) & high == 0x30 * ONES
}

fn bytes_run(text: &[u8], length: usize) -> bool {
    if length < 2 * WORD {
        return units_run(text, length);
    }
    let mut at = 0;
    while at + WORD <= text.len() {
        let word = u64::from_le_bytes(text[at..at + WORD].try_into().expect("eight bytes"));
        if all_digits(word) {
            let before = text[..at]
                .iter()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .count();
            let after = text[at + WORD..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if before + WORD + after >= length {
                return true;
            }
            at += WORD + after + 1; // (past the run and the byte that ended it)
        } else {
            at += WORD;
        }
    }
    false
}

/// The same a unit at a time, for short runs and for text stored 2 or 4 bytes a character.
fn units_run<T: Copy + Into<u32>>(text: &[T], length: usize) -> bool {
    if length == 0 {
        return true;
    }
    let mut run = 0;
    for &c in text {
        run = if (0x30..0x3a).contains(&c.into()) {
            run + 1
        } else {
            0
        };
        if run >= length {
            return true;
        }
    }
    false
}

/// Whether `text` (bytes or str) holds `length` or more ASCII digits in a row.
#[pyfunction]
pub fn digit_run(text: &PyAny, length: usize) -> PyResult<bool> {
    if let Ok(bytes) = text.downcast::<PyBytes>() {
        return Ok(bytes_run(bytes.as_bytes(), length));
    }
    let text = text.downcast::<PyString>()?;
    // SAFETY: the data is read while the string (held by the caller) is alive, GIL held.
    Ok(match unsafe { text.data()? } {
        PyStringData::Ucs1(chars) => bytes_run(chars, length),
        PyStringData::Ucs2(chars) => units_run(chars, length),
        PyStringData::Ucs4(chars) => units_run(chars, length),
    })
}
