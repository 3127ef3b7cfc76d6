//! Overlap resolution: `resolve(found)` of broker/pii/detector.py (the reference, `resolved`),
//! on the finders' list of (start, end, entity, score) tuples. The same tuples come back, in the
//! same order: by start then longest first (stable, so equal spans stay as found), every
//! finding that overlaps nothing kept as it is, each cluster of overlapping ones ranked by
//! length, score, entity priority and start (stable too) and kept strongest first where nothing
//! kept overlaps it. Input of another shape (no exact list, an item that is no 4-tuple of exact
//! ints, str and a float that is a number) goes to the reference whole.
//! tests/pii/test_native_resolve.py holds the two alike.

use crate::pyobj::{int_of, owned, Owned};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::AsPyPointer;
use std::cmp::Ordering;

/// `PATTERN_ENTITIES` of broker/pii/detector.py, in priority order; any other entity ranks 99.
const PRIORITY: [&str; 7] = [
    "SECRET",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "EMAIL_ADDRESS",
    "IP_ADDRESS",
    "PHONE_NUMBER",
];

struct Item {
    start: isize,
    end: isize,
    /// Where it is in the input list.
    at: isize,
}

fn reference(py: Python<'_>, found: &PyAny) -> PyResult<PyObject> {
    let function = py.import("broker.pii.detector")?.getattr("resolved")?;
    Ok(function.call1((found,))?.into())
}

/// Each finding's span, when all have the shape the finders give.
unsafe fn items(list: *mut ffi::PyObject) -> Option<Vec<Item>> {
    let size = ffi::PyList_GET_SIZE(list);
    let mut items = Vec::with_capacity(size as usize);
    for at in 0..size {
        let item = ffi::PyList_GET_ITEM(list, at);
        if ffi::PyTuple_CheckExact(item) == 0 || ffi::PyTuple_GET_SIZE(item) != 4 {
            return None;
        }
        let start = int_of(ffi::PyTuple_GET_ITEM(item, 0))?;
        let end = int_of(ffi::PyTuple_GET_ITEM(item, 1))?;
        let (entity, score) = (
            ffi::PyTuple_GET_ITEM(item, 2),
            ffi::PyTuple_GET_ITEM(item, 3),
        );
        if ffi::PyUnicode_CheckExact(entity) == 0
            || ffi::PyFloat_CheckExact(score) == 0
            || ffi::PyFloat_AS_DOUBLE(score).is_nan()
        {
            return None;
        }
        items.push(Item { start, end, at });
    }
    Some(items)
}

/// The rank of a finding's entity (`_PRIORITY.get(entity, 99)`).
unsafe fn priority(entity: *mut ffi::PyObject) -> usize {
    let mut size: ffi::Py_ssize_t = 0;
    let data = ffi::PyUnicode_AsUTF8AndSize(entity, &mut size);
    if data.is_null() {
        ffi::PyErr_Clear(); // (a lone surrogate: no entity name)
        return 99;
    }
    let name = std::slice::from_raw_parts(data as *const u8, size as usize);
    PRIORITY
        .iter()
        .position(|known| known.as_bytes() == name)
        .unwrap_or(99)
}

/// `_strongest(cluster)`: the cluster's findings that no stronger one overlaps, by start.
unsafe fn strongest<'a>(list: *mut ffi::PyObject, cluster: &[&'a Item]) -> Vec<&'a Item> {
    let score = |item: &Item| {
        ffi::PyFloat_AS_DOUBLE(ffi::PyTuple_GET_ITEM(
            ffi::PyList_GET_ITEM(list, item.at),
            3,
        ))
    };
    let rank = |item: &Item| {
        priority(ffi::PyTuple_GET_ITEM(
            ffi::PyList_GET_ITEM(list, item.at),
            2,
        ))
    };
    let keyed: Vec<(i128, f64, usize, isize)> = cluster
        .iter()
        .map(|item| {
            (
                item.start as i128 - item.end as i128,
                -score(item),
                rank(item),
                item.start,
            )
        })
        .collect();
    let mut ranked: Vec<usize> = (0..cluster.len()).collect();
    ranked.sort_by(|&a, &b| {
        let (x, y) = (&keyed[a], &keyed[b]);
        x.0.cmp(&y.0)
            .then(x.1.partial_cmp(&y.1).unwrap_or(Ordering::Equal))
            .then(x.2.cmp(&y.2))
            .then(x.3.cmp(&y.3))
    });
    let mut kept: Vec<&Item> = Vec::new();
    for k in ranked {
        let item = cluster[k];
        let index = kept.partition_point(|other| other.start <= item.start);
        if index > 0 && kept[index - 1].end > item.start {
            continue;
        }
        if index < kept.len() && kept[index].start < item.end {
            continue;
        }
        kept.insert(index, item);
    }
    kept
}

/// `resolve(found)`.
#[pyfunction]
pub fn resolve_found(py: Python<'_>, found: &PyAny) -> PyResult<PyObject> {
    // SAFETY: with the GIL held; items are borrowed from `found`, which no Python code changes
    // while it is read (only a new list is built here).
    unsafe {
        let list = found.as_ptr();
        if ffi::PyList_CheckExact(list) == 0 {
            return reference(py, found);
        }
        if ffi::PyList_GET_SIZE(list) < 2 {
            return Ok(found.into());
        }
        let Some(mut items) = items(list) else {
            return reference(py, found);
        };
        // By start, then longest first, else as found (a stable sort).
        items.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        let mut kept: Vec<&Item> = Vec::with_capacity(items.len());
        let mut cluster: Vec<&Item> = Vec::new();
        let mut reach = isize::MIN;
        for item in &items {
            if !cluster.is_empty() && item.start < reach {
                cluster.push(item);
                reach = reach.max(item.end);
                continue;
            }
            if cluster.len() > 1 {
                kept.extend(strongest(list, &cluster));
            } else {
                kept.extend(cluster.iter());
            }
            cluster.clear();
            cluster.push(item);
            reach = item.end;
        }
        if cluster.len() > 1 {
            kept.extend(strongest(list, &cluster));
        } else {
            kept.extend(cluster.iter());
        }
        let result = owned(py, ffi::PyList_New(kept.len() as isize))?;
        for (index, item) in kept.iter().enumerate() {
            let tuple = Owned::from_borrowed(ffi::PyList_GET_ITEM(list, item.at));
            ffi::PyList_SET_ITEM(result.0, index as isize, tuple.into_ptr());
        }
        Ok(PyObject::from_owned_ptr(py, result.into_ptr()))
    }
}
