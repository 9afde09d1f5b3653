"""Protocols for the ports that compute and pipeline code talk to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

import numpy as np
import numpy.typing as npt

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
