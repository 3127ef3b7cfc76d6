"""pii_tokens: keyed by a 64-bit hash of (agent, token) instead of the pair itself

The vault's flush of a big result (~23,000 new tokens) inserts at random places in the key's
index, and every index page it touches is written to the log at commit. Indexed by (agent,
token), a 36-character agent id and a ~25-character token an entry, that index has ~3,900
pages at 200,000 tokens, nearly all written by each such flush (and copied back by the
checkpoint every second flush); an 8-byte key's has ~940. The rows gain an integer id
(SQLite: the rowid, new rows appended) and the key, `broker.pii.sql_keys` (BLAKE2b): computed
here for every existing row, which keeps its agent, token, sealed value (sealed with its agent
and token, as before) and expiry, so every token issued before resolves after. The key's
function is frozen below as it is stored. Should two rows' keys ever be the same (~3 in 10^8
for a million rows), the one that lives longer stays.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 22:00:00.000000
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def _key(agent: str, token: str) -> int:
    """broker.pii.sql_keys.reference_keys, as stored."""
    digest = hashlib.blake2b(f"{agent}\x00{token}".encode(), digest_size=8, person=b"pii-token-key").digest()
    return int.from_bytes(digest, "little", signed=True)


def _old(name: str) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("agent", sa.String(length=36), primary_key=True),
        sa.Column("token", sa.String(length=80), primary_key=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def upgrade() -> None:
    keyed = op.create_table(
        "pii_tokens_keyed",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_key", sa.BigInteger(), nullable=False),
        sa.Column("agent", sa.String(length=36), nullable=False),
        sa.Column("token", sa.String(length=80), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pii_tokens_token_key", "pii_tokens_keyed", ["token_key"], unique=True)
    bind = op.get_bind()
    old = _old("pii_tokens")
    insert = (postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert)(keyed)
    copy = insert.on_conflict_do_update(
        index_elements=["token_key"],
        set_={name: insert.excluded[name] for name in ("agent", "token", "ciphertext", "expires_at")},
        where=insert.excluded.expires_at > keyed.c.expires_at,
    )
    after: tuple[str, str] | None = None
    while True:  # in (agent, token) order, a batch at a time: the old primary key's index
        query = sa.select(old).order_by(old.c.agent, old.c.token).limit(_BATCH)
        if after is not None:
            query = query.where(sa.tuple_(old.c.agent, old.c.token) > sa.tuple_(*after))
        rows = bind.execute(query).all()
        if not rows:
            break
        bind.execute(
            copy,
            sorted(
                (
                    {
                        "token_key": _key(row.agent, row.token),
                        "agent": row.agent,
                        "token": row.token,
                        "ciphertext": row.ciphertext,
                        "expires_at": row.expires_at,
                    }
                    for row in rows
                ),
                key=lambda row: row["token_key"],
            ),
        )
        after = (rows[-1].agent, rows[-1].token)
    op.drop_table("pii_tokens")
    op.rename_table("pii_tokens_keyed", "pii_tokens")


def downgrade() -> None:
    op.create_table(
        "pii_tokens_pairs",
        sa.Column("agent", sa.String(length=36), nullable=False),
        sa.Column("token", sa.String(length=80), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agent", "token"),
    )
    op.execute(
        "INSERT INTO pii_tokens_pairs (agent, token, ciphertext, expires_at) "
        "SELECT agent, token, ciphertext, expires_at FROM pii_tokens"
    )
    op.drop_index("ix_pii_tokens_token_key", table_name="pii_tokens")
    op.drop_table("pii_tokens")
    op.rename_table("pii_tokens_pairs", "pii_tokens")
