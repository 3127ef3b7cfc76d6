"""Opaque cursors for every list the gateway answers (tools, resources, templates, prompts).

A cursor encodes the list it belongs to and the offset of the next page, base64url, so a
client treats it as opaque and the gateway needs no state between pages. A cursor that does
not decode or belongs to another list is invalid params (-32602). Lists
are built per caller from the snapshot in a stable order; if the snapshot changes between
pages, the next page continues at the same offset of the new list.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import TypeVar

import mcp_types as types
from mcp.shared.exceptions import MCPError

PAGE_SIZE = 200
"""Items per page: large enough that most catalogs fit one page, small enough to bound a reply."""

T = TypeVar("T")


def paginate(items: Sequence[T], cursor: str | None, kind: str) -> tuple[list[T], str | None]:
    """The page `cursor` points at (the first without one) and the cursor of the next, if any."""
    start = page_start(cursor, kind)
    end = start + PAGE_SIZE
    page = list(items[start:end])
    return page, next_cursor(kind, end, len(items))


def page_start(cursor: str | None, kind: str) -> int:
    """The offset `cursor` points at (0 without one); MCPError -32602 for a cursor not of `kind`."""
    return 0 if cursor is None else _offset(cursor, kind)


def next_cursor(kind: str, end: int, total: int) -> str | None:
    """The cursor of the page after one ending at `end`, None when that was the last."""
    return _cursor(kind, end) if end < total else None


def _cursor(kind: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str, kind: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        found, _, number = raw.partition(":")
        offset = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        offset, found = -1, ""
    if found != kind or offset < 1 or not number.isdigit():
        raise MCPError(
            types.INVALID_PARAMS,
            f"Invalid cursor for {kind}/list: pass the nextCursor of the previous page "
            "(or no cursor for the first page)",
        )
    return offset
