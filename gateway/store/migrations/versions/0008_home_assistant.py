"""a household's Home Assistant link: the resident's own broker, its password sealed

Revision ID: 0008_home_assistant
Revises: 0006_work_orders
Create Date: 2026-12-04 18:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_home_assistant"
down_revision: str | None = "0006_work_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_assistant_link",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("household", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("tls", sa.Boolean(), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("password_sealed", sa.Text(), nullable=False),
        sa.Column("discovery_prefix", sa.String(length=64), nullable=False),
        sa.Column("enrolled_by", sa.String(length=200), nullable=False),
        sa.Column("updated_ts", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("site", "household"),
    )


def downgrade() -> None:
    op.drop_table("home_assistant_link")
