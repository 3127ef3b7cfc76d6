"""Server-sent events, split as they arrive: complete events go on at once, a partial one waits
for its end. Nothing else is held back, so a stream passes through chunk by chunk."""

from __future__ import annotations

_SEPARATORS = (b"\n\n", b"\r\n\r\n")


class EventSplitter:
    def __init__(self) -> None:
        self._rest = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The complete events (each with its blank-line terminator) that `chunk` finishes."""
        data = self._rest + chunk if self._rest else chunk
        events: list[bytes] = []
        start = 0
        while True:
            end, width = _next_separator(data, start)
            if end < 0:
                break
            events.append(data[start : end + width])
            start = end + width
        self._rest = data[start:]
        return events

    def rest(self) -> bytes:
        """What arrived after the last complete event (a stream cut off mid-event)."""
        return self._rest


def _next_separator(data: bytes, start: int) -> tuple[int, int]:
    lf = data.find(b"\n\n", start)
    crlf = data.find(b"\r\n\r\n", start) if data.find(b"\r") >= 0 else -1  # (see connectors/jsonwire.py)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf, 4
    return lf, 2


def event_fields(event: bytes) -> tuple[bytes | None, bytes]:
    """The event's `event:` name (None if absent) and its `data:` lines joined by newlines."""
    if event.startswith(b"data: ") and event.count(b"\n") <= 2 and event.find(b"\r") < 0:
        return None, event[6:].rstrip(b"\n")  # the common case: one data line
    name: bytes | None = None
    data: list[bytes] = []
    for line in event.splitlines():
        if line.startswith(b"data:"):
            data.append(line[6:] if line[5:6] == b" " else line[5:])
        elif line.startswith(b"event:"):
            name = line[6:].strip()
    return name, b"\n".join(data)
