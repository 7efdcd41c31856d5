"""classes: audio_retention_days, how long the students' kept masters stay on disk

Revision ID: i20b_audio_retention
Revises: i20_distance
Create Date: 2026-12-02 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i20b_audio_retention"
down_revision: str | None = "i20_distance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, no batch copy: SQLite would drop and re-create `classes`, and the
# drop cascades (ON DELETE CASCADE) into every membership and assignment.


def upgrade() -> None:
    op.add_column(
        "classes",
        sa.Column(
            "audio_retention_days", sa.Integer(), nullable=False, server_default=sa.text("90")
        ),
    )


def downgrade() -> None:
    op.execute("ALTER TABLE classes DROP COLUMN audio_retention_days")  # SQLite 3.35+
