//! The SQLite token vault's index of its places (writing behind): `broker.pii.sql_keymap.
//! ReferenceKeyMap` in a `HashMap<i64, i64>`, each row key (`token_key`) to the id of the place
//! holding it, ~50 MB resident at 1,000,000 keys where a Python dict of ints took ~120 MB. The
//! keys are BLAKE2b digests already (keys.rs), so the hasher only spreads them with one
//! multiplication. tests/pii/test_native_keymap.py holds the two to the same answers.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::keys;

/// An `i64` key times an odd constant (Fibonacci hashing): its bits spread over the word.
#[derive(Default)]
pub struct Spread(u64);

const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for Spread {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(SPREAD);
        }
    }

    fn write_i64(&mut self, key: i64) {
        self.0 = (self.0 ^ key as u64).wrapping_mul(SPREAD);
    }
}

type Spreading = BuildHasherDefault<Spread>;

/// Row keys (`token_key`) and the place holding each, kept by the vault as its table changes.
#[pyclass(module = "broker.pii._native")]
#[derive(Default)]
pub struct KeyMap {
    ids: HashMap<i64, i64, Spreading>,
}

fn same_length(keys: &[i64], ids: &[i64]) -> PyResult<()> {
    if keys.len() != ids.len() {
        return Err(PyValueError::new_err("an id a key is needed"));
    }
    Ok(())
}

#[pymethods]
impl KeyMap {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Record each of `keys` as held by the place of the same position in `ids`.
    fn add(&mut self, keys: Vec<i64>, ids: Vec<i64>) -> PyResult<()> {
        same_length(&keys, &ids)?;
        self.ids.extend(keys.into_iter().zip(ids));
        Ok(())
    }

    /// Record `keys` as held by consecutive places from `first` on (a flush's, appended).
    fn add_run(&mut self, keys: Vec<i64>, first: i64) {
        self.ids.extend(keys.into_iter().zip(first..));
    }

    /// Forget each of `keys` that the place of the same position in `ids` still holds (places
    /// deleted).
    fn discard(&mut self, keys: Vec<i64>, ids: Vec<i64>) -> PyResult<()> {
        same_length(&keys, &ids)?;
        for (key, id) in keys.into_iter().zip(ids) {
            if self.ids.get(&key) == Some(&id) {
                self.ids.remove(&key);
            }
        }
        if self.ids.capacity() > 4 * self.ids.len() + 1024 {
            self.ids.shrink_to_fit();
        }
        Ok(())
    }

    /// The positions in `tokens` whose key with `agent` is held, in order, and the places
    /// holding them.
    fn placed(&self, agent: &str, tokens: Vec<&str>) -> (Vec<usize>, Vec<i64>) {
        let agent = agent.as_bytes();
        let mut positions = Vec::new();
        let mut ids = Vec::new();
        for (at, token) in tokens.iter().enumerate() {
            if let Some(&id) = self.ids.get(&keys::key(agent, token.as_bytes())) {
                positions.push(at);
                ids.push(id);
            }
        }
        (positions, ids)
    }

    /// A batch's `keys` sorted out: the positions of those not held (each key's first), the
    /// positions of those held and the places holding them, and the positions of keys already
    /// seen earlier in the batch.
    #[allow(clippy::type_complexity)]
    fn split(&self, keys: Vec<i64>) -> (Vec<usize>, Vec<usize>, Vec<i64>, Vec<usize>) {
        let mut new = Vec::with_capacity(keys.len());
        let (mut held, mut ids, mut repeated) = (Vec::new(), Vec::new(), Vec::new());
        let mut seen: HashSet<i64, Spreading> =
            HashSet::with_capacity_and_hasher(keys.len(), Spreading::default());
        for (at, key) in keys.into_iter().enumerate() {
            if !seen.insert(key) {
                repeated.push(at);
            } else if let Some(&id) = self.ids.get(&key) {
                held.push(at);
                ids.push(id);
            } else {
                new.push(at);
            }
        }
        (new, held, ids, repeated)
    }

    /// The place holding `key`, if any.
    fn get(&self, key: i64) -> Option<i64> {
        self.ids.get(&key).copied()
    }

    fn __contains__(&self, key: i64) -> bool {
        self.ids.contains_key(&key)
    }

    fn __len__(&self) -> usize {
        self.ids.len()
    }
}
