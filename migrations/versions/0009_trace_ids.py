"""trace ids: the OpenTelemetry trace of each audit record and ledger entry (when tracing is on)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("audit_records", "llm_usage"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("trace_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    for table in ("audit_records", "llm_usage"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("trace_id")
