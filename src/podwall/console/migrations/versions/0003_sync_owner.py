"""Which console runs a cluster's sync, so a console starting up interrupts only its own.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clusters") as table:
        table.add_column(sa.Column("sync_owner", sa.String(255)))  # the console's identity


def downgrade() -> None:
    with op.batch_alter_table("clusters") as table:
        table.drop_column("sync_owner")
