//! A cache of the object allocator's freed arenas (`keep_arenas`), for a worker process.
//!
//! CPython's small-object allocator takes memory from the system in arenas (1 MiB, by mmap) and
//! gives an arena back (munmap) as soon as all its objects are freed. A worker that parses and
//! frees a big JSON result per job so maps, faults in (the kernel zeroing each page) and unmaps
//! some 20 MB of arenas per 5 MB of JSON, every job. Kept here instead (up to a bound), a freed
//! arena is handed out again for the next one: its pages are already resident.

use pyo3::ffi;
use pyo3::prelude::*;
use std::os::raw::c_void;
use std::sync::Mutex;

struct Kept {
    /// The allocator this one stands in front of (the interpreter's own).
    behind: ffi::PyObjectArenaAllocator,
    /// Freed arenas (address, size), the latest last.
    free: Vec<(usize, usize)>,
    bytes: usize,
    max_bytes: usize,
}

// SAFETY: the allocator behind is a pair of plain C functions and a context pointer that
// CPython hands over to whoever installs an allocator; the interpreter calls arena functions
// with its lock held, and this Mutex guards the rest.
unsafe impl Send for Kept {}

static KEPT: Mutex<Option<Kept>> = Mutex::new(None);

fn kept() -> std::sync::MutexGuard<'static, Option<Kept>> {
    KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

extern "C" fn alloc(_ctx: *mut c_void, size: usize) -> *mut c_void {
    let mut guard = kept();
    let Some(state) = guard.as_mut() else {
        return std::ptr::null_mut();
    };
    if let Some(at) = state.free.iter().rposition(|&(_, bytes)| bytes == size) {
        let (address, bytes) = state.free.swap_remove(at);
        state.bytes -= bytes;
        return address as *mut c_void;
    }
    let behind = state.behind;
    drop(guard);
    match behind.alloc {
        Some(alloc) => alloc(behind.ctx, size),
        None => std::ptr::null_mut(),
    }
}

extern "C" fn free(_ctx: *mut c_void, ptr: *mut c_void, size: usize) {
    let mut guard = kept();
    let Some(state) = guard.as_mut() else {
        return;
    };
    if state.bytes + size <= state.max_bytes {
        state.free.push((ptr as usize, size));
        state.bytes += size;
        return;
    }
    let behind = state.behind;
    drop(guard);
    if let Some(free) = behind.free {
        free(behind.ctx, ptr, size);
    }
}

/// Keep up to `max_bytes` of freed arenas for reuse (installed on the first call; a later call
/// only sets the bound, for arenas freed from then on). Returns the bytes kept now.
#[pyfunction]
pub fn keep_arenas(_py: Python<'_>, max_bytes: usize) -> usize {
    let mut guard = kept();
    if let Some(state) = guard.as_mut() {
        state.max_bytes = max_bytes;
        return state.bytes;
    }
    let mut behind = ffi::PyObjectArenaAllocator::default();
    // SAFETY: called with the GIL held (a pyfunction), as the interpreter requires to get or
    // set its arena allocator; `alloc` and `free` hand arenas to `behind` unless kept.
    unsafe { ffi::PyObject_GetArenaAllocator(&mut behind) };
    *guard = Some(Kept {
        behind,
        free: Vec::new(),
        bytes: 0,
        max_bytes,
    });
    drop(guard);
    let mut mine = ffi::PyObjectArenaAllocator {
        ctx: std::ptr::null_mut(),
        alloc: Some(alloc),
        free: Some(free),
    };
    // SAFETY: as above; CPython copies the struct.
    unsafe { ffi::PyObject_SetArenaAllocator(&mut mine) };
    0
}
