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


def _site_fk() -> Column[Any]:
    return Column(
        "site_id", String(63), ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )


observations = Table(
    "observations",
    metadata,
    _site_fk(),
    Column("zone_id", String(63), primary_key=True),
    Column("observed_on", String(10), primary_key=True),
    Column("object_class", String(16), primary_key=True),
    Column("count", Integer, nullable=True),  # NULL: the zone was not usable that day
    Column("expected_count", Float, nullable=True),
    Column("area_observed_m2", Float, nullable=False),
    Column("usable", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("chip_key", String(96), nullable=False),
    Column("scene_ids", JSON, nullable=False),
)

object_changes = Table(
    "object_changes",
    metadata,
    _site_fk(),
    Column("zone_id", String(63), primary_key=True),
    Column("object_class", String(16), primary_key=True),
    Column("after_on", String(10), primary_key=True),
    Column("before_on", String(10), nullable=False),
    Column("appeared", JSON, nullable=False),
    Column("disappeared", JSON, nullable=False),
    Column("persisting", Integer, nullable=False),
    Column("tolerance_m", Float, nullable=False),
)

pixel_changes = Table(
    "pixel_changes",
    metadata,
    _site_fk(),
    Column("zone_id", String(63), primary_key=True),
    Column("before_key", String(96), primary_key=True),
    Column("after_key", String(96), primary_key=True),
    Column("before_on", String(10), nullable=False),
    Column("after_on", String(10), nullable=False),
    Column("changed_fraction", Float, nullable=False),
    Column("changed_area_m2", Float, nullable=False),
    Column("polygons", JSON, nullable=False),
    Column("params", JSON, nullable=False),
)

scores = Table(
    "scores",
    metadata,
    _site_fk(),
    Column("zone_id", String(63), primary_key=True),
    Column("object_class", String(16), primary_key=True),
    Column("observed_on", String(10), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("tail_p", Float, nullable=True),
    Column("anomaly", Float, nullable=True),
    Column("expected", Float, nullable=True),
    Column("band_low", Integer, nullable=True),
    Column("band_high", Integer, nullable=True),
    Column("n_history", Integer, nullable=False),
    Column("history_since", String(10), nullable=True),
    Column("reason", Text, nullable=False),
    Column("sentence", Text, nullable=False),
)

assessments = Table(
    "assessments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("site_id", String(63), ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("signature_id", String(63), nullable=False),
    Column("signature_name", Text, nullable=False),
    Column("as_of", String(10), nullable=False),
    Column("likelihood", String(24), nullable=False),
    Column("probability", Float, nullable=False),
    Column("confidence", String(12), nullable=False),
    Column("rationale", Text, nullable=False),
    Column("alternatives", JSON, nullable=False),
    Column("indicators", JSON, nullable=False),
    Column("rule_pack", Text, nullable=False),
    Column("scene_ids", JSON, nullable=False),
)
Index("ix_assessments_site", assessments.c.site_id, assessments.c.as_of)

# alerts are never deleted or re-derived once stored: their review state is the analyst's
alerts = Table(
    "alerts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("site_id", String(63), ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("signature_id", String(63), nullable=False),
    Column("assessment_id", String(32), nullable=False),
    Column("as_of", String(10), nullable=False),
    Column("level", String(24), nullable=False),
    Column("previous_level", String(24), nullable=True),
    Column("confidence", String(12), nullable=False),
    Column("title", Text, nullable=False),
    Column("rationale", Text, nullable=False),
    Column("rule_pack", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reviewer", Text, nullable=True),
    Column("note", Text, nullable=True),
    Column("reviewed_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

alert_reviews = Table(
    "alert_reviews",
    metadata,
    Column("alert_id", String(32), ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("reviewer", Text, nullable=False),
    Column("note", Text, nullable=True),
    Column("at", UtcDateTime, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", String(32), primary_key=True),  # hash of alert id and sink name
    Column("alert_id", String(32), ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("sink", Text, nullable=False),
    Column("status", String(12), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
)
Index("ix_outbox_status", outbox.c.status)

# what a site's stored analysis was computed from; equal fingerprint: nothing to do
site_state = Table(
    "site_state",
    metadata,
    Column("site_id", String(63), ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
