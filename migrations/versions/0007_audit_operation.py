"""audit: the MCP operation of each record (tools/call, resources/read, prompts/get, completion/complete)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 23:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.add_column(
            sa.Column("operation", sa.String(length=32), nullable=False, server_default="tools/call")
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.drop_column("operation")
