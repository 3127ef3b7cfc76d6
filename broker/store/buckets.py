"""Time buckets in SQL, so reports group by hour or day in the database, not in Python."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import ColumnElement, func

Bucket = Literal["hour", "day"]

_SQLITE = {"hour": "%Y-%m-%dT%H:00:00Z", "day": "%Y-%m-%dT00:00:00Z"}
_POSTGRES = {"hour": 'YYYY-MM-DD"T"HH24:00:00"Z"', "day": 'YYYY-MM-DD"T"00:00:00"Z"'}


def time_bucket(column: Any, unit: Bucket, dialect: str) -> ColumnElement[Any]:
    """The start of the UTC hour or day a timestamp falls in, as ISO 8601 text ('...Z')."""
    if dialect == "sqlite":  # stored naive, in UTC
        bucket: ColumnElement[Any] = func.strftime(_SQLITE[unit], column)
        return bucket
    return func.to_char(func.date_trunc(unit, func.timezone("UTC", column)), _POSTGRES[unit])
