//! The PII detector's hottest scans in native code, exact to the `re` patterns they replace.
//! Python's strings are read in their own storage (1, 2 or 4 bytes a character), so offsets are
//! Python's indices with no encoding or mapping between.

mod chars;
mod runs;
mod tables;

use pyo3::prelude::*;
use pyo3::types::{PyString, PyStringData};

/// The number finder's digit runs in `text`: see broker/pii/recognizers_number.py (`_runs`).
#[pyfunction]
fn number_runs(text: &PyString) -> PyResult<Vec<(usize, usize)>> {
    // SAFETY: the data is read while `text` (held by the caller) is alive, with the GIL held.
    let data = unsafe { text.data()? };
    Ok(match data {
        PyStringData::Ucs1(chars) => runs::Text::new(chars).runs(),
        PyStringData::Ucs2(chars) => runs::Text::new(chars).runs(),
        PyStringData::Ucs4(chars) => runs::Text::new(chars).runs(),
    })
}

#[pymodule]
fn _native(_py: Python<'_>, module: &PyModule) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(number_runs, module)?)?;
    Ok(())
}
