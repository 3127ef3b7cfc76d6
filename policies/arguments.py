"""Argument constraints and the name patterns policies are written in (shared by every section)."""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from policies.patterns import pattern_problem, prompt_pattern_problem


def _check_tool_pattern(value: str) -> str:
    problem = pattern_problem(value)
    if problem is not None:
        # Via the context: the user's pattern may contain braces.
        raise PydanticCustomError("tool_pattern", "{problem}", {"problem": problem})
    return value


def _check_prompt_pattern(value: str) -> str:
    problem = prompt_pattern_problem(value)
    if problem is not None:
        raise PydanticCustomError("prompt_pattern", "{problem}", {"problem": problem})
    return value


def _check_name(value: str) -> str:
    if not value or value != value.strip():
        raise PydanticCustomError("name", "must be a non-empty name without surrounding whitespace")
    return value


def _check_number(value: object) -> object:
    # Strict: YAML `true` or "50" must not slip in where a number is meant.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PydanticCustomError("number", "must be a finite number (not a boolean or a string)")
    return value


def _check_scalar(value: object) -> object:
    if (
        value is None
        or isinstance(value, str | bool)
        or (isinstance(value, int | float) and math.isfinite(value))
    ):
        return value
    raise PydanticCustomError("scalar", "must be a string, a finite number, a boolean or null")


ToolPattern = Annotated[str, AfterValidator(_check_tool_pattern)]
PromptPattern = Annotated[str, AfterValidator(_check_prompt_pattern)]
Name = Annotated[str, AfterValidator(_check_name)]
Number = Annotated[int | float, BeforeValidator(_check_number)]
Scalar = Annotated[bool | int | float | str | None, BeforeValidator(_check_scalar)]


class ArgumentConstraint(BaseModel):
    """Limits on one argument of a tool call. Every limit that is set must hold.

    An argument absent from the call is not checked: the tool's own input schema decides
    which arguments are required. An explicit null is a value, and is checked.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enum: list[Scalar] | None = Field(
        default=None,
        min_length=1,
        description="Allowed values: the argument must equal one of them. Booleans never equal numbers.",
        examples=[["EU"], [10, 20, 50]],
    )
    minimum: Number | None = Field(
        default=None,
        description="Smallest allowed value, inclusive. The argument must then be a number (not a boolean).",
    )
    maximum: Number | None = Field(
        default=None,
        description="Largest allowed value, inclusive. The argument must then be a number (not a boolean).",
    )
    pattern: str | None = Field(
        default=None,
        description="Python regular expression the whole string must match (re.fullmatch). "
        "The argument must then be a string.",
        examples=["TCK-[0-9]{6}"],
    )
    max_length: Annotated[StrictInt, Field(ge=0)] | None = Field(
        default=None,
        description="Maximum length in characters. The argument must then be a string.",
    )

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise PydanticCustomError(
                    "regex",
                    "invalid regular expression '{pattern}': {error}",
                    {"pattern": value, "error": str(exc)},
                ) from exc
        return value

    @field_validator("maximum")
    @classmethod
    def _maximum_not_below_minimum(cls, value: float | None, info: ValidationInfo) -> float | None:
        minimum = info.data.get("minimum")
        if value is not None and minimum is not None and value < minimum:
            raise PydanticCustomError(
                "range",
                "maximum {maximum} is below minimum {minimum}",
                {"maximum": value, "minimum": minimum},
            )
        return value

    @model_validator(mode="after")
    def _meaningful(self) -> ArgumentConstraint:
        numeric = self.minimum is not None or self.maximum is not None
        textual = self.pattern is not None or self.max_length is not None
        if not numeric and not textual and self.enum is None:
            raise PydanticCustomError(
                "empty_constraint", "set at least one of enum, minimum, maximum, pattern, max_length"
            )
        if numeric and textual:
            raise PydanticCustomError(
                "mixed_constraint",
                "minimum/maximum need a number and pattern/max_length need a string:"
                " one argument cannot be both",
            )
        return self
