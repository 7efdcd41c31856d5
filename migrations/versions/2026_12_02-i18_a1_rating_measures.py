"""rating measures: loudness, dynamics and stereo of both masters, and the loudness difference

Revision ID: i18_a1_rating_measures
Revises: 7c2e3a9f4d03
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i18_a1_rating_measures"
down_revision: str | None = "7c2e3a9f4d03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ratings") as batch:
        batch.add_column(sa.Column("measures", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("loudness_difference_lu", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ratings") as batch:
        batch.drop_column("loudness_difference_lu")
        batch.drop_column("measures")
