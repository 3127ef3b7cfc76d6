"""Values bound through the gateway's SQLite engine are stored as they were before the driver was
given adapters for None and bytes (broker/store/db.py `bind_none_and_bytes_as_they_are`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from broker.store.db import make_engine

TYPES = ", ".join(f"typeof({column})" for column in "abcdef")


class Text(str):
    """A str subclass: still adapted by the driver's own rules (bound as text)."""


def test_none_is_null_bytes_a_blob_and_other_values_unchanged(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'binding.db'}")
    rows = [
        (None, b"\x00key\xff", "text", 7, 1.5, bytearray(b"ba")),
        (None, b"", Text("sub"), 2**62, -0.0, bytearray()),
    ]
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (a, b, c, d, e, f)")
        connection.exec_driver_sql("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", rows)
        stored = connection.execute(text(f"SELECT {TYPES}, a, b, c, d, e, f FROM t")).all()
    engine.dispose()
    assert [tuple(row[:6]) for row in stored] == [("null", "blob", "text", "integer", "real", "blob")] * 2
    assert [tuple(row[6:]) for row in stored] == [
        (None, b"\x00key\xff", "text", 7, 1.5, b"ba"),
        (None, b"", "sub", 2**62, -0.0, b""),
    ]


def test_a_plain_sqlite3_connection_in_the_same_process_binds_alike(tmp_path: Path) -> None:
    make_engine(f"sqlite:///{tmp_path / 'other.db'}").dispose()  # the adapters are the module's
    with sqlite3.connect(":memory:") as connection:
        connection.execute("CREATE TABLE t (a, b)")
        connection.execute("INSERT INTO t VALUES (?, ?)", (None, b"k"))
        assert connection.execute("SELECT typeof(a), typeof(b), a, b FROM t").fetchone() == (
            "null",
            "blob",
            None,
            b"k",
        )
