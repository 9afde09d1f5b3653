"""Analytics: observations, object and pixel change, scores, assessments, alerts, outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

from sitewatch.store.schema import metadata

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = [
    "observations",
    "object_changes",
    "pixel_changes",
    "scores",
    "assessments",
    "alerts",
    "alert_reviews",
    "outbox",
    "site_state",
]


def upgrade() -> None:
    bind = op.get_bind()
    metadata.create_all(bind, tables=[metadata.tables[t] for t in TABLES])


def downgrade() -> None:
    bind = op.get_bind()
    metadata.drop_all(bind, tables=[metadata.tables[t] for t in reversed(TABLES)])
