"""The SQL token vault's tables as tests read and write them by hand (the layout is
broker/pii/sql_rows.py's): a token's row is its slot and its piece in a chunk."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, insert, select

from broker.pii.sql_rows import micros, piece_at, reference_chunk_body
from broker.store.models import PiiTokenChunk, PiiTokenSlot


def stored(engine: Engine) -> list[tuple[str, str, bytes]]:
    """(agent, token, sealed value) of every slot, expired or not."""
    return [(agent, token, sealed) for agent, token, sealed, _ in slots(engine)]


def slots(engine: Engine) -> list[tuple[str, str, bytes, int]]:
    """(agent, token, sealed value, expiry in microseconds) of every slot, in key order."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(PiiTokenChunk.agent, PiiTokenChunk.body, PiiTokenSlot.at, PiiTokenSlot.expires_us)
            .join(PiiTokenChunk, PiiTokenChunk.id == PiiTokenSlot.chunk)
            .order_by(PiiTokenSlot.token_key)
        ).all()
    found = []
    for agent, body, at, expires in rows:
        piece = piece_at(bytes(body), at)
        assert piece is not None
        found.append((agent, piece[0], piece[1], expires))
    return found


def put_row(connection: Connection, key: int, agent: str, token: str, sealed: bytes, expires: float) -> int:
    """A chunk of `agent` holding `token` sealed as `sealed`, and a slot under `key` pointing
    to it until `expires`; the chunk's id."""
    body, ats = reference_chunk_body([(agent, token, "", expires)], [sealed])
    chunk = connection.execute(
        insert(PiiTokenChunk).values(agent=agent, body=body).returning(PiiTokenChunk.id)
    ).scalar_one()
    connection.execute(
        insert(PiiTokenSlot).values(token_key=key, chunk=chunk, at=ats[0], expires_us=micros(expires))
    )
    return int(chunk)


def count(engine: Engine, table: type[PiiTokenChunk] | type[PiiTokenSlot]) -> int:
    from sqlalchemy import func

    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())
