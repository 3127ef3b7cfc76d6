"""Engine and session factory. Admin operations are rare and run in a worker thread, so the
store is plain synchronous SQLAlchemy on SQLite or PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

BIG_JSON = 64 * 1024
"""Past this many characters a JSON column is parsed with a Python hook per object, so that a
worker thread reading a big stored config hands the GIL back to the event loop as it goes."""


class JsonText(str):
    """A JSON column value already serialised (a connector prepared in a worker process,
    broker.offload): stored as it is, never parsed and dumped again in this process."""


def dump_json(value: Any) -> str:
    return value if isinstance(value, JsonText) else json.dumps(value)


def load_json(text: str | bytes) -> Any:
    if len(text) < BIG_JSON:
        return json.loads(text)
    return json.loads(text, object_pairs_hook=_pairs)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(pairs)


WAL_CHECKPOINT_PAGES = 10_000
"""SQLite copies the write-ahead log back into the database once it holds this many pages (40 MB;
SQLite's default is 1,000). The PII token vault's flush of a big result rewrites most pages of
its key index (~5,000 for 200,000 tokens): checkpointed after every flush, each was copied back
every time; every second flush or so, once for both (bench/vault_stage.py: flush 10-15% less
CPU). The cost: a log file of up to ~60 MB on disk, reused rather than shrunk."""


def make_engine(url: str) -> Engine:
    json_io: dict[str, Any] = {"json_serializer": dump_json, "json_deserializer": load_json}
    if url.startswith("sqlite"):
        bind_none_and_bytes_as_they_are()
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **json_io)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **json_io)


def bind_none_and_bytes_as_they_are() -> None:
    """Give Python 3.11's sqlite3 an adapter for None and bytes that returns the value unchanged.

    Its driver binds exact str, int, float and bytearray directly; any other value (None and bytes
    too) first goes through `microprotocols_adapt`, which finds no adapter, looks `__adapt__` up on
    the protocol class and builds, then drops, an AttributeError with its formatted message:
    ~0.6 us a value. An audit record binds ~8 None, a vault slot its key as bytes. With an adapter
    registered the lookup finds it at once: an audit row of 19 values, 8 of them None, 11.1 -> 6.1
    us in the writer thread. The values bound are the same (None is NULL, bytes a BLOB); the
    registry is the sqlite3 module's, for every connection of the process, and registering again
    replaces the same entry. bytes and None are not among the types whose adapters would turn the
    driver's direct binding off (str, int, float, bytearray)."""
    sqlite3.register_adapter(type(None), _as_it_is)
    sqlite3.register_adapter(bytes, _as_it_is)


_Bound = TypeVar("_Bound", None, bytes)


def _as_it_is(value: _Bound) -> _Bound:
    return value


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
