"""Revertable history and background syncs: manifests before and after each policy change, and
a cluster's sync state, step, progress and times.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as table:
        table.add_column(sa.Column("before_manifest", sa.Text))  # JSON, None: did not exist
        table.add_column(sa.Column("after_manifest", sa.Text))  # JSON, None: deleted
        table.add_column(sa.Column("reverted_by", sa.Integer))  # the entry that undid this one
    with op.batch_alter_table("clusters") as table:
        table.add_column(sa.Column("sync_state", sa.String(16), nullable=False,
                                   server_default="idle"))
        table.add_column(sa.Column("sync_step", sa.String(128)))
        table.add_column(sa.Column("sync_progress", sa.Float, nullable=False,
                                   server_default="0"))
        table.add_column(sa.Column("sync_started_at", _TS))
        table.add_column(sa.Column("sync_finished_at", _TS))


def downgrade() -> None:
    with op.batch_alter_table("clusters") as table:
        for column in ("sync_finished_at", "sync_started_at", "sync_progress", "sync_step",
                       "sync_state"):
            table.drop_column(column)
    with op.batch_alter_table("audit_log") as table:
        for column in ("reverted_by", "after_manifest", "before_manifest"):
            table.drop_column(column)
