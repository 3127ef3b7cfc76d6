"""HubSpot's CRM search (`POST /crm/v3/objects/{type}/search`) over the demo CRM's records.

Request: `{query, filterGroups: [{filters: [{propertyName, operator, value | values}]}],
sorts: [{propertyName, direction}], properties, limit, after}`. Filter groups are ORed, the
filters in a group ANDed. Operators: EQ, NEQ, LT, LTE, GT, GTE (numbers compare as numbers,
timestamps as ISO text or epoch milliseconds), CONTAINS_TOKEN / NOT_CONTAINS_TOKEN (words, `*`
wildcards), IN / NOT_IN, HAS_PROPERTY / NOT_HAS_PROPERTY. `query` must match every word in
the object type's default text properties. Without `properties` every property is returned
(HubSpot returns a default few); with it, those plus the id and timestamp properties.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from broker.demo.upstreams.crm_models import CrmObject, NextPage, Paging

T = TypeVar("T")

Operator = Literal[
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
]
Scalar = str | int | float | bool
_NUMERIC_ID = r"^\d{1,12}$"
_NO_VALUE = frozenset({"HAS_PROPERTY", "NOT_HAS_PROPERTY"})
_LIST_VALUE = frozenset({"IN", "NOT_IN"})


class Filter(BaseModel):
    """One condition on one property."""

    model_config = ConfigDict(extra="forbid")

    propertyName: str = Field(min_length=1, max_length=100)
    operator: Operator
    value: Scalar | None = None
    values: list[Scalar] | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _check_value(self) -> Filter:
        if self.operator in _LIST_VALUE and not self.values:
            raise ValueError(f"{self.operator} needs `values`")
        if self.operator not in _LIST_VALUE | _NO_VALUE and self.value is None:
            raise ValueError(f"{self.operator} needs a `value`")
        return self


class FilterGroup(BaseModel):
    """Filters that must all hold."""

    model_config = ConfigDict(extra="forbid")

    filters: list[Filter] = Field(min_length=1, max_length=6)


class Sort(BaseModel):
    """The order of the results (HubSpot takes one sort)."""

    model_config = ConfigDict(extra="forbid")

    propertyName: str = Field(min_length=1, max_length=100)
    direction: Literal["ASCENDING", "DESCENDING"] = "ASCENDING"


class SearchRequest(BaseModel):
    """A HubSpot CRM search."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        default="",
        max_length=200,
        description="Case-insensitive text matched against the default text properties; empty matches all",
    )
    filterGroups: list[FilterGroup] = Field(
        default=[], max_length=5, description="Groups of filters; an object matches when any group does"
    )
    sorts: list[Sort] = Field(default=[], max_length=1)
    properties: list[str] = Field(default=[], max_length=100, description="Properties to return")
    limit: int = Field(default=10, ge=1, le=200)
    after: str | None = Field(default=None, pattern=_NUMERIC_ID, description="Cursor from paging.next")


class SimplePublicObject(BaseModel):
    """A CRM object as search answers it: properties as strings (null when empty)."""

    id: str
    properties: dict[str, str | None]
    createdAt: str
    updatedAt: str
    archived: bool = False


class SearchResult(BaseModel):
    """One page of matches."""

    total: int = Field(description="Number of matches across all pages")
    results: list[SimplePublicObject]
    paging: Paging | None = None


def page(items: Sequence[T], limit: int, after: str | None) -> tuple[list[T], Paging | None]:
    """One page of `items` and, when more follow, the paging cursor to the next one."""
    start = int(after) if after else 0
    end = start + limit
    paging = Paging(next=NextPage(after=str(end))) if end < len(items) else None
    return list(items[start:end]), paging


def fold(text: str) -> str:
    """Case- and accent-insensitive form: 'MÜLLER' and 'muller' fold alike."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def project(obj: CrmObject, names: Sequence[str], always: Sequence[str]) -> SimplePublicObject:
    """The object with only the named properties (all when none are named) plus `always`."""
    properties: dict[str, Any] = obj.model_dump()["properties"]
    if names:
        wanted = [*names, *(name for name in always if name not in names)]
        properties = {name: properties[name] for name in wanted if name in properties}
    return SimplePublicObject(
        id=obj.id,
        properties={k: None if v in ("", None) else str(v) for k, v in properties.items()},
        createdAt=obj.createdAt,
        updatedAt=obj.updatedAt,
        archived=obj.archived,
    )


def search(
    objects: Sequence[CrmObject],
    request: SearchRequest,
    text_properties: Sequence[str],
    always: Sequence[str],
) -> SearchResult:
    """Evaluate a search request over `objects` (in id order)."""
    found = []
    words = fold(request.query).split()
    for obj in objects:
        properties: dict[str, Any] = obj.model_dump()["properties"]
        haystack = fold(" ".join(str(properties.get(name, "")) for name in text_properties))
        if not all(word in haystack for word in words):
            continue
        if request.filterGroups and not any(
            all(_holds(f, properties.get(f.propertyName)) for f in group.filters)
            for group in request.filterGroups
        ):
            continue
        found.append(obj)
    for sort in request.sorts:
        found = _sorted(found, sort)
    results, paging = page(found, request.limit, request.after)
    hits = [project(obj, request.properties, always) for obj in results]
    return SearchResult(total=len(found), results=hits, paging=paging)


def _number(value: Any) -> float | None:
    """A number from a number, a numeric string, or an ISO timestamp (as epoch milliseconds)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return None


def _compare(actual: Any, expected: Scalar) -> int:
    """-1, 0 or 1: numerically when both are numbers (or dates), else as folded text."""
    a, b = _number(actual), _number(expected)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    x, y = fold(str(actual)), fold(str(expected).lower() if isinstance(expected, bool) else str(expected))
    return (x > y) - (x < y)


def _holds(condition: Filter, actual: Any) -> bool:
    op = condition.operator
    present = actual not in (None, "")
    if op in _NO_VALUE:
        return present == (op == "HAS_PROPERTY")
    if op in _LIST_VALUE:
        inside = present and any(_compare(actual, v) == 0 for v in condition.values or [])
        return inside == (op == "IN")
    assert condition.value is not None
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        return _has_token(actual if present else "", condition.value) == (op == "CONTAINS_TOKEN")
    if op == "NEQ":
        return not present or _compare(actual, condition.value) != 0
    if not present:
        return False
    order = _compare(actual, condition.value)
    return {"EQ": order == 0, "LT": order < 0, "LTE": order <= 0, "GT": order > 0, "GTE": order >= 0}[op]


def _has_token(actual: Any, pattern: Scalar) -> bool:
    text, wanted = fold(str(actual)), fold(str(pattern))
    tokens = "".join(c if c.isalnum() else " " for c in text).split()
    if "*" in wanted:
        return fnmatchcase(text, wanted) or any(fnmatchcase(token, wanted) for token in tokens)
    return wanted == text or wanted in tokens


def _sorted(objects: list[CrmObject], sort: Sort) -> list[CrmObject]:
    values = [obj.model_dump()["properties"].get(sort.propertyName) for obj in objects]
    numeric = all(_number(v) is not None for v in values if v not in (None, ""))
    present = [(v, obj) for v, obj in zip(values, objects, strict=True) if v not in (None, "")]
    missing = [obj for v, obj in zip(values, objects, strict=True) if v in (None, "")]
    descending = sort.direction == "DESCENDING"
    if numeric:
        present.sort(key=lambda pair: _number(pair[0]) or 0.0, reverse=descending)
    else:
        present.sort(key=lambda pair: fold(str(pair[0])), reverse=descending)
    return [obj for _, obj in present] + missing
