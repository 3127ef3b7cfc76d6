"""Printing: aligned tables for people, JSON for scripts, errors on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from broker.errors import Problem
    from broker.yamlsource import Located


class Output:
    def __init__(self, *, as_json: bool, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.as_json = as_json
        self._stdout = stdout
        self._stderr = stderr

    @property
    def stdout(self) -> TextIO:
        return self._stdout or sys.stdout  # resolved late, so test capture works

    @property
    def stderr(self) -> TextIO:
        return self._stderr or sys.stderr

    def line(self, text: str = "") -> None:
        print(text, file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        print(text, file=self.stderr, flush=True)

    def json(self, value: Any) -> None:
        self.line(json.dumps(value, indent=2, ensure_ascii=False))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str = "(none)") -> None:
        if not rows:
            self.line(empty)
            return
        self.line(format_table(headers, rows))


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[cell_text(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def cell_text(value: Any, limit: int = 80) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        value = ", ".join(map(str, value))
    text = " ".join(str(value).split())  # one line
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_time(value: str | None) -> str:
    """'2026-11-21T02:32:50.366014Z' -> '2026-11-21 02:32:50'."""
    return value[:19].replace("T", " ") if value else "-"


def problem_lines(
    problems: Sequence[Problem], source: str | None, located: Located | None = None
) -> list[str]:
    """One line per problem: `FILE:LINE:COL: field: message` when it can be placed in a file."""
    lines = []
    for problem in problems:
        line, column = problem.line, problem.column
        if line is None and located is not None:
            mark = located.mark(problem.loc)
            line, column = (mark.line, mark.column) if mark else (None, None)
        if source is not None and line is not None:
            lines.append(f"{source}:{line}:{column}: {problem.where}: {problem.message}")
        elif source is not None:
            lines.append(f"{source}: {problem.where}: {problem.message}")
        else:
            lines.append(f"  {problem.where}: {problem.message}")
    return lines
