"""pii_tokens -> pii_token_chunks + pii_token_slots: a write's sealed values in one row

The vault's flush of a big result (~23,000 new tokens) wrote a ~150-byte row per token (agent,
token, sealed value, expiry as text) and an entry in the key's index: ~12 of its ~23 ms of CPU
per MB of result were SQLite's. Now one write's tokens of an agent (up to 250) go in one chunk
row, a piece per token (its token and its value sealed as before, on its own, bound to its agent
and token), and each token gets a narrow slot keyed by its key (SQLite: the rowid, no separate
index): chunk, the piece's offset, expiry in microseconds. See broker/pii/sql_rows.py.

Every row is copied, keyless: its sealed value (AES-GCM, or Fernet from before) goes into a piece
as it is, so every token issued before resolves after; and back on downgrade, every slot's piece
to a row again (its expiry to the microsecond, as stored). The piece layout is frozen below.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 03:00:00.000000
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 250  # broker.pii.sql_rows.CHUNK
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def _rows_table(name: str) -> sa.Table:
    """pii_tokens as of 0016."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("token_key", sa.BigInteger(), nullable=False),
        sa.Column("agent", sa.String(length=36), nullable=False),
        sa.Column("token", sa.String(length=80), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def _piece(token: str, sealed: bytes) -> bytes:
    name = token.encode()
    return len(name).to_bytes(2, "little") + name + len(sealed).to_bytes(4, "little") + sealed


def _unpiece(body: bytes, at: int) -> tuple[str, bytes]:
    size = int.from_bytes(body[at : at + 2], "little")
    end = at + 2 + size
    length = int.from_bytes(body[end : end + 4], "little")
    return body[at + 2 : end].decode(), body[end + 4 : end + 4 + length]


def _micros(at: datetime) -> int:
    return ((at if at.tzinfo is not None else at.replace(tzinfo=UTC)) - _EPOCH) // _MICRO


def upgrade() -> None:
    chunks = op.create_table(
        "pii_token_chunks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agent", sa.String(length=36), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    slots = op.create_table(
        "pii_token_slots",
        sa.Column(
            "token_key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("chunk", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.Integer(), nullable=False),
        sa.Column("expires_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_key"),
    )
    bind = op.get_bind()
    old = _rows_table("pii_tokens")
    for batch in _batches(bind, old):
        batch.sort(key=lambda row: (row.agent, row.token_key))
        for agent, grouped in groupby(batch, lambda row: row.agent):
            rows = list(grouped)
            for first in range(0, len(rows), _CHUNK):
                chunk = rows[first : first + _CHUNK]
                pieces = [_piece(row.token, row.ciphertext) for row in chunk]
                chunk_id = bind.execute(
                    sa.insert(chunks).values(agent=agent, body=b"".join(pieces)).returning(chunks.c.id)
                ).scalar_one()
                at, values = 0, []
                for row, piece in zip(chunk, pieces, strict=True):
                    expires = _micros(row.expires_at)
                    values.append(
                        {"token_key": row.token_key, "chunk": chunk_id, "at": at, "expires_us": expires}
                    )
                    at += len(piece)
                bind.execute(sa.insert(slots), values)
    op.drop_index("ix_pii_tokens_token_key", table_name="pii_tokens")
    op.drop_table("pii_tokens")


def _batches(bind: sa.Connection, old: sa.Table) -> Iterator[list[sa.Row[Any]]]:
    after = None
    while True:
        query = sa.select(old).order_by(old.c.id).limit(5 * _CHUNK)
        if after is not None:
            query = query.where(old.c.id > after)
        rows = bind.execute(query).all()
        if not rows:
            return
        yield list(rows)
        after = rows[-1].id


def downgrade() -> None:
    rows = op.create_table(
        "pii_tokens",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_key", sa.BigInteger(), nullable=False),
        sa.Column("agent", sa.String(length=36), nullable=False),
        sa.Column("token", sa.String(length=80), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pii_tokens_token_key", "pii_tokens", ["token_key"], unique=True)
    bind = op.get_bind()
    chunks = sa.table("pii_token_chunks", sa.column("id"), sa.column("agent"), sa.column("body"))
    slots = sa.table(
        "pii_token_slots",
        sa.column("token_key"),
        sa.column("chunk"),
        sa.column("at"),
        sa.column("expires_us"),
    )
    op.create_index("ix_pii_token_slots_chunk", "pii_token_slots", ["chunk"])  # for the copy only
    after = None
    while True:  # a few chunks at a time, in the order they were written
        query = sa.select(chunks.c.id, chunks.c.agent, chunks.c.body).order_by(chunks.c.id).limit(20)
        if after is not None:
            query = query.where(chunks.c.id > after)
        batch = bind.execute(query).all()
        if not batch:
            break
        after = batch[-1].id
        bodies = {chunk.id: (chunk.agent, bytes(chunk.body)) for chunk in batch}
        values = []
        for key, chunk_id, at, expires in bind.execute(
            sa.select(slots.c.token_key, slots.c.chunk, slots.c.at, slots.c.expires_us)
            .where(slots.c.chunk.in_(list(bodies)))
            .order_by(slots.c.chunk, slots.c.at)
        ):
            agent, body = bodies[chunk_id]
            token, sealed = _unpiece(body, at)
            values.append(
                {
                    "token_key": key,
                    "agent": agent,
                    "token": token,
                    "ciphertext": sealed,
                    "expires_at": _EPOCH + expires * _MICRO,
                }
            )
        if values:
            bind.execute(sa.insert(rows), values)
    op.drop_table("pii_token_slots")
    op.drop_table("pii_token_chunks")
