"""short links for SMS acknowledgement links

Revision ID: 0002_short_link
Revises: 0001
Create Date: 2026-12-03 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_short_link"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "short_link",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
        sa.UniqueConstraint("ref", name="short_link_ref"),
    )
    with op.batch_alter_table("short_link", schema=None) as batch_op:
        batch_op.create_index("short_link_expires", ["expires"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("short_link", schema=None) as batch_op:
        batch_op.drop_index("short_link_expires")
    op.drop_table("short_link")
