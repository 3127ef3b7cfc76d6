//! The SQL token vault's record of the row keys its table holds (SQLite writing behind):
//! `broker.pii.sql_keyset.ReferenceKeySet` in a `HashSet<i64>`, ~19 MB at 1,000,000 keys where
//! a Python set of ints took ~80 MB. The keys are BLAKE2b digests already (keys.rs), so the
//! hasher only spreads them with one multiplication. tests/pii/test_native_keyset.py holds the
//! two to the same answers.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

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

/// Row keys (`token_key`), kept by the vault as its table changes.
#[pyclass(module = "broker.pii._native")]
#[derive(Default)]
pub struct KeySet {
    keys: HashSet<i64, BuildHasherDefault<Spread>>,
}

#[pymethods]
impl KeySet {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Record `keys` as held.
    fn add(&mut self, keys: Vec<i64>) {
        self.keys.extend(keys);
    }

    /// Forget `keys` (rows deleted).
    fn discard(&mut self, keys: Vec<i64>) {
        for key in keys {
            self.keys.remove(&key);
        }
        if self.keys.capacity() > 4 * self.keys.len() + 1024 {
            self.keys.shrink_to_fit();
        }
    }

    /// The positions in `tokens` whose key with `agent` is held, in order.
    fn held(&self, agent: &str, tokens: Vec<&str>) -> Vec<usize> {
        let agent = agent.as_bytes();
        tokens
            .iter()
            .enumerate()
            .filter(|(_, token)| self.keys.contains(&keys::key(agent, token.as_bytes())))
            .map(|(at, _)| at)
            .collect()
    }

    fn __contains__(&self, key: i64) -> bool {
        self.keys.contains(&key)
    }

    fn __len__(&self) -> usize {
        self.keys.len()
    }
}
