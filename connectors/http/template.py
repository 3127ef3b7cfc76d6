"""JSON body templates: a fixed JSON value with `"{{name}}"` placeholders for tool arguments.

A string that is exactly `{{name}}` (spaces inside the braces allowed) stands for the JSON
value of argument `name`, whatever its type; every other value is sent as written. Arguments
are never spliced into strings, so a value cannot change the template's structure.

When an argument is absent, its placeholder's value is removed: the whole array element that
holds it (an optional filter disappears whole), or the object member when no array is in
between. A container left empty by such removals is removed in turn, up to the body itself:

    {"filterGroups": [{"filters": [{"propertyName": "dealstage", "operator": "EQ",
                                    "value": "{{stage}}"}]}], "limit": "{{limit}}"}

sends `{}` without `stage` and `limit`, and the one filter with `stage`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"^\{\{\s*([^{}\s]+)\s*\}\}$")


class _Absent:
    """Marks a value removed because its argument was not given."""


_ABSENT = _Absent()


def template_arguments(template: Any) -> list[str]:
    """The argument names the template's placeholders use, in order of first appearance.

    Raises ValueError for a string that mentions `{{` without being a whole placeholder.
    """
    names: list[str] = []
    for name in _walk(template):
        if name not in names:
            names.append(name)
    return names


def fill_template(template: Mapping[str, Any], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The template with every placeholder replaced by its argument, or removed as described above."""
    filled = _fill(template, arguments, in_array=False)
    return filled if isinstance(filled, dict) else {}


def _walk(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        match = _PLACEHOLDER.match(node)
        if match:
            yield match.group(1)
        elif "{{" in node:
            raise ValueError(f"{node!r}: a placeholder must be the whole string, e.g. '{{{{limit}}}}'")
    elif isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _fill(node: Any, arguments: Mapping[str, Any], *, in_array: bool) -> Any:
    if isinstance(node, str):
        match = _PLACEHOLDER.match(node)
        if match is None:
            return node
        return arguments.get(match.group(1), _ABSENT)
    if isinstance(node, list):
        items = [_fill(item, arguments, in_array=True) for item in node]
        kept = [item for item in items if item is not _ABSENT]
        return _ABSENT if node and not kept else kept
    if isinstance(node, dict):
        members = {key: _fill(value, arguments, in_array=in_array) for key, value in node.items()}
        kept_members = {key: value for key, value in members.items() if value is not _ABSENT}
        if len(kept_members) < len(members) and (in_array or not kept_members):
            return _ABSENT
        return kept_members
    return node
