"""semantic cache: its entries, and its part in each ledger row

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("llm_usage") as batch:
        batch.add_column(sa.Column("cache", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("saved_tokens", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("saved_usd", sa.Float(), nullable=True))
    op.create_table(
        "semantic_cache",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("exact_key", sa.String(length=64), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_semantic_cache_lookup", "semantic_cache", ["scope", "exact_key", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_semantic_cache_lookup", table_name="semantic_cache")
    op.drop_table("semantic_cache")
    with op.batch_alter_table("llm_usage") as batch:
        batch.drop_column("saved_usd")
        batch.drop_column("saved_tokens")
        batch.drop_column("cache")
