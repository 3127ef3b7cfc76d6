"""usage origin: the connector and tool whose sampling request a ledger row answered

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("llm_usage") as batch:
        batch.add_column(sa.Column("connector", sa.String(64), nullable=True))
        batch.add_column(sa.Column("tool", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("llm_usage") as batch:
        batch.drop_column("tool")
        batch.drop_column("connector")
