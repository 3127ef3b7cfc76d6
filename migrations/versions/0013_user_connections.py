"""user connections: each end user's own OAuth grant at an upstream, and pending authorization requests

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 02:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_connections",
        sa.Column("connector", sa.String(63), primary_key=True),
        sa.Column("end_user", sa.String(255), primary_key=True),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "connect_states",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("connector", sa.String(63), nullable=False),
        sa.Column("end_user", sa.String(255), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_connect_states_expires_at", "connect_states", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_connect_states_expires_at", table_name="connect_states")
    op.drop_table("connect_states")
    op.drop_table("user_connections")
