//! The UTF-8 size of `json.dumps(text, ensure_ascii=False)` counted from a str's own storage,
//! without writing it: the response limit's measure of a big text block
//! (connectors/mcp/results.py, `reference_json_str_size`).

use pyo3::prelude::*;
use pyo3::types::{PyString, PyStringData};

/// Bytes beyond one per character, for 1-byte storage: escapes, and Latin-1 letters' second
/// UTF-8 byte. Counted in 32 u8 lanes, branch-free so the loop vectorises, each lane added up
/// before it could pass 255 (at most 5 a byte, 51 rounds).
fn ucs1_extra(text: &[u8]) -> usize {
    const LANES: usize = 32;
    const ROUNDS: usize = 51;
    let mut total = 0usize;
    let mut blocks = text.chunks_exact(LANES * ROUNDS);
    for block in &mut blocks {
        let mut lanes = [0u8; LANES];
        for round in block.chunks_exact(LANES) {
            for (lane, &c) in lanes.iter_mut().zip(round) {
                *lane += extra_byte(c);
            }
        }
        total += lanes.iter().map(|&n| n as usize).sum::<usize>();
    }
    total
        + blocks
            .remainder()
            .iter()
            .map(|&c| extra_byte(c) as usize)
            .sum::<usize>()
}

/// What json writes for a character below 0x80 beyond the character itself (`\"`, `\\`, the
/// five short escapes of control characters `\b \t \n \f \r`, `\u00XX` for the others), and
/// 1 for 0x80 and above (its second UTF-8 byte); without a table or a branch.
#[inline(always)]
fn extra_byte(c: u8) -> u8 {
    let quote = (c == b'"') as u8 | (c == b'\\') as u8;
    let high = (c >= 0x80) as u8;
    let short = (c.wrapping_sub(0x08) < 6) as u8 & (c != 0x0b) as u8; // \b \t \n \f \r
    let control = (c < 0x20) as u8 * (5 - 4 * short);
    quote + high + control
}

/// Bytes beyond one per character for wider storage; None at a surrogate (which UTF-8 cannot
/// hold: json's text of it fails to encode). Branch-free in 16 lanes, as `ucs1_extra`.
fn wide_extra<T: Copy + Into<u32>>(text: &[T]) -> Option<usize> {
    const LANES: usize = 16;
    let mut lanes = [0u32; LANES];
    let mut surrogates = [0u32; LANES];
    let mut rounds = text.chunks_exact(LANES);
    for round in &mut rounds {
        for ((lane, seen), &c) in lanes.iter_mut().zip(surrogates.iter_mut()).zip(round) {
            let c: u32 = c.into();
            *lane += extra_char(c);
            *seen |= surrogate(c);
        }
    }
    let mut total: usize = lanes.iter().map(|&n| n as usize).sum();
    let mut seen = surrogates.iter().fold(0, |all, &one| all | one);
    for &c in rounds.remainder() {
        let c: u32 = c.into();
        total += extra_char(c) as usize;
        seen |= surrogate(c);
    }
    (seen == 0).then_some(total)
}

/// `extra_byte` for any character, and the third and fourth UTF-8 bytes of wider ones.
#[inline(always)]
fn extra_char(c: u32) -> u32 {
    let quote = (c == 0x22) as u32 | (c == 0x5c) as u32;
    let short = (c.wrapping_sub(0x08) < 6) as u32 & (c != 0x0b) as u32;
    let control = (c < 0x20) as u32 * (5 - 4 * short);
    quote + control + (c >= 0x80) as u32 + (c >= 0x800) as u32 + (c >= 0x10000) as u32
}

#[inline(always)]
fn surrogate(c: u32) -> u32 {
    ((c & !0x7ff) == 0xd800) as u32
}

/// `len(json.dumps(text, ensure_ascii=False).encode())`, or None when that encode fails (a lone
/// surrogate): see connectors/mcp/results.py (`reference_json_str_size`).
#[pyfunction]
pub(crate) fn json_str_size(text: &PyString) -> PyResult<Option<usize>> {
    // SAFETY: the data is read while the string (held by the caller) is alive, GIL held.
    let (length, extra) = match unsafe { text.data()? } {
        PyStringData::Ucs1(c) => (c.len(), Some(ucs1_extra(c))),
        PyStringData::Ucs2(c) => (c.len(), wide_extra(c)),
        PyStringData::Ucs4(c) => (c.len(), wide_extra(c)),
    };
    Ok(extra.map(|extra| 2 + length + extra))
}
