"""ratings: stored ratings (history)

Revision ID: 7c2e3a9f4d03
Revises: 6b1d2f8e3c02
Create Date: 2026-11-26 14:17:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c2e3a9f4d03"
down_revision: str | None = "6b1d2f8e3c02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("operations", sa.JSON(), nullable=False),
        sa.Column("suggestions", sa.JSON(), nullable=False),
        sa.Column("reference_filename", sa.String(length=255), nullable=True),
        sa.Column("reference_sha256", sa.String(length=64), nullable=False),
        sa.Column("reference_duration_s", sa.Float(), nullable=False),
        sa.Column("candidate_filename", sa.String(length=255), nullable=True),
        sa.Column("candidate_sha256", sa.String(length=64), nullable=False),
        sa.Column("candidate_duration_s", sa.Float(), nullable=False),
        sa.Column("candidate_audio_path", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_ratings_assignment_id_assignments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ratings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
    )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ratings_assignment_id"), ["assignment_id"], unique=False
        )
        batch_op.create_index(
            "ix_ratings_user_id_created_at", ["user_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index("ix_ratings_user_id_created_at")
        batch_op.drop_index(batch_op.f("ix_ratings_assignment_id"))
    op.drop_table("ratings")
