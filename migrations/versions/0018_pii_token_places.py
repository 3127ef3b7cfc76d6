"""pii_token_places: SQLite's slots in the order they were written, found through keys in memory

Writing behind on SQLite, each flush inserted its tokens' slots under their keys, a hash: random
places in the table's B-tree, so a flush dirtied a page per key until it dirtied nearly all of
them, and its cost grew with the vault (bench/vault_stage.py --prefill: 23.5 ms of CPU per MB of
results over an empty vault, 30.4 over 400,000 tokens). The vault is SQLite's only writer and
now keeps each key's place id in memory (broker/pii/sql_keymap.py), so its slots go in a table of
their own keyed by a running id, the key a plain column: a flush appends. PostgreSQL's vault
(several instances, no map) keeps `pii_token_slots`; this table stays empty there.

On SQLite every slot moves here (their chunks as they are) and back on downgrade, where a key
held twice (it cannot be, one writer) keeps the place written last.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "token_key, chunk, at, expires_us"


def upgrade() -> None:
    op.create_table(
        "pii_token_places",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_key", sa.BigInteger(), nullable=False),
        sa.Column("chunk", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.Integer(), nullable=False),
        sa.Column("expires_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"INSERT INTO pii_token_places ({_COLUMNS}) "  # noqa: S608 (constants)
            f"SELECT {_COLUMNS} FROM pii_token_slots ORDER BY chunk, at"
        )
        op.execute("DELETE FROM pii_token_slots")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"INSERT OR REPLACE INTO pii_token_slots ({_COLUMNS}) "  # noqa: S608 (constants)
            f"SELECT {_COLUMNS} FROM pii_token_places ORDER BY id"
        )
    op.drop_table("pii_token_places")
