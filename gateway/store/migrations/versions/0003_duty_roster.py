"""duty roster: the shifts grid officers and the site desks are on duty

Revision ID: 0003_duty_roster
Revises: 0002_short_link
Create Date: 2026-12-03 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_duty_roster"
down_revision: str | None = "0002_short_link"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "duty_shift",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("place", sa.String(length=64), nullable=False),
        sa.Column("person", sa.String(length=64), nullable=False),
        sa.Column("start_ts", sa.Float(), nullable=False),
        sa.Column("end_ts", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_ts", sa.Float(), nullable=False),
        sa.Column("handed_from", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("duty_shift", schema=None) as batch_op:
        batch_op.create_index("duty_shift_duty", ["site", "role", "place", "start_ts"], unique=False)
        batch_op.create_index("duty_shift_end", ["end_ts"], unique=False)
        batch_op.create_index("duty_shift_person", ["site", "person", "start_ts"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("duty_shift", schema=None) as batch_op:
        batch_op.drop_index("duty_shift_person")
        batch_op.drop_index("duty_shift_end")
        batch_op.drop_index("duty_shift_duty")

    op.drop_table("duty_shift")
