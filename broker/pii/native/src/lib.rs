//! The PII detector's hottest scans in native code, exact to the `re` patterns they replace.
//! Python's strings are read in their own storage (1, 2 or 4 bytes a character), so offsets are
//! Python's indices with no encoding or mapping between.

mod chars;
mod emails;
mod ibans;
mod ips;
mod keys;
mod runs;
mod tables;
mod walk;

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

/// The e-mail addresses' spans in `text`: see broker/pii/recognizers.py (`emails`).
#[pyfunction]
fn email_spans(text: &PyString) -> PyResult<Vec<(usize, usize)>> {
    // SAFETY: as in `number_runs`.
    let data = unsafe { text.data()? };
    Ok(match data {
        PyStringData::Ucs1(chars) => emails::Text::new(chars).emails(),
        PyStringData::Ucs2(chars) => emails::Text::new(chars).emails(),
        PyStringData::Ucs4(chars) => emails::Text::new(chars).emails(),
    })
}

/// The IBAN candidates' spans in `text`: see broker/pii/recognizers.py (`ibans`).
#[pyfunction]
fn iban_spans(text: &PyString) -> PyResult<Vec<(usize, usize)>> {
    // SAFETY: as in `number_runs`.
    let data = unsafe { text.data()? };
    Ok(match data {
        PyStringData::Ucs1(chars) => ibans::Text::new(chars).ibans(),
        PyStringData::Ucs2(chars) => ibans::Text::new(chars).ibans(),
        PyStringData::Ucs4(chars) => ibans::Text::new(chars).ibans(),
    })
}

/// The token vault's row key of each (agent, token): see broker/pii/sql_keys.py (`reference_keys`).
#[pyfunction]
fn token_keys(agents: Vec<&str>, tokens: Vec<&str>) -> PyResult<Vec<i64>> {
    if agents.len() != tokens.len() {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "as many agents as tokens are needed",
        ));
    }
    Ok(agents
        .iter()
        .zip(tokens.iter())
        .map(|(agent, token)| keys::key(agent.as_bytes(), token.as_bytes()))
        .collect())
}

/// The keys of `token_keys` in ascending order, and the position each came from: see
/// broker/pii/sql_keys.py (`reference_key_order`).
#[pyfunction]
fn token_key_order(agents: Vec<&str>, tokens: Vec<&str>) -> PyResult<(Vec<i64>, Vec<usize>)> {
    let keys = token_keys(agents, tokens)?;
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&at| keys[at]); // stable: equal keys keep their order
    Ok((order.iter().map(|&at| keys[at]).collect(), order))
}

/// The IPv4 addresses in `text`: see broker/pii/recognizers.py (`ipv4_addresses`).
#[pyfunction]
fn ipv4_spans(text: &PyString) -> PyResult<Vec<(usize, usize)>> {
    // SAFETY: as in `number_runs`.
    let data = unsafe { text.data()? };
    Ok(match data {
        PyStringData::Ucs1(chars) => ips::Text::new(chars).ipv4(),
        PyStringData::Ucs2(chars) => ips::Text::new(chars).ipv4(),
        PyStringData::Ucs4(chars) => ips::Text::new(chars).ipv4(),
    })
}

/// The IPv6 address candidates in `text`: see broker/pii/recognizers.py (`ipv6_candidates`).
#[pyfunction]
fn ipv6_spans(text: &PyString) -> PyResult<Vec<(usize, usize)>> {
    // SAFETY: as in `number_runs`.
    let data = unsafe { text.data()? };
    Ok(match data {
        PyStringData::Ucs1(chars) => ips::Text::new(chars).ipv6(),
        PyStringData::Ucs2(chars) => ips::Text::new(chars).ipv6(),
        PyStringData::Ucs4(chars) => ips::Text::new(chars).ipv6(),
    })
}

/// `Collected.walk` of broker/pii/structure.py: the copy of a JSON container, what it holds gathered.
#[pyfunction]
#[pyo3(name = "walk")]
fn json_walk(
    py: Python<'_>,
    collected: &PyAny,
    value: &PyAny,
    key: &PyAny,
    states: &PyAny,
    matched: &PyAny,
) -> PyResult<PyObject> {
    walk::walk(py, collected, value, key, states, matched)
}

#[pymodule]
fn _native(_py: Python<'_>, module: &PyModule) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(number_runs, module)?)?;
    module.add_function(wrap_pyfunction!(email_spans, module)?)?;
    module.add_function(wrap_pyfunction!(iban_spans, module)?)?;
    module.add_function(wrap_pyfunction!(token_keys, module)?)?;
    module.add_function(wrap_pyfunction!(token_key_order, module)?)?;
    module.add_function(wrap_pyfunction!(ipv4_spans, module)?)?;
    module.add_function(wrap_pyfunction!(ipv6_spans, module)?)?;
    module.add_function(wrap_pyfunction!(json_walk, module)?)?;
    Ok(())
}
