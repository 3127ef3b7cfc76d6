"""What the cache holds: a key that names no argument value, and a masked, successful result."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote

import orjson

from connectors.base import ResourceOutput, ToolOutput

Cached = ToolOutput | ResourceOutput
"""What may be stored: tool results and resource contents."""

SHARED_SCOPE = "s"
"""The scope of entries every agent with the same masking may use."""


def agent_scope(agent_id: str, end_user: str | None = None) -> str:
    """The scope of one agent's own entries (by its id, so a re-created agent starts afresh),
    and of one end user's when the agent acts for one (by a digest: keys carry no names)."""
    if end_user is None:
        return f"a.{agent_id}"
    return f"a.{agent_id}.u.{hashlib.sha256(end_user.encode()).hexdigest()[:16]}"


class CacheKey(NamedTuple):
    """Tool and scope in clear (for purges and stats), everything else only as a keyed digest.
    A tuple: made, hashed and compared on every lookup, in C (a frozen dataclass took ~1.5 us)."""

    tool: str
    scope: str
    digest: str

    def text(self) -> str:
        """The key as one string: `<tool>|<scope>|<digest>`, the tool percent-encoded."""
        return f"{quote(self.tool, safe='._-')}|{self.scope}|{self.digest}"


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored result and when it was stored (wall clock, comparable across instances)."""

    output: Cached
    stored_at: float
    ttl: float
    size: int

    def fresh(self, now: float, max_age: float) -> bool:
        return now - self.stored_at <= max_age and now - self.stored_at <= self.ttl


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"cannot store a {type(value).__name__} in the cache")


def encode(output: Cached, stored_at: float, ttl: float) -> bytes:
    """Compact JSON: content (resource contents under "r"), structured content, meta and timing;
    never the arguments."""
    value: dict[str, Any] = {"t": stored_at, "l": ttl, "m": output.meta}
    if isinstance(output, ResourceOutput):
        value["r"] = output.contents
    else:
        value["c"], value["s"] = output.content, output.structured
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_plain).encode()


def encoded_size(output: Cached, stored_at: float, ttl: float) -> int:
    """`len(encode(...))`, from orjson where it can write the value (4-5 times faster: a miss
    paid ~10 us per KB-sized result for json.dumps here). Its text differs only where json.dumps
    writes NaN or infinities (orjson: null) or an exponent's plus sign: a byte or so of a size
    that is a proxy for memory anyway."""
    value: dict[str, Any] = {"t": stored_at, "l": ttl, "m": output.meta}
    if isinstance(output, ResourceOutput):
        value["r"] = output.contents
    else:
        value["c"], value["s"] = output.content, output.structured
    try:
        return len(orjson.dumps(value, default=_plain))
    except TypeError:  # keys that are not strings, integers past 64 bits: as json.dumps
        return len(encode(output, stored_at, ttl))


def decode(raw: bytes) -> Entry:
    value = json.loads(raw)
    output: Cached
    if "r" in value:
        output = ResourceOutput(contents=value["r"], meta=value.get("m") or {})
    else:
        output = ToolOutput(content=value["c"], structured=value["s"], meta=value.get("m") or {})
    return Entry(output, float(value["t"]), float(value["l"]), len(raw))
