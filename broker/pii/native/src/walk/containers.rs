//! The walk of containers: `Collected.walk_object` and `Collected.walk_items`, and what they
//! do per key and item.

use super::*;

impl<'py> Walker<'py> {
    /// `Collected.walk_object`: a copy of a dict (or a subclass of dict), its items walked.
    pub(super) unsafe fn walk_object(
        &mut self,
        value: *mut ffi::PyObject,
        states: *mut ffi::PyObject,
        matched: *mut ffi::PyObject,
    ) -> PyResult<Owned> {
        if Py_EnterRecursiveCall(DEEPER.as_ptr() as *const c_char) != 0 {
            return Err(PyErr::fetch(self.py));
        }
        let result = self.walk_object_inner(value, states, matched);
        ffi::Py_LeaveRecursiveCall();
        result
    }

    pub(super) unsafe fn walk_object_inner(
        &mut self,
        value: *mut ffi::PyObject,
        states: *mut ffi::PyObject,
        matched: *mut ffi::PyObject,
    ) -> PyResult<Owned> {
        let size = ffi::PyObject_Size(value);
        if size < 0 {
            return Err(PyErr::fetch(self.py));
        }
        // the size matters to path rules only (an index counted from the end)
        let size = if status(self.py, ffi::PyObject_IsTrue(states))? != 0 {
            Some(owned(self.py, ffi::PyLong_FromSsize_t(size))?)
        } else {
            None
        };
        let size = size.as_ref().map_or(ptr::null_mut(), |size| size.0);
        if ffi::PyDict_CheckExact(value) != 0 && string_keys(value) {
            // The copy made in one go: what `copy[child_key] = child` item by item makes.
            let copy = owned(self.py, ffi::PyDict_Copy(value))?;
            let mut position: ffi::Py_ssize_t = 0;
            let mut key = ptr::null_mut();
            let mut child = ptr::null_mut();
            while ffi::PyDict_Next(value, &mut position, &mut key, &mut child) != 0 {
                let key = Owned::from_borrowed(key);
                let child = Owned::from_borrowed(child);
                self.item(copy.0, key.0, child.0, states, matched, size, false)?;
            }
            return Ok(copy);
        }
        let copy = owned(self.py, ffi::PyDict_New())?;
        let items = self
            .py
            .from_borrowed_ptr::<PyAny>(value)
            .call_method0("items")?;
        for item in items.iter()? {
            let (key, child): (&PyAny, &PyAny) = item?.extract()?;
            let key = if ffi::PyUnicode_Check(key.as_ptr()) != 0 {
                Owned::from_borrowed(key.as_ptr())
            } else {
                owned(self.py, ffi::PyObject_Str(key.as_ptr()))? // JSON keys are strings
            };
            self.item(copy.0, key.0, child.as_ptr(), states, matched, size, true)?;
        }
        Ok(copy)
    }

    /// `known_keys.get(key)`, else `rules.key_info(key)`: the key-name rule matching `key`, and
    /// whether the key may hold PII.
    pub(super) unsafe fn key_info(&mut self, key: *mut ffi::PyObject) -> PyResult<(Owned, bool)> {
        let py = self.py;
        let at = (key as usize >> 4) & (SEEN - 1);
        let (seen, hit, scan_key) = self.seen[at];
        if seen == key as usize {
            return Ok((Owned::from_borrowed(hit), scan_key));
        }
        let known = ffi::PyDict_GetItemWithError(self.known_keys, key);
        let info = if known.is_null() {
            if !ffi::PyErr_Occurred().is_null() {
                return Err(PyErr::fetch(py));
            }
            self.call(self.rules, intern!(self.py, "key_info"), &[key])?
        } else {
            Owned::from_borrowed(known)
        };
        let (hit, scan_key) = pair(py, &info)?;
        let scan_key = status(py, ffi::PyObject_IsTrue(scan_key.0))? != 0;
        self.held.push(Owned::from_borrowed(key));
        self.held.push(Owned::from_borrowed(hit.0));
        self.seen[at] = (key as usize, hit.0, scan_key);
        Ok((hit, scan_key))
    }

    /// One item of an object: its key's rules and text, then its value.
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn item(
        &mut self,
        copy: *mut ffi::PyObject,
        key: *mut ffi::PyObject,
        child: *mut ffi::PyObject,
        states: *mut ffi::PyObject,
        matched: *mut ffi::PyObject,
        // `len` of the object, null where there are no path states
        size: *mut ffi::PyObject,
        put: bool,
    ) -> PyResult<()> {
        let (child_states, inner) = self.keyed(key, copy, Slot::Key(key), states, matched, size)?;
        if put {
            status(self.py, ffi::PyDict_SetItem(copy, key, child))?;
        }
        if let Some(walked) =
            self.value(child, key, copy, Slot::Key(key), child_states.0, inner.0)?
        {
            status(self.py, ffi::PyDict_SetItem(copy, key, walked.0))?;
        }
        Ok(())
    }

