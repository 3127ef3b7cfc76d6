"""A big text handed to a worker process (`broker.offload`) and back through a memory file.

Through the pool's pipes a 5 MB text costs the gateway ~17 ms of CPU to send and take back and the
worker ~12 (64 KB a read, `Connection.recv_bytes` allocating and shrinking the remainder at each,
a buffer grown by copies, the pickle); through an anonymous memory file (Linux `memfd_create`) ~6
and ~9 (measured with a 5 MB echo job, min of 40). The gateway writes the text's UTF-8 into a file
of its own and sends the worker where it is (`Sent`: its process id, descriptor and inode); the
worker opens it through /proc, reads the text, and writes its answer over it, which the gateway
reads once the job is done.

The worker checks the inode of what it opened: a descriptor closed meanwhile (a cancelled call)
and reused for another file is refused, never read or written. Where there is no memfd_create or
the worker may not open the gateway's descriptors (another platform, a hardened /proc), the first
failure turns this off for the life of the process (`available`), and texts go by pipe as before.
"""

from __future__ import annotations

import logging
import mmap
import os
from types import TracebackType
from typing import NamedTuple

log = logging.getLogger("broker.offload")
ERRORS = "surrogatepass"
"""What pickle does with a lone surrogate (JSON's "\\ud800" makes one): written and read back as is.
The token HMACs and the hash operator encode values so too (broker/pii/operators.py)."""
_state = {"available": hasattr(os, "memfd_create")}


class Sent(NamedTuple):
    """Where a worker finds a text: the gateway's process id, its descriptor, the file's inode."""

    pid: int
    fd: int
    inode: int


def available() -> bool:
    """Whether texts go to workers through memory files (until one failed)."""
    return _state["available"]


def unavailable(error: OSError) -> None:
    """Texts go by pipe from now on: a memory file could not be made, or a worker could not open one."""
    if _state["available"]:
        log.warning("big texts go to worker processes by pipe from now on: %s", error)
    _state["available"] = False


class SharedText:
    """The gateway's side: a memory file holding a text for a worker, closed with the `with` block."""

    def __init__(self, text: str) -> None:
        self._fd = os.memfd_create("broker-text", os.MFD_CLOEXEC)
        try:
            _write(self._fd, text.encode("utf-8", ERRORS))
            self.sent = Sent(os.getpid(), self._fd, os.fstat(self._fd).st_ino)
        except BaseException:
            os.close(self._fd)
            raise

    def __enter__(self) -> SharedText:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        os.close(self._fd)

    def read(self) -> str:
        """The text the worker wrote back."""
        return _read(self._fd)


def take(sent: Sent) -> tuple[int, str]:
    """The worker's side: a descriptor of its own for the gateway's file, and the text in it.
    OSError where it cannot be opened or is not that file."""
    fd = os.open(f"/proc/{sent.pid}/fd/{sent.fd}", os.O_RDWR | os.O_CLOEXEC)
    try:
        if os.fstat(fd).st_ino != sent.inode:
            raise FileNotFoundError(f"the gateway's descriptor {sent.fd} now names another file")
        return fd, _read(fd)
    except BaseException:
        os.close(fd)
        raise


def give(fd: int, utf8: bytes) -> None:
    """The worker's side: a text's UTF-8 (`ERRORS` for lone surrogates) written over what the file
    held, for the gateway to read (over it, then cut to its length: the file's pages are reused,
    not freed and made again). Bytes, so that a serialiser's own UTF-8 (orjson's) goes as it is,
    not decoded to str and encoded back (~3 ms for 5 MB)."""
    os.ftruncate(fd, _write(fd, utf8))


def _write(fd: int, utf8: bytes) -> int:
    data = memoryview(utf8)
    written = 0
    while written < len(data):
        written += os.pwrite(fd, data[written:], written)
    return written


def _read(fd: int) -> str:
    size = os.fstat(fd).st_size
    if not size:
        return ""
    with mmap.mmap(fd, size, prot=mmap.PROT_READ) as mapped, memoryview(mapped) as view:
        return str(view, "utf-8", ERRORS)
