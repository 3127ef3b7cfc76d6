"""YAML that remembers where things are.

`load` returns the plain value together with the line and column of every mapping entry
and sequence item, so validation errors can point into the file. Documents are read as
YAML 1.2 (ruamel.yaml, with its C parser): `NO`, `on` and `yes` stay strings, as they do in
JSON, instead of YAML 1.1's booleans (`enum: [NO, SE, DK]` is three country codes). Duplicate
keys (which would silently keep the last one) are refused, and so are documents that expand,
through aliases, into more nodes than anyone writes by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import BaseConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from broker.errors import InvalidInput, Problem

Path = tuple[str | int, ...]

MAX_NODES = 200_000
"""Nodes a document may expand to, aliases counted at every use (a 'billion laughs' guard)."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based position in the source text."""

    line: int
    column: int


@dataclass(slots=True)
class Located:
    """A loaded value and the position of each path in it."""

    value: Any
    marks: dict[Path, Mark] = field(default_factory=dict)

    def mark(self, path: Path) -> Mark | None:
        """The position of the deepest node of `path` that exists in the source."""
        for end in range(len(path), -1, -1):
            found = self.marks.get(path[:end])
            if found is not None:
                return found
        return None


def load(text: str, *, source: str = "<input>") -> Located:
    """Parse one YAML 1.2 document; raise InvalidInput with located problems if it is not valid."""
    yaml = YAML(typ="safe")
    try:
        node = yaml.compose(text)
        if node is None:
            return Located(None)
        located = Located(None)
        problems: list[Problem] = []
        _Indexer(yaml.constructor, located.marks, problems).visit(node, ())
        if problems:
            raise InvalidInput(f"{source} repeats keys in a mapping", problems=problems)
        located.value = yaml.constructor.construct_document(node)
        return located
    except MarkedYAMLError as exc:
        raise _syntax_error(exc, source) from None
    except YAMLError as exc:
        raise InvalidInput(f"{source} is not valid YAML: {exc}") from None
    except RecursionError:
        raise InvalidInput(f"{source} is nested too deeply") from None


def _syntax_error(exc: MarkedYAMLError, source: str) -> InvalidInput:
    mark = exc.problem_mark or exc.context_mark
    what = ": ".join(part for part in (exc.context, exc.problem) if part) or "syntax error"
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    return InvalidInput(f"{source} is not valid YAML: {what}", problems=[Problem((), what, line, column)])


class _Indexer:
    """Walks the node graph once, recording marks and refusing duplicate keys."""

    def __init__(
        self, constructor: BaseConstructor, marks: dict[Path, Mark], problems: list[Problem]
    ) -> None:
        self._constructor = constructor
        self._marks = marks
        self._problems = problems
        self._count = 0

    def visit(self, node: Node, path: Path, mark_node: Node | None = None) -> None:
        self._count += 1
        if self._count > MAX_NODES:
            raise InvalidInput(f"the document expands to more than {MAX_NODES} nodes (through aliases?)")
        start = (mark_node or node).start_mark
        self._marks.setdefault(path, Mark(start.line + 1, start.column + 1))
        if isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self.visit(item, (*path, index))
        elif isinstance(node, MappingNode):
            self._visit_mapping(node, path)

    def _visit_mapping(self, node: MappingNode, path: Path) -> None:
        seen: dict[object, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue  # merged and complex keys are left to the constructor
            key = self._constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str | int) or isinstance(key, bool):
                key = str(key)
            line = key_node.start_mark.line + 1
            if key in seen:
                self._problems.append(
                    Problem(
                        (*path, key),
                        f"duplicate key '{key}' (first at line {seen[key]}); each key may appear once",
                        line,
                        key_node.start_mark.column + 1,
                    )
                )
                continue
            seen[key] = line
            self.visit(value_node, (*path, key), mark_node=key_node)


def step(value: Any, part: str | int) -> tuple[bool, Any]:
    """Follow one path element into a loaded value: (found, child)."""
    if isinstance(value, Mapping) and part in value:
        return True, value[part]
    if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
        return True, value[part]
    return False, None


def get(value: Any, path: Path) -> Any:
    """The value at `path`, or None when the path does not exist."""
    for part in path:
        found, value = step(value, part)
        if not found:
            return None
    return value
