"""dispatch rules and teams per site; the team an order was dispatched to; photos on work orders

Revision ID: 0007_dispatch
Revises: 0007_shared_outbox
Create Date: 2026-12-04 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_dispatch"
down_revision: str | None = "0007_shared_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("work_order") as batch:
        batch.add_column(sa.Column("team", sa.String(length=200), nullable=False, server_default=""))
    op.create_table(
        "team",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("site", "id"),
    )
    op.create_table(
        "dispatch_rule",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("building", sa.String(length=64), nullable=False),
        sa.Column("grid", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("site", "position"),
    )
    op.create_table(
        "work_order_photo",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("work_order_photo_order", "work_order_photo", ["order_id", "ts"])


def downgrade() -> None:
    op.drop_index("work_order_photo_order", table_name="work_order_photo")
    op.drop_table("work_order_photo")
    op.drop_table("dispatch_rule")
    op.drop_table("team")
    with op.batch_alter_table("work_order") as batch:
        batch.drop_column("team")
