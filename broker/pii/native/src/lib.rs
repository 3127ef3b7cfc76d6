//! The PII detector's hottest scans in native code, exact to the `re` patterns they replace.
//! Python's strings are read in their own storage (1, 2 or 4 bytes a character), so offsets are
//! Python's indices with no encoding or mapping between.

mod chars;
mod clean_memo;
mod dedupe;
mod digits;
mod emails;
mod ibans;
mod ips;
mod keys;
mod pyobj;
mod pystr;
mod requests;
mod runs;
mod splice;
mod spread;
mod tables;
mod text;
mod tokens;
mod walk;
// The number finder's decisions (broker/pii/recognizers_number.py: find_numbers).
mod numbers;

// The SQL token vault's key set and flush rows.
mod keymap;
mod vault_rows;

use pyo3::prelude::*;
use pyo3::types::{PyString, PyStringData};

use text::Text;

/// `$scan` (a finder's type) run by `$method` over `$text`'s characters, in whichever width
/// Python stores them: offsets are the Python string's indices.
macro_rules! scan {
    ($text:expr, $scan:path, $method:ident) => {{
        // SAFETY: the data is read while the string (held by the caller) is alive, GIL held.
        Ok(match unsafe { $text.data()? } {
            PyStringData::Ucs1(chars) => $scan(Text::new(chars)).$method(),
            PyStringData::Ucs2(chars) => $scan(Text::new(chars)).$method(),
            PyStringData::Ucs4(chars) => $scan(Text::new(chars)).$method(),
        })
    }};
}

/// The number finder's digit runs in `text`: see broker/pii/recognizers_number.py (`_runs`).
#[pyfunction]
fn number_runs(text: &PyString) -> PyResult<Vec<(usize, usize)>> {
    scan!(text, runs::Runs, runs)
}

/// The e-mail addresses' spans in `text`: see broker/pii/recognizers.py (`emails`).
#[pyfunction]
fn email_spans(text: &PyString) -> PyResult<Vec<(usize, usize)>> {
    scan!(text, emails::Emails, emails)
}

/// The IBAN candidates' spans in `text`: see broker/pii/recognizers.py (`ibans`).
#[pyfunction]
fn iban_spans(text: &PyString) -> PyResult<Vec<(usize, usize)>> {
    scan!(text, ibans::Ibans, ibans)
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
    scan!(text, ips::Ips, ipv4)
}

/// The IPv6 address candidates in `text`: see broker/pii/recognizers.py (`ipv6_candidates`).
#[pyfunction]
fn ipv6_spans(text: &PyString) -> PyResult<Vec<(usize, usize)>> {
    scan!(text, ips::Ips, ipv6)
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
    module.add_function(wrap_pyfunction!(walk::walk, module)?)?;
    module.add_function(wrap_pyfunction!(splice::splice_back, module)?)?;
    module.add_function(wrap_pyfunction!(requests::token_requests, module)?)?;
    module.add_function(wrap_pyfunction!(tokens::keyed_tokens, module)?)?;
    module.add_function(wrap_pyfunction!(spread::string_starts, module)?)?;
    module.add_function(wrap_pyfunction!(spread::spread_found, module)?)?;
    module.add_function(wrap_pyfunction!(dedupe::distinct_pairs, module)?)?;
    module.add_function(wrap_pyfunction!(dedupe::clean_pairs, module)?)?;

    // The SQL token vault's index of its places (keymap.rs) and its flush's rows (vault_rows.rs).
    module.add_class::<keymap::KeyMap>()?;
    module.add_function(wrap_pyfunction!(vault_rows::batch_rows, module)?)?;

    // The detector's secrets finder, overlap resolution, memo and findings (helper hsec).
    module.add_function(wrap_pyfunction!(secret_spans, module)?)?;
    module.add_function(wrap_pyfunction!(resolve::resolve_found, module)?)?;
    module.add_class::<clean_memo::CleanMemo>()?;
    module.add_function(wrap_pyfunction!(memo::unseen_pairs, module)?)?;
    module.add_function(wrap_pyfunction!(memo::remember_slots, module)?)?;
    module.add_function(wrap_pyfunction!(memo::hand_out, module)?)?;
    module.add_function(wrap_pyfunction!(found::email_found, module)?)?;
    module.add_function(wrap_pyfunction!(found::ipv4_found, module)?)?;

    // The number finder's decisions (numbers.rs, helper hnum).
    module.add_function(wrap_pyfunction!(numbers::number_findings, module)?)?;

    // A worker process's cache of freed object arenas (arenas.rs, helper hsitu).
    module.add_function(wrap_pyfunction!(arenas::keep_arenas, module)?)?;

    // The SQL token vault's chunks and slots (vault_rows.rs, helper hchunk).
    module.add_function(wrap_pyfunction!(vault_rows::sealed_chunk, module)?)?;
    module.add_function(wrap_pyfunction!(vault_rows::slot_parameters, module)?)?;

    // A big JSON result masked from its text (scan/, helper hscan).
    module.add_class::<scan::Scan>()?;
    module.add_function(wrap_pyfunction!(scan::scan_json, module)?)?;
    module.add_function(wrap_pyfunction!(scan::emit_json, module)?)?;
    module.add_function(wrap_pyfunction!(splice::splice_each, module)?)?;

    // The response limit's measure of a text block (jsonsize.rs, helper hsize).
    module.add_function(wrap_pyfunction!(jsonsize::json_str_size, module)?)?;
    module.add_function(wrap_pyfunction!(digits::digit_run, module)?)?;

    // The audit's prompt-injection prefilter (guard.rs, helper hguard; beyond ASCII: helper hwide).
    module.add_class::<guard::Prefilter>()?;
    Ok(())
}

// The detector's secrets finder (secrets.rs), overlap resolution (resolve.rs), memo of clean
// pairs (memo.rs) and e-mail/IPv4 findings (found.rs).
mod found;
mod memo;
mod resolve;
mod secrets;

/// The secrets finder's findings in `text`, each with the check Python still makes: see
/// broker/pii/recognizers_secret.py (`secrets`).
#[pyfunction]
fn secret_spans(text: &PyString) -> PyResult<Vec<secrets::Secret>> {
    scan!(text, secrets::Secrets, secrets)
}

// A worker process's cache of freed object arenas (arenas.rs).
mod arenas;

// A big JSON result masked from its text, without the Python document (scan/, helper hscan).
mod scan;

// The UTF-8 size of a str's JSON text, counted without writing it (jsonsize.rs).
mod jsonsize;

// The audit's prompt-injection prefilter (guard.rs, helper hguard; beyond ASCII: helper hwide).
mod guard;
