"""ratings: distance_db beside the count, details (spectra, alignment) for the rating's page

Revision ID: i20_distance
Revises: i18_a1_rating_measures
Create Date: 2026-12-02 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i20_distance"
down_revision: str | None = "i18_a1_rating_measures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ratings") as batch:
        batch.add_column(sa.Column("distance_db", sa.Float(), nullable=True))
        batch.add_column(sa.Column("details", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ratings") as batch:
        batch.drop_column("details")
        batch.drop_column("distance_db")
