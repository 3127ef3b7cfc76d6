"""Memory a process frees kept for its next big result (`keep`), not given back and faulted in again.

A worker masking a 5 MB JSON result allocates some 40 MB (the text, the parsed document, the
findings) and frees it at the job's end; the gateway, per such call, holds the result's text
several times over (the upstream's answer, its parse, the text for the worker and back, the
answer) and its 23,000 tokens. By default both allocators give most of it back to the system at
once: glibc unmaps its big blocks and trims its heap, CPython unmaps its emptied 1 MiB arenas. The
next call maps it all again and the kernel zeroes each page as it is first touched (~8,400 page
faults a job in a worker, ~7,000 a call in the gateway). Kept instead (glibc: blocks up to 32 MB
from its heap, which it trims only past the bound free; CPython's arenas kept by the native
`keep_arenas` up to the bound), the pages stay resident for the next call. A process's memory so
stays at its peak while idle, by at most the bound per allocator.
"""

from __future__ import annotations

import ctypes

WORKER_KEEP_BYTES = 128 * 1024 * 1024
"""Freed memory a worker process keeps, per allocator."""
GATEWAY_KEEP_BYTES = 64 * 1024 * 1024
"""Freed memory the gateway's process keeps, per allocator."""
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MAX_MMAP_THRESHOLD = 32 * 1024 * 1024
"""glibc's largest (64-bit): blocks past it are still mapped on their own."""


def keep(max_bytes: int) -> None:
    """Keep up to `max_bytes` of freed memory (per allocator) for the next big result where the
    platform allows (glibc's `mallopt`; the native module's arena cache), else nothing. Once
    per process, at its start (again: the last bound holds)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        pass
    else:
        mallopt(_M_MMAP_THRESHOLD, _MAX_MMAP_THRESHOLD)
        mallopt(_M_TRIM_THRESHOLD, max_bytes)
    try:
        from broker.pii._native import keep_arenas
    except ImportError:  # not built: the interpreter's own arenas, as before
        return
    keep_arenas(max_bytes)
