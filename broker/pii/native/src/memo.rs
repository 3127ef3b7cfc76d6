//! `CleanStrings`' memo of clean (string, key) pairs, in native code: which pairs of a batch it
//! does not hold (`unseen_pairs`), and the pairs it takes from a batch's findings
//! (`remember_slots`), worked out from the distinct pairs `Detector.find_many`'s dedupe gives
//! (each distinct pair once, with how often it came) where the reference walks every pair and
//! counts them again with a `Counter`. broker/pii/clean.py keeps the references (`unseen`,
//! `remembered`); tests/pii/test_native_memo.py holds the two to the same results and the same
//! memo (its contents, in the same order). Input of another shape goes to the reference whole.

use crate::clean_memo::{key_chars, memo_of, CleanMemo};
use crate::pyobj::{int_of, owned, status, Owned};
use crate::pystr::{chars, Chars};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::AsPyPointer;
use std::collections::HashMap;

/// The reference named `name` in broker/pii/clean.py, called with `args`.
fn reference(py: Python<'_>, name: &str, args: impl IntoPy<Py<PyTuple>>) -> PyResult<PyObject> {
    let function = py.import("broker.pii.clean")?.getattr(name)?;
    Ok(function.call1(args)?.into())
}

/// A new (text, key) tuple of two borrowed objects.
unsafe fn pair(
    py: Python<'_>,
    text: *mut ffi::PyObject,
    key: *mut ffi::PyObject,
) -> PyResult<Owned> {
    crate::pyobj::new_pair(py, text, key)
}

/// `unseen(clean, texts, keys)`: None when the set holds none of the pairs, else the indexes
/// of the pairs it does not hold.
#[pyfunction]
pub fn unseen_pairs(
    py: Python<'_>,
    clean: &PyAny,
    texts: &PyAny,
    keys: &PyAny,
) -> PyResult<PyObject> {
    // SAFETY: with the GIL held; items are borrowed from the lists, which no Python code
    // changes here (the set's lookups compare exact strs, tuples and None only).
    unsafe {
        let (set, texts_list, keys_list) = (clean.as_ptr(), texts.as_ptr(), keys.as_ptr());
        let memo = memo_of(clean);
        if (memo.is_none() && ffi::PySet_CheckExact(set) == 0)
            || ffi::PyList_CheckExact(texts_list) == 0
            || ffi::PyList_CheckExact(keys_list) == 0
            || ffi::PyList_GET_SIZE(texts_list) != ffi::PyList_GET_SIZE(keys_list)
        {
            return reference(py, "unseen", (clean, texts, keys));
        }
        let size = ffi::PyList_GET_SIZE(texts_list);
        for index in 0..size {
            let key = ffi::PyList_GET_ITEM(keys_list, index);
            if ffi::PyUnicode_CheckExact(ffi::PyList_GET_ITEM(texts_list, index)) == 0
                || (key != ffi::Py_None() && ffi::PyUnicode_CheckExact(key) == 0)
            {
                return reference(py, "unseen", (clean, texts, keys));
            }
        }
        let mut held = Vec::new();
        if let Some(memo) = memo {
            let memo = memo.try_borrow()?;
            held = memo_held(py, &memo, texts_list, keys_list)?;
        } else if ffi::PySet_GET_SIZE(set) > 0 {
            held = held_pairs(py, set, texts_list, keys_list)?;
        }
        if held.is_empty() {
            return Ok(py.None());
        }
        let result = owned(py, ffi::PyList_New(0))?;
        let mut next = held.iter().peekable();
        for index in 0..size {
            if next.peek() == Some(&&index) {
                next.next();
                continue;
            }
            let number = owned(py, ffi::PyLong_FromSsize_t(index))?;
            status(py, ffi::PyList_Append(result.0, number.0))?;
        }
        Ok(PyObject::from_owned_ptr(py, result.into_ptr()))
    }
}

