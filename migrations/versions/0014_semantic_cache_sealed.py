"""semantic cache answers are encrypted at rest: drop the entries stored in plaintext before

The column keeps its type (a Fernet token is text). Entries written before this revision hold
model answers in clear; they are cache entries, so deleting them loses nothing but hits.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 02:50:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM semantic_cache")


def downgrade() -> None:
    op.execute("DELETE FROM semantic_cache")  # encrypted entries mean nothing to the older code
