"""Argument checks compiled from ArgumentConstraint, with reasons that name value and limit."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from policies.arguments import ArgumentConstraint
from policies.model import Violation

_SHOWN_CHARS = 40


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if _is_number(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _show(value: object) -> str:
    """JSON-flavoured, bounded rendering: reasons land in logs and replies to agents."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "...")
    if _is_number(value):
        return repr(value)
    return f"({_kind(value)})"


def _enum_key(value: object) -> tuple[str, object]:
    """Key for enum membership: 1 == 1.0 as in JSON, but True never equals 1."""
    if isinstance(value, bool):
        return ("boolean", value)
    if _is_number(value):
        return ("number", value)
    if isinstance(value, str) or value is None:
        return ("scalar", value)
    return ("container", None)  # enum values are scalars: never a member


def _limits(**limits: object) -> str:
    return " and ".join(f"{name} {limit!r}" for name, limit in limits.items() if limit is not None)


@dataclass(frozen=True, slots=True)
class ArgumentCheck:
    """One constraint of one policy, for one argument of the tools matching `rule`."""

    policy: str
    rule: str
    argument: str
    constraint: ArgumentConstraint
    _enum: frozenset[tuple[str, object]] | None = field(init=False, repr=False)
    _regex: re.Pattern[str] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        enum = self.constraint.enum
        pattern = self.constraint.pattern
        object.__setattr__(self, "_enum", None if enum is None else frozenset(map(_enum_key, enum)))
        object.__setattr__(self, "_regex", None if pattern is None else re.compile(pattern))

    def check(self, value: object) -> Violation | None:
        """Return the first limit `value` breaks, or None."""
        c = self.constraint
        if self._enum is not None and _enum_key(value) not in self._enum:
            allowed = ", ".join(_show(v) for v in c.enum or ())
            return self._violation("enum", value, f"is not one of the allowed values {allowed}")
        if c.minimum is not None or c.maximum is not None:
            return self._check_number(value, c.minimum, c.maximum)
        if c.pattern is not None or c.max_length is not None:
            return self._check_string(value)
        return None

    def _check_number(self, value: object, minimum: float | None, maximum: float | None) -> Violation | None:
        if not isinstance(value, int | float) or isinstance(value, bool):  # spelled out for mypy
            required = _limits(minimum=minimum, maximum=maximum)
            return self._violation(
                "type", value, f"is {_kind(value)}, not a number as required by the {required}"
            )
        if not math.isfinite(value):
            required = _limits(minimum=minimum, maximum=maximum)
            return self._violation("type", value, f"is not a finite number as required by the {required}")
        if minimum is not None and value < minimum:
            return self._violation("minimum", value, f"is below the minimum {minimum!r}")
        if maximum is not None and value > maximum:
            return self._violation("maximum", value, f"is above the maximum {maximum!r}")
        return None

    def _check_string(self, value: object) -> Violation | None:
        c = self.constraint
        if not isinstance(value, str):
            required = _limits(pattern=c.pattern, max_length=c.max_length)
            return self._violation(
                "type", value, f"is {_kind(value)}, not a string as required by the {required}"
            )
        # Length first: an oversized string never reaches the regex engine.
        if c.max_length is not None and len(value) > c.max_length:
            return self._violation(
                "max_length", value, f"is {len(value)} characters long, above the max_length {c.max_length}"
            )
        if self._regex is not None and self._regex.fullmatch(value) is None:
            return self._violation("pattern", value, f"does not match the pattern {c.pattern!r}")
        return None

    def _violation(self, kind: str, value: object, problem: str) -> Violation:
        reason = (
            f"argument {self.argument!r} = {_show(value)} {problem}"
            f" set by policy {self.policy!r} for {self.rule!r}"
        )
        return Violation(argument=self.argument, kind=kind, policy=self.policy, rule=self.rule, reason=reason)
