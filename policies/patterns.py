"""Tool-name patterns: what a valid pattern looks like, and how one matches a tool name.

A pattern is an exact tool name (``weather.current``), an fnmatch glob over tool names
(``crm.*``, ``crm.delete_*``, ``sql.[!x]*``), or ``*`` for every tool. Matching is
case-sensitive on every platform (``fnmatch.translate`` + ``re``, never ``fnmatch.fnmatch``,
which folds case on Windows). ``*`` also matches dots: ``crm.*`` matches ``crm.a.b``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

MAX_PATTERN_LENGTH = 256

# One character of a tool name, or one glob: `*`, `?`, or a class like `[a-c]` / `[!x]`.
_ATOM = r"(?:[A-Za-z0-9_-]|\*|\?|\[!?[A-Za-z0-9_.-]+\])"
_PATTERN = re.compile(rf"\*|{_ATOM}+(?:\.{_ATOM}+)+")
_BARE_PATTERN = re.compile(rf"{_ATOM}+(?:\.{_ATOM}+)*")
"""A prompt pattern may also be a bare name: an mcp connector with `prefix: false` keeps the
upstream's own prompt names."""
_GLOB_CHARS = frozenset("*?[")

Matcher = Callable[[str], object]
"""Called with a tool name; the result is truthy when the pattern matches it."""


def pattern_problem(pattern: str) -> str | None:
    """Say what is wrong with `pattern`, or return None when it is a valid tool pattern."""
    if not pattern:
        return "a tool pattern must not be empty"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"a tool pattern must be at most {MAX_PATTERN_LENGTH} characters long"
    if _PATTERN.fullmatch(pattern) is None:
        return (
            f"{pattern!r} is not a tool pattern: expected '<connector>.<tool>' made of letters, digits,"
            " '_', '-' and the globs '*', '?', '[...]' (e.g. 'crm.*', 'weather.current'), or '*' alone"
        )
    return None


def free_text_pattern_problem(pattern: str, what: str, max_length: int) -> str | None:
    """What is wrong with a `what` pattern ('model', 'resource') that may hold any printable
    characters but spaces, or None: not empty, at most `max_length` characters."""
    if not pattern:
        return f"a {what} pattern must not be empty"
    if len(pattern) > max_length:
        return f"a {what} pattern must be at most {max_length} characters long"
    if any(ch.isspace() or not ch.isprintable() for ch in pattern):
        return f"{pattern!r} is not a {what} pattern: it must not contain spaces or control characters"
    return None


def checked_by(code: str, problem_of: Callable[[str], str | None]) -> AfterValidator:
    """A pydantic validator refusing a string `problem_of` finds a problem with (error type `code`)."""

    def check(value: str) -> str:
        problem = problem_of(value)
        if problem is not None:
            raise PydanticCustomError(code, "{problem}", {"problem": problem})
        return value

    return AfterValidator(check)


def prompt_pattern_problem(pattern: str) -> str | None:
    """Say what is wrong with a prompt pattern: a tool pattern, or a bare upstream prompt name."""
    if pattern and len(pattern) <= MAX_PATTERN_LENGTH and _BARE_PATTERN.fullmatch(pattern):
        return None
    problem = pattern_problem(pattern)
    if problem is None:
        return None
    return problem.replace("is not a tool pattern", "is not a prompt pattern").replace(
        "or '*' alone", "a bare upstream prompt name (mcp connectors with `prefix: false`), or '*' alone"
    )


def is_glob(pattern: str) -> bool:
    return not _GLOB_CHARS.isdisjoint(pattern)


def compile_pattern(pattern: str) -> Matcher:
    """Compile once; exact names compare as strings, globs as an anchored regex."""
    if not is_glob(pattern):
        return pattern.__eq__
    return re.compile(fnmatch.translate(pattern)).match


def connector_of(pattern: str) -> str | None:
    """The connector a pattern is limited to, or None when it can match several connectors."""
    connector, _, _ = pattern.partition(".")
    return None if is_glob(connector) or connector == pattern else connector
