"""The SQL token vault's tables as tests read and write them by hand (the layout is
broker/pii/sql_rows.py's): a token's row is its slot and its piece in a chunk. Its slot is in
`pii_token_places` for the SQLite vault writing behind (broker/pii/sql_places.py), else in
`pii_token_slots`."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, insert, select

from broker.pii.sql_rows import micros, piece_at, reference_chunk_body
from broker.store.models import PiiTokenChunk, PiiTokenPlace, PiiTokenSlot


def stored(engine: Engine) -> list[tuple[str, str, bytes]]:
    """(agent, token, sealed value) of every slot, expired or not."""
    return [(agent, token, sealed) for agent, token, sealed, _ in slots(engine)]


def slots(engine: Engine) -> list[tuple[str, str, bytes, int]]:
    """(agent, token, sealed value, expiry in microseconds) of every slot and place, expired or
    not, in key order."""
    rows = []
    with engine.connect() as connection:
        for table in (PiiTokenSlot, PiiTokenPlace):
            rows += connection.execute(
                select(
                    table.token_key, PiiTokenChunk.agent, PiiTokenChunk.body, table.at, table.expires_us
                ).join(PiiTokenChunk, PiiTokenChunk.id == table.chunk)
            ).all()
    found = []
    for _, agent, body, at, expires in sorted(rows, key=lambda row: row[0]):
        piece = piece_at(bytes(body), at)
        assert piece is not None
        found.append((agent, piece[0], piece[1], expires))
    return found


def put_row(
    connection: Connection,
    key: int,
    agent: str,
    token: str,
    sealed: bytes,
    expires: float,
    *,
    placed: bool = False,
) -> int:
    """A chunk of `agent` holding `token` sealed as `sealed`, and a slot (or with `placed`, a
    place) under `key` pointing to it until `expires`; the chunk's id."""
    body, ats = reference_chunk_body([(agent, token, "", expires)], [sealed])
    chunk = connection.execute(
        insert(PiiTokenChunk).values(agent=agent, body=body).returning(PiiTokenChunk.id)
    ).scalar_one()
    table = PiiTokenPlace if placed else PiiTokenSlot
    connection.execute(
        insert(table).values(token_key=key, chunk=chunk, at=ats[0], expires_us=micros(expires))
    )
    return int(chunk)


def count(engine: Engine, table: type[PiiTokenChunk] | type[PiiTokenSlot] | type[PiiTokenPlace]) -> int:
    from sqlalchemy import func

    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())