    /// An object's key: its rules (the path states of its value, and the match its value is
    /// masked by), its text gathered (to be written at `parent[slot]`) where it may hold PII.
    pub(crate) unsafe fn keyed(
        &mut self,
        key: *mut ffi::PyObject,
        parent: *mut ffi::PyObject,
        slot: Slot,
        states: *mut ffi::PyObject,
        matched: *mut ffi::PyObject,
        // `len` of the object, null where there are no path states
        size: *mut ffi::PyObject,
    ) -> PyResult<(Owned, Owned)> {
        let py = self.py;
        let none = ffi::Py_None();
        let (mut hit, scan_key) = self.key_info(key)?;
        let mut child_states = Owned::from_borrowed(self.empty.0);
        if !size.is_null() {
            let memo_key = owned(py, ffi::PyTuple_New(2))?;
            ffi::Py_INCREF(states);
            ffi::PyTuple_SET_ITEM(memo_key.0, 0, states);
            ffi::Py_INCREF(key);
            ffi::PyTuple_SET_ITEM(memo_key.0, 1, key);
            let memo = self.known_children.as_ptr();
            let found = ffi::PyDict_GetItemWithError(memo, memo_key.0);
            let outcome = if found.is_null() {
                if !ffi::PyErr_Occurred().is_null() {
                    return Err(PyErr::fetch(py));
                }
                let fresh =
                    self.call(self.rules, intern!(self.py, "child"), &[states, key, size])?;
                self.call(
                    self.known_children,
                    intern!(self.py, "keep"),
                    &[memo_key.0, fresh.0],
                )?
            } else {
                Owned::from_borrowed(found)
            };
            let (advanced, path_hit) = pair(py, &outcome)?;
            child_states = advanced;
            if path_hit.0 != none {
                hit = if hit.0 == none {
                    path_hit
                } else {
                    self.strongest(hit.0, path_hit.0)?
                };
            }
        }
        if scan_key && self.not_clean(key, none)? {
            let index = owned(
                py,
                ffi::PyLong_FromSsize_t(ffi::PyList_GET_SIZE(self.texts)),
            )?;
            status(py, ffi::PySet_Add(self.key_slots, index.0))?;
            self.gather(key, none, parent, slot)?;
        }
        let inner = if hit.0 == none {
            Owned::from_borrowed(matched)
        } else {
            self.strongest(matched, hit.0)?
        };
        Ok((child_states, inner))
    }

    /// Path states into item `index` of a list of `size` (`rules.child`): the states of the
    /// item, and the match it is masked by.
    pub(crate) unsafe fn indexed(
        &self,
        index: isize,
        size: *mut ffi::PyObject,
        states: *mut ffi::PyObject,
        matched: *mut ffi::PyObject,
    ) -> PyResult<(Owned, Owned)> {
        let py = self.py;
        let at = owned(py, ffi::PyLong_FromSsize_t(index))?;
        let outcome = self.call(self.rules, intern!(self.py, "child"), &[states, at.0, size])?;
        let (advanced, hit) = pair(py, &outcome)?;
        let inner = if hit.0 != ffi::Py_None() {
            self.strongest(matched, hit.0)?
        } else {
            Owned::from_borrowed(matched)
        };
        Ok((advanced, inner))
    }

    /// `Collected.walk_items`: a list of a list's (or tuple's) items, walked.
    pub(super) unsafe fn walk_items(
        &mut self,
        value: *mut ffi::PyObject,
        key: *mut ffi::PyObject,
        states: *mut ffi::PyObject,
        matched: *mut ffi::PyObject,
    ) -> PyResult<Owned> {
        if Py_EnterRecursiveCall(DEEPER.as_ptr() as *const c_char) != 0 {
            return Err(PyErr::fetch(self.py));
        }
        let result = self.walk_items_inner(value, key, states, matched);
        ffi::Py_LeaveRecursiveCall();
        result
    }

    pub(super) unsafe fn walk_items_inner(
        &mut self,
        value: *mut ffi::PyObject,
        key: *mut ffi::PyObject,
        states: *mut ffi::PyObject,
        matched: *mut ffi::PyObject,
    ) -> PyResult<Owned> {
        let py = self.py;
        let items = owned(py, ffi::PySequence_List(value))?;
        let size = ffi::PyList_GET_SIZE(items.0);
        let paths = status(py, ffi::PyObject_IsTrue(states))? != 0;
        let size_object = if paths {
            Some(owned(py, ffi::PyLong_FromSsize_t(size))?)
        } else {
            None
        };
        let mut index = 0;
        while index < ffi::PyList_GET_SIZE(items.0) {
            let child = Owned::from_borrowed(ffi::PyList_GET_ITEM(items.0, index));
            let (child_states, inner) = match &size_object {
                Some(size_object) => self.indexed(index, size_object.0, states, matched)?,
                None => (
                    Owned::from_borrowed(self.empty.0),
                    Owned::from_borrowed(matched),
                ),
            };
            if let Some(walked) = self.value(
                child.0,
                key,
                items.0,
                Slot::Index(index),
                child_states.0,
                inner.0,
            )? {
                status(py, ffi::PyList_SetItem(items.0, index, walked.into_ptr()))?;
            }
            index += 1;
        }
        Ok(items)
    }
}
