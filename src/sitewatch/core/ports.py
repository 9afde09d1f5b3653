"""Protocols for the ports that compute and pipeline code talk to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from sitewatch.core.analytics import (
    Alert,
    Assessment,
    ObjectChange,
    Observation,
    OutboxItem,
    PixelChange,
    Score,
)
from sitewatch.core.models import (
    ChipRecord,
    Coregistration,
    Coverage,
    Detection,
    DetectionSet,
    DetectionSetRecord,
    ModelInfo,
    RunReport,
    Scene,
    Site,
    SiteGrid,
    ZoneQuality,
)


class Store(Protocol):
    """Where sites, scenes, coverage, quality, chips and runs are kept."""

    def upsert_sites(self, sites: Sequence[tuple[Site, SiteGrid]]) -> None:
        """Insert or replace sites (with their zones and grids) in one transaction."""

    def list_sites(self) -> list[Site]:
        """All sites, sorted by id."""

    def get_site(self, site_id: str) -> Site:
        """The site with this id; NotFoundError when unknown."""

    def get_grid(self, site_id: str) -> SiteGrid:
        """The fixed grid of a site; NotFoundError when unknown."""

    def find_scene_by_sha256(self, sha256: str) -> Scene | None:
        """The scene with these bytes, if any."""

    def add_scene(self, scene: Scene, coverage: Sequence[Coverage]) -> None:
        """Insert a scene and its coverage in one transaction."""

    def list_scenes(self, site_id: str | None = None) -> list[Scene]:
        """All scenes, or those covering a site, by acquisition time."""

    def get_scene(self, scene_id: str) -> Scene:
        """The scene with this id; NotFoundError when unknown."""

    def replace_coverage(self, site_id: str, coverage: Sequence[Coverage]) -> None:
        """Replace every coverage row of a site in one transaction."""

    def list_coverage(
        self, site_id: str | None = None, scene_id: str | None = None
    ) -> list[Coverage]:
        """Coverage rows, filtered."""

    def save_chip_results(
        self,
        chips: Sequence[ChipRecord],
        quality: Sequence[ZoneQuality],
        coregistrations: Sequence[Coregistration],
    ) -> None:
        """Record chips, zone quality and co-registrations in one transaction."""

    def list_chips(self, site_id: str, on: date | None = None) -> list[ChipRecord]:
        """Chips of a site, by date."""

    def list_quality(self, site_id: str) -> list[ZoneQuality]:
        """Zone quality rows of a site."""

    def list_coregistrations(self, site_id: str) -> list[Coregistration]:
        """Co-registrations of a site."""

    def save_detection_set(
        self,
        record: DetectionSetRecord,
        dset: DetectionSet,
        lonlat: Sequence[tuple[float, float] | None],
    ) -> None:
        """Store a detection set and its detections (same id replaced)."""
        ...

    def list_detection_sets(
        self, site_id: str | None = None, scene_id: str | None = None
    ) -> list[DetectionSetRecord]:
        """Stored detection sets with per-class counts."""
        ...

    def list_detections(self, set_id: str) -> list[Detection]:
        """The detections of one stored set."""
        ...

    def record_run(self, report: RunReport) -> None:
        """Record a finished run."""

    def list_runs(self, limit: int = 20) -> list[RunReport]:
        """The latest runs, newest first."""
        ...

    # analytics --------------------------------------------------------------------------
    def get_fingerprint(self, site_id: str) -> str | None:
        """What the site's stored analysis was computed from, if any."""
        ...

    def save_analysis(
        self,
        site_id: str,
        fingerprint: str,
        observations: Sequence[Observation],
        object_changes: Sequence[ObjectChange],
        pixel_changes: Sequence[PixelChange],
        scores: Sequence[Score],
        assessments: Sequence[Assessment],
        alerts: Sequence[Alert],
        outbox: Sequence[OutboxItem],
    ) -> int:
        """Replace a site's analysis, add new alerts and their outbox rows, in one transaction."""
        ...

    def list_observations(self, site_id: str) -> list[Observation]:
        """A site's zone observations by date."""
        ...

    def list_scores(self, site_id: str) -> list[Score]:
        """A site's anomaly scores by date."""
        ...

    def list_object_changes(self, site_id: str) -> list[ObjectChange]:
        """A site's object changes by date."""
        ...

    def list_pixel_changes(self, site_id: str) -> list[PixelChange]:
        """A site's pixel changes by date."""
        ...

    def list_assessments(self, site_id: str) -> list[Assessment]:
        """A site's assessments by date."""
        ...

    def list_alerts(self, site_id: str | None = None, status: str | None = None) -> list[Alert]:
        """Alerts, newest first."""
        ...

    def get_alert(self, alert_id: str) -> Alert:
        """The alert with this id (or unique prefix)."""
        ...

    def save_review(self, alert: Alert) -> None:
        """Record a review decision, keeping the history."""
        ...

    def list_reviews(self, alert_id: str) -> list[tuple[str, str, str | None, datetime]]:
        """(status, reviewer, note, at) of each review of an alert, oldest first."""
        ...

    def list_outbox(self, status: str | None = None) -> list[OutboxItem]:
        """Outbox items, oldest first."""
        ...

    def update_outbox(
        self,
        item_id: str,
        status: str,
        attempts: int,
        next_attempt_at: datetime | None,
        last_error: str | None,
    ) -> None:
        """Record one delivery attempt."""
        ...


class Detector(Protocol):
    """Runs an object detector on batches of 8-bit RGB tiles."""

    info: ModelInfo

    @property
    def tile_px(self) -> int:
        """The tile size the detector runs at."""
        ...

    def predict(self, batch: npt.NDArray[np.uint8]) -> list[list[Detection]]:
        """Detections in tile pixels for each tile of an (N, 3, H, W) batch."""
        ...


class ChangeModel(Protocol):
    """A learned pixel-change model (detect.changenet.OnnxChangeModel)."""

    threshold: float

    def accepts(self, gsd_m: float) -> bool: ...

    def params(self) -> dict[str, Any]: ...

    def probability(
        self, before: npt.NDArray[Any], after: npt.NDArray[Any], gsd_m: float, force: bool = False
    ) -> npt.NDArray[np.float32]: ...
