"""the outbox, its fence and the notifier's keys in the store, for a district's partition owners

Revision ID: 0007_shared_outbox
Revises: 0010_signin_attempts
Create Date: 2026-12-04 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_shared_outbox"
down_revision: str | None = "0010_signin_attempts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_delivery",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("transition", sa.String(length=16), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("building", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=4), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("audience", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.Column("queued_at", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=True),
        sa.Column("delivered_at", sa.Float(), nullable=True),
        sa.Column("failed_at", sa.Float(), nullable=True),
        sa.Column("acked_at", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("merged_into", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("outbox_delivery_open", "outbox_delivery", ["partition", "state"])
    op.create_index("outbox_delivery_alarm", "outbox_delivery", ["alarm_id"])
    op.create_index("outbox_delivery_sent", "outbox_delivery", ["sent_at"])
    op.create_table(
        "outbox_fence",
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("partition"),
    )
    op.create_table(
        "notify_secret",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("notify_secret")
    op.drop_table("outbox_fence")
    op.drop_index("outbox_delivery_sent", table_name="outbox_delivery")
    op.drop_index("outbox_delivery_alarm", table_name="outbox_delivery")
    op.drop_index("outbox_delivery_open", table_name="outbox_delivery")
    op.drop_table("outbox_delivery")
