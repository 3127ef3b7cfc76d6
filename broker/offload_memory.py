"""A worker process's memory kept between jobs (`keep`), not given back and faulted in again.

A job masking a 5 MB JSON result allocates some 40 MB (the text, the parsed document, the
findings) and frees it at its end, where both allocators give most of it back to the system at
once: glibc unmaps its big blocks and trims its heap, CPython unmaps its emptied 1 MiB arenas.
The next job maps it all again and the kernel zeroes each page as it is first touched: ~10,000
page faults a job. Kept instead (glibc: big blocks from its heap, which it trims only past
`KEEP_BYTES` free; CPython's arenas kept by the native `keep_arenas` up to `KEEP_BYTES`), the
pages stay resident for the next job. The worker's memory stays at its peak while idle, bounded.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger("broker.offload")
KEEP_BYTES = 128 * 1024 * 1024
"""Freed memory a worker keeps, per allocator."""
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MAX_MMAP_THRESHOLD = 32 * 1024 * 1024
"""glibc's largest (64-bit): blocks past it are still mapped on their own."""


def keep() -> None:
    """In a worker process, at its start: keep freed memory for the next job where the platform
    allows (glibc's `mallopt`; the native module's arena cache), else nothing."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        pass
    else:
        mallopt(_M_MMAP_THRESHOLD, _MAX_MMAP_THRESHOLD)
        mallopt(_M_TRIM_THRESHOLD, KEEP_BYTES)
    try:
        from broker.pii._native import keep_arenas
    except ImportError:  # not built: the interpreter's own arenas, as before
        return
    keep_arenas(KEEP_BYTES)
