"""Table definitions (SQLAlchemy Core). Migrations in `migrations/` create exactly these.

Geometries are GeoJSON text in WGS84; times are ISO 8601 UTC text; lists and mappings are JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime stored as ISO 8601 text (sorts correctly in SQLite)."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; times must be timezone-aware UTC")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


metadata = MetaData()

sites = Table(
    "sites",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("name", Text, nullable=False),
    Column("geometry", Text, nullable=False),
    Column("gsd_m", Float, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("notes", Text, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("grid_crs", String(32), nullable=False),
    Column("grid_west", Float, nullable=False),
    Column("grid_north", Float, nullable=False),
    Column("grid_width", Integer, nullable=False),
    Column("grid_height", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

zones = Table(
    "zones",
    metadata,
    Column("site_id", String(63), ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    Column("id", String(63), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("name", Text, nullable=False),
    Column("geometry", Text, nullable=False),
    Column("classes", JSON, nullable=False),
    Column("attributes", JSON, nullable=False),
)

scenes = Table(
    "scenes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("path", Text, nullable=False),
    Column("crs_wkt", Text, nullable=False),
    Column("crs_label", Text, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("band_count", Integer, nullable=False),
    Column("dtype", String(16), nullable=False),
    Column("nodata", Float, nullable=True),
    Column("gsd_m", Float, nullable=False),
    Column("footprint", Text, nullable=False),
    Column("acquired_at", UtcDateTime, nullable=False),
    Column("sensor", Text, nullable=True),
    Column("off_nadir_deg", Float, nullable=True),
    Column("sun_elevation_deg", Float, nullable=True),
    Column("stac_item_id", Text, nullable=True),
    Column("overview_count", Integer, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("ingested_at", UtcDateTime, nullable=False),
)
Index("ix_scenes_acquired_at", scenes.c.acquired_at)

# zone_id '' is the row for the whole site.
coverage = Table(
    "coverage",
    metadata,
    Column("scene_id", String(32), ForeignKey("scenes.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", String(63), ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    Column("zone_id", String(63), primary_key=True),
    Column("covered_fraction", Float, nullable=False),
)
Index("ix_coverage_site", coverage.c.site_id)

zone_quality = Table(
    "zone_quality",
    metadata,
    Column("scene_id", String(32), ForeignKey("scenes.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", String(63), primary_key=True),
    Column("zone_id", String(63), primary_key=True),
    Column("covered_fraction", Float, nullable=False),
    Column("nodata_fraction", Float, nullable=False),
    Column("cloud_score", Float, nullable=True),
    Column("haze_score", Float, nullable=True),
    Column("usable", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    ForeignKeyConstraint(["site_id", "zone_id"], ["zones.site_id", "zones.id"], ondelete="CASCADE"),
)

chips = Table(
    "chips",
    metadata,
    Column("site_id", String(63), ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(96), primary_key=True),
    Column("acquired_on", String(10), nullable=False),
    Column("scene_ids", JSON, nullable=False),
    Column("tif_path", Text, nullable=False),
    Column("png_path", Text, nullable=False),
    Column("valid_fraction", Float, nullable=False),
    Column("shift_dx_px", Float, nullable=False),
    Column("shift_dy_px", Float, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

coregistrations = Table(
    "coregistrations",
    metadata,
    Column("site_id", String(63), ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    Column("target_key", String(96), primary_key=True),
    Column("reference_key", String(96), nullable=False),
    Column("dx_px", Float, nullable=False),
    Column("dy_px", Float, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("accepted", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("residual_dx_px", Float, nullable=True),
    Column("residual_dy_px", Float, nullable=True),
    Column("measured_at", UtcDateTime, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("params", JSON, nullable=False),
    Column("ok", JSON, nullable=False),
    Column("skipped", JSON, nullable=False),
    Column("failed", JSON, nullable=False),
)

detection_sets = Table(
    "detection_sets",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 of target, model and parameters
    Column("target_kind", String(8), nullable=False),  # scene | chip
    Column("scene_id", String(64), ForeignKey("scenes.id", ondelete="CASCADE"), nullable=True),
    Column("site_id", String(63), ForeignKey("sites.id", ondelete="CASCADE"), nullable=True),
    Column("chip_key", String(96), nullable=True),
    Column("model_id", Text, nullable=False),
    Column("model_sha256", String(64), nullable=False),
    Column("model_layout", String(16), nullable=False),
    Column("params", JSON, nullable=False),
    Column("crs_wkt", Text, nullable=True),
    Column("transform", JSON, nullable=True),
    Column("tiles_run", Integer, nullable=False),
    Column("tiles_skipped", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

detections = Table(
    "detections",
    metadata,
    Column(
        "set_id", String(64), ForeignKey("detection_sets.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("n", Integer, primary_key=True),
    Column("object_class", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("cx_px", Float, nullable=False),
    Column("cy_px", Float, nullable=False),
    Column("length_px", Float, nullable=False),
    Column("width_px", Float, nullable=False),
    Column("angle_deg", Float, nullable=False),
    Column("lon", Float, nullable=True),
    Column("lat", Float, nullable=True),
    Index("ix_detections_class", "set_id", "object_class"),
)
