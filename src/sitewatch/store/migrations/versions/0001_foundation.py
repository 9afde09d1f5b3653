"""Foundation: sites, zones, scenes, coverage, zone quality, chips, co-registrations, runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

from sitewatch.store.schema import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = [
    "sites",
    "zones",
    "scenes",
    "coverage",
    "zone_quality",
    "chips",
    "coregistrations",
    "runs",
]


def upgrade() -> None:
    bind = op.get_bind()
    metadata.create_all(bind, tables=[metadata.tables[t] for t in TABLES])


def downgrade() -> None:
    bind = op.get_bind()
    metadata.drop_all(bind, tables=[metadata.tables[t] for t in reversed(TABLES)])
