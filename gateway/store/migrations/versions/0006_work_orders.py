"""work orders and their append-only events

Revision ID: 0006_work_orders
Revises: 0005_site_phone
Create Date: 2026-12-04 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_work_orders"
down_revision: str | None = "0005_site_phone"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "work_order",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("building", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("household", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=4), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requester", sa.String(length=200), nullable=False),
        sa.Column("requester_account", sa.String(length=200), nullable=False),
        sa.Column("assignee", sa.String(length=200), nullable=False),
        sa.Column("alarm_ids", sa.JSON(), nullable=False),
        sa.Column("cause", sa.String(length=200), nullable=False),
        sa.Column("created_ts", sa.Float(), nullable=False),
        sa.Column("updated_ts", sa.Float(), nullable=False),
        sa.Column("claim_due_ts", sa.Float(), nullable=False),
        sa.Column("resolve_due_ts", sa.Float(), nullable=False),
        sa.Column("claimed_ts", sa.Float(), nullable=True),
        sa.Column("resolved_ts", sa.Float(), nullable=True),
        sa.Column("held_since", sa.Float(), nullable=True),
        sa.Column("held_s", sa.Float(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("work_order_state", "work_order", ["site", "state"])
    op.create_index("work_order_household", "work_order", ["site", "household"])
    op.create_index("work_order_building", "work_order", ["site", "building"])
    op.create_index("work_order_cause", "work_order", ["site", "cause"])
    op.create_table(
        "work_order_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("work_order_event_order", "work_order_event", ["order_id", "id"])


def downgrade() -> None:
    op.drop_index("work_order_event_order", table_name="work_order_event")
    op.drop_table("work_order_event")
    for name in ("work_order_cause", "work_order_building", "work_order_household", "work_order_state"):
        op.drop_index(name, table_name="work_order")
    op.drop_table("work_order")
