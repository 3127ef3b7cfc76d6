"""Form bodies: application/x-www-form-urlencoded and multipart/form-data from an object of fields.

Nested objects use the bracket convention most form APIs read (Stripe, Rails, PHP):
`metadata[order]=7`, lists inside objects `items[0][price]=p`; a top-level list of scalars
repeats its field (`expand=a&expand=b`, OpenAPI's default `form` style with `explode`).
Scalars read as in a URL (true, 3, Paris); null fields are left out.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from typing import Any

from connectors.errors import ConnectorError


def form_pairs(fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The fields flattened to (name, text) pairs in order."""
    return [pair for name, value in fields.items() for pair in _flatten(name, value, top=True)]


def _flatten(name: str, value: Any, *, top: bool = False) -> Iterator[tuple[str, str]]:
    if value is None:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _flatten(f"{name}[{key}]", item)
    elif isinstance(value, list):
        if top and all(not isinstance(item, Mapping | list) for item in value):
            yield from ((name, _scalar(item)) for item in value if item is not None)
        else:
            for index, item in enumerate(value):
                yield from _flatten(f"{name}[{index}]", item)
    else:
        yield name, _scalar(value)


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def multipart_parts(fields: Mapping[str, Any], properties: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """httpx `files=` parts: text fields without a filename, binary fields (schema `format: binary`,
    or `contentEncoding: base64`, whose argument is base64 text) as file parts named after the field."""
    parts: list[tuple[str, Any]] = []
    for name, value in fields.items():
        schema = properties.get(name)
        schema = schema if isinstance(schema, Mapping) else {}
        if isinstance(value, str) and schema.get("contentEncoding") == "base64":
            try:
                data = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ConnectorError(f"argument '{name}' is not base64 text") from None
            parts.append((name, (name, data, "application/octet-stream")))
        elif isinstance(value, str) and schema.get("format") == "binary":
            parts.append((name, (name, value.encode(), "application/octet-stream")))
        else:
            parts += [(key, (None, text)) for key, text in _flatten(name, value, top=True)]
    if not parts:  # httpx sends an empty `files` as a urlencoded body; keep it multipart
        parts.append(("", (None, "")))
    return parts
