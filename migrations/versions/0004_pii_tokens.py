"""pii masking: the token vault and masked-entity counts in audit records

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 04:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pii_tokens",
        sa.Column("agent", sa.String(length=36), nullable=False),
        sa.Column("token", sa.String(length=80), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agent", "token"),
    )
    op.create_index(op.f("ix_pii_tokens_expires_at"), "pii_tokens", ["expires_at"], unique=False)
    with op.batch_alter_table("audit_records") as batch:
        batch.add_column(sa.Column("masked", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.drop_column("masked")
    op.drop_index(op.f("ix_pii_tokens_expires_at"), table_name="pii_tokens")
    op.drop_table("pii_tokens")
