"""identity: the end user beside the agent in audit records and the LLM ledger; the admin change log

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 00:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.add_column(sa.Column("end_user", sa.String(length=200), nullable=True))
        batch.create_index("ix_audit_end_user_ts", ["end_user", "ts"])
    with op.batch_alter_table("llm_usage") as batch:
        batch.add_column(sa.Column("end_user", sa.String(length=200), nullable=True))
        batch.create_index("ix_llm_usage_end_user_ts", ["end_user", "ts"])
    op.create_table(
        "admin_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("actor", sa.String(length=300), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("admin_changes")
    with op.batch_alter_table("llm_usage") as batch:
        batch.drop_index("ix_llm_usage_end_user_ts")
        batch.drop_column("end_user")
    with op.batch_alter_table("audit_records") as batch:
        batch.drop_index("ix_audit_end_user_ts")
        batch.drop_column("end_user")
