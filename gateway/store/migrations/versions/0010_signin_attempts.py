"""sign-in attempts in the store, shared by every API replica and the gateway

Revision ID: 0010_signin_attempts
Revises: 0008_home_assistant
Create Date: 2026-12-04 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_signin_attempts"
down_revision: str | None = "0008_home_assistant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signin_attempt",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("signin_attempt", schema=None) as batch_op:
        batch_op.create_index("signin_attempt_key", ["kind", "key", "ts"], unique=False)
        batch_op.create_index("signin_attempt_ts", ["ts"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signin_attempt", schema=None) as batch_op:
        batch_op.drop_index("signin_attempt_ts")
        batch_op.drop_index("signin_attempt_key")
    op.drop_table("signin_attempt")