/// The indexes of the (text, key) pairs of two equal-length lists of exact strs (keys: or None)
/// that the set holds. One probe tuple serves every lookup, its items swapped in borrowed (a
/// tuple made and freed per pair was ~a third of the call): nothing but this function sees it,
/// and a set lookup keeps no reference to it. Where tuples cache their hash (Python 3.14 on),
/// a new tuple per pair.
unsafe fn held_pairs(
    py: Python<'_>,
    set: *mut ffi::PyObject,
    texts: *mut ffi::PyObject,
    keys: *mut ffi::PyObject,
) -> PyResult<Vec<isize>> {
    let mut held = Vec::new();
    let size = ffi::PyList_GET_SIZE(texts);
    if py.version_info() >= (3, 14) {
        for index in 0..size {
            let (text, key) = (
                ffi::PyList_GET_ITEM(texts, index),
                ffi::PyList_GET_ITEM(keys, index),
            );
            let probe = pair(py, text, key)?;
            if status(py, ffi::PySet_Contains(set, probe.0))? == 1 {
                held.push(index);
            }
        }
        return Ok(held);
    }
    let probe = owned(py, ffi::PyTuple_New(2))?;
    let mut outcome = Ok(());
    for index in 0..size {
        ffi::PyTuple_SET_ITEM(probe.0, 0, ffi::PyList_GET_ITEM(texts, index));
        ffi::PyTuple_SET_ITEM(probe.0, 1, ffi::PyList_GET_ITEM(keys, index));
        match status(py, ffi::PySet_Contains(set, probe.0)) {
            Ok(1) => held.push(index),
            Ok(_) => {}
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    // (the items were borrowed: emptied before the tuple is freed)
    ffi::PyTuple_SET_ITEM(probe.0, 0, std::ptr::null_mut());
    ffi::PyTuple_SET_ITEM(probe.0, 1, std::ptr::null_mut());
    outcome.map(|()| held)
}

/// `held_pairs` of a `CleanMemo`: looked up on the strings' characters, no tuple made.
unsafe fn memo_held(
    py: Python<'_>,
    memo: &CleanMemo,
    texts: *mut ffi::PyObject,
    keys: *mut ffi::PyObject,
) -> PyResult<Vec<isize>> {
    let mut held = Vec::new();
    if memo.len() == 0 {
        return Ok(held);
    }
    for index in 0..ffi::PyList_GET_SIZE(texts) {
        let (text, key) = (
            ffi::PyList_GET_ITEM(texts, index),
            ffi::PyList_GET_ITEM(keys, index),
        );
        if memo.holds(&chars(py, text)?, key_chars(py, key)?.as_ref()) {
            held.push(index);
        }
    }
    Ok(held)
}

/// The value of an exact int in `0..limit`, else None.
unsafe fn index_below(object: *mut ffi::PyObject, limit: isize) -> Option<isize> {
    int_of(object).filter(|value| (0..limit).contains(value))
}

/// `remembered(clean, which, texts, keys, found, most, big_batch, big_key, most_entries)`: the
/// batch's pairs in which nothing was found and whose string has at most `most` characters go
/// into `clean`; of those, where there are more than `big_batch` of them or more than `big_key`
/// under the pair's key (counting repeats), only those that came more than once; `clean` is
/// emptied first when it would hold more than `most_entries`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn remember_slots(
    py: Python<'_>,
    clean: &PyAny,
    which: &PyAny,
    texts: &PyAny,
    keys: &PyAny,
    found: &PyAny,
    most: isize,
    big_batch: isize,
    big_key: isize,
    most_entries: isize,
) -> PyResult<PyObject> {
    let args = (
        clean,
        which,
        texts,
        keys,
        found,
        most,
        big_batch,
        big_key,
        most_entries,
    );
    // SAFETY: with the GIL held; items are borrowed from the lists, which no Python code
    // changes here (the set's additions hash and compare exact strs, tuples and None only).
    unsafe {
        let (set, which_list, texts_list, keys_list, found_list) = (
            clean.as_ptr(),
            which.as_ptr(),
            texts.as_ptr(),
            keys.as_ptr(),
            found.as_ptr(),
        );
        let memo = memo_of(clean);
        if (memo.is_none() && ffi::PySet_CheckExact(set) == 0)
            || [which_list, texts_list, keys_list, found_list]
                .iter()
                .any(|&list| ffi::PyList_CheckExact(list) == 0)
        {
            return reference(py, "remembered", args);
        }
        let slots = ffi::PyList_GET_SIZE(texts_list);
        if ffi::PyList_GET_SIZE(keys_list) != slots || ffi::PyList_GET_SIZE(found_list) != slots {
            return reference(py, "remembered", args);
        }
        let mut counts = vec![0isize; slots as usize];
        for index in 0..ffi::PyList_GET_SIZE(which_list) {
            match index_below(ffi::PyList_GET_ITEM(which_list, index), slots) {
                Some(slot) => counts[slot as usize] += 1,
                None => return reference(py, "remembered", args),
            }
        }
        let mut fresh = Vec::new();
        let mut repeats = 0isize;
        for slot in 0..slots {
            let (text, key) = (
                ffi::PyList_GET_ITEM(texts_list, slot),
                ffi::PyList_GET_ITEM(keys_list, slot),
            );
            let spans = ffi::PyList_GET_ITEM(found_list, slot);
            if ffi::PyUnicode_CheckExact(text) == 0
                || (key != ffi::Py_None() && ffi::PyUnicode_CheckExact(key) == 0)
                || ffi::PyList_CheckExact(spans) == 0
            {
                return reference(py, "remembered", args);
            }
            if counts[slot as usize] > 0
                && ffi::PyList_GET_SIZE(spans) == 0
                && ffi::PyUnicode_GET_LENGTH(text) <= most
            {
                fresh.push(slot);
                repeats += counts[slot as usize];
            }
        }
        let big = repeats > big_batch;
        let totals = key_totals(py, keys_list, &fresh, &counts)?;
        let kept: Vec<isize> = fresh
            .iter()
            .zip(totals)
            .filter(|&(&slot, total)| counts[slot as usize] > 1 || !(big || total > big_key))
            .map(|(&slot, _)| slot)
            .collect();
        let size = kept.len() as isize;
        if let Some(memo) = memo {
            let mut memo = memo.try_borrow_mut()?;
            if memo.len() as isize + size > most_entries {
                memo.empty();
            }
            for slot in kept {
                let key = key_chars(py, ffi::PyList_GET_ITEM(keys_list, slot))?;
                memo.add(
                    &chars(py, ffi::PyList_GET_ITEM(texts_list, slot))?,
                    key.as_ref(),
                );
            }
            return Ok(py.None());
        }
        if ffi::PySet_GET_SIZE(set) + size > most_entries {
            status(py, ffi::PySet_Clear(set))?;
        }
        for slot in kept {
            let item = pair(
                py,
                ffi::PyList_GET_ITEM(texts_list, slot),
                ffi::PyList_GET_ITEM(keys_list, slot),
            )?;
            status(py, ffi::PySet_Add(set, item.0))?;
        }
        Ok(py.None())
    }
}

/// For each slot of `fresh` (of exact str or None keys), the count of its key's slots (each as
/// often as it came, by `counts`): keys are equal by their characters, as the reference's
/// `Counter` of them has it.
unsafe fn key_totals(
    py: Python<'_>,
    keys: *mut ffi::PyObject,
    fresh: &[isize],
    counts: &[isize],
) -> PyResult<Vec<isize>> {
    let mut groups: Vec<(*mut ffi::PyObject, isize)> = Vec::new();
    let mut by_hash: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut group_of = Vec::with_capacity(fresh.len());
    let none = ffi::Py_None();
    for &slot in fresh {
        let key = ffi::PyList_GET_ITEM(keys, slot);
        let text = key_chars(py, key)?;
        let candidates = by_hash
            .entry(text.as_ref().map_or(0, Chars::hash))
            .or_default();
        let mut group = None;
        for &candidate in candidates.iter() {
            let other = groups[candidate].0;
            let same = other == key
                || match &text {
                    Some(text) => other != none && text.same(&chars(py, other)?),
                    None => false,
                };
            if same {
                group = Some(candidate);
                break;
            }
        }
        let group = group.unwrap_or_else(|| {
            groups.push((key, 0));
            candidates.push(groups.len() - 1);
            groups.len() - 1
        });
        groups[group].1 += counts[slot as usize];
        group_of.push(group);
    }
    Ok(group_of.into_iter().map(|group| groups[group].1).collect())
}

/// `handed_out(found, which)` of broker/pii/detector.py: the findings of each slot in `which`,
/// the slot's own list the first time and a new copy after (where `repeated_found` copied
/// every one: ~63,000 lists per 5 MB of pii_path's CRM records, ~0.45 ms per MB).
#[pyfunction]
pub fn hand_out(py: Python<'_>, found: &PyAny, which: &PyAny) -> PyResult<PyObject> {
    // SAFETY: with the GIL held; items are borrowed from `found` and `which`, unchanged here.
    unsafe {
        let (list, indexes) = (found.as_ptr(), which.as_ptr());
        let fallback = |py: Python<'_>| {
            let function = py.import("broker.pii.detector")?.getattr("handed_out")?;
            Ok(function.call1((found, which))?.into())
        };
        if ffi::PyList_CheckExact(list) == 0 || ffi::PyList_CheckExact(indexes) == 0 {
            return fallback(py);
        }
        let (count, size) = (ffi::PyList_GET_SIZE(list), ffi::PyList_GET_SIZE(indexes));
        for index in 0..count {
            if ffi::PyList_CheckExact(ffi::PyList_GET_ITEM(list, index)) == 0 {
                return fallback(py);
            }
        }
        let mut slots = Vec::with_capacity(size as usize);
        for index in 0..size {
            match index_below(ffi::PyList_GET_ITEM(indexes, index), count) {
                Some(slot) => slots.push(slot),
                None => return fallback(py),
            }
        }
        let mut taken = vec![false; count as usize];
        let results = owned(py, ffi::PyList_New(size))?;
        for (index, &slot) in slots.iter().enumerate() {
            let spans = ffi::PyList_GET_ITEM(list, slot);
            let item = if std::mem::replace(&mut taken[slot as usize], true) {
                owned(
                    py,
                    ffi::PyList_GetSlice(spans, 0, ffi::PyList_GET_SIZE(spans)),
                )?
            } else {
                Owned::from_borrowed(spans)
            };
            ffi::PyList_SET_ITEM(results.0, index as isize, item.into_ptr());
        }
        Ok(PyObject::from_owned_ptr(py, results.into_ptr()))
    }
}
