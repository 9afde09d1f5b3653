"""Frozen dataclasses that flow between the layers: sites, zones, scenes, grids, chips, quality."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
from affine import Affine
from shapely.geometry.base import BaseGeometry

from sitewatch.types import Bounds


class ZoneKind(StrEnum):
    """What a zone of a site is for; closed set."""

    PARKING = "parking"
    RAIL_YARD = "rail_yard"
    ASSEMBLY = "assembly"
    LAUNCH_PAD = "launch_pad"
    TEST_STAND = "test_stand"
    PROPELLANT_STORAGE = "propellant_storage"
    CONTAINER_YARD = "container_yard"
    VIP_AREA = "vip_area"
    OTHER = "other"


class ObjectClass(StrEnum):
    """The activity indicators sitewatch detects and counts."""

    SMALL_VEHICLE = "small_vehicle"
    LARGE_VEHICLE = "large_vehicle"
    RAIL_CAR = "rail_car"
    CRANE = "crane"
    CONTAINER = "container"


@dataclass(frozen=True)
class Zone:
    """A part of a site that means something to the analyst. Geometry is WGS84 lon/lat."""

    id: str
    site_id: str
    kind: ZoneKind
    geometry: BaseGeometry
    classes: tuple[ObjectClass, ...] = ()
    name: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Site:
    """A watched facility. Geometry is WGS84 lon/lat; `gsd_m` is its grid's pixel size."""

    id: str
    name: str
    geometry: BaseGeometry
    gsd_m: float = 0.5
    tags: tuple[str, ...] = ()
    notes: str = ""
    zones: tuple[Zone, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def zone(self, zone_id: str) -> Zone | None:
        """Return the zone with this id, or None."""
        return next((z for z in self.zones if z.id == zone_id), None)


@dataclass(frozen=True)
class SiteGrid:
    """The fixed pixel grid of a site: every chip of the site lands on these pixels.

    `crs` is an EPSG string of a UTM zone; (`west`, `north`) is the top-left corner of
    the top-left pixel, a multiple of `gsd_m`.
    """

    site_id: str
    crs: str
    gsd_m: float
    west: float
    north: float
    width: int
    height: int

    @property
    def transform(self) -> Affine:
        """The affine transform from (col, row) to map coordinates."""
        return Affine(self.gsd_m, 0.0, self.west, 0.0, -self.gsd_m, self.north)

    @property
    def bounds(self) -> Bounds:
        """(west, south, east, north) in the grid CRS."""
        return Bounds(
            self.west,
            self.north - self.height * self.gsd_m,
            self.west + self.width * self.gsd_m,
            self.north,
        )

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return (self.height, self.width)


@dataclass(frozen=True)
class Scene:
    """One ingested image, identified by the sha256 of its bytes."""

    id: str
    sha256: str
    path: str
    crs_wkt: str
    crs_label: str
    width: int
    height: int
    band_count: int
    dtype: str
    nodata: float | None
    gsd_m: float
    footprint: BaseGeometry
    acquired_at: datetime
    sensor: str | None = None
    off_nadir_deg: float | None = None
    sun_elevation_deg: float | None = None
    stac_item_id: str | None = None
    overview_count: int = 0
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def acquired_on(self) -> date:
        """The UTC day of acquisition."""
        return self.acquired_at.date()


@dataclass(frozen=True)
class Coverage:
    """How much of a site (zone_id None) or a zone a scene's valid footprint covers."""

    scene_id: str
    site_id: str
    zone_id: str | None
    covered_fraction: float


@dataclass(frozen=True)
class QualityThresholds:
    """When a zone in a scene is usable: all limits inclusive."""

    min_covered_fraction: float = 0.8
    max_nodata_fraction: float = 0.2
    max_cloud_score: float = 0.3
    max_haze_score: float = 0.6


@dataclass(frozen=True)
class ZoneQuality:
    """What one scene can show of one zone, with a usable verdict and its reason."""

    scene_id: str
    site_id: str
    zone_id: str
    covered_fraction: float
    nodata_fraction: float
    cloud_score: float | None
    haze_score: float | None
    usable: bool
    reason: str


@dataclass(frozen=True)
class Chip:
    """Pixels of one site on its grid: `data` is (band, row, col), `valid` is (row, col) bool."""

    site_id: str
    grid: SiteGrid
    data: npt.NDArray[Any]
    valid: npt.NDArray[np.bool_]
    scene_ids: tuple[str, ...]
    acquired_on: date
    shift_px: tuple[float, float] = (0.0, 0.0)

    @property
    def valid_fraction(self) -> float:
        """Fraction of grid pixels with data."""
        return float(self.valid.mean()) if self.valid.size else 0.0


@dataclass(frozen=True)
class ChipRecord:
    """A chip written to disk and recorded in the store."""

    site_id: str
    key: str
    acquired_on: date
    scene_ids: tuple[str, ...]
    tif_path: str
    png_path: str
    valid_fraction: float
    shift_px: tuple[float, float]


@dataclass(frozen=True)
class Coregistration:
    """The residual shift of one chip against a site's reference chip, measured by phase correlation.

    `dx_px`/`dy_px` is how far the target content sits right/down of the reference content.
    `accepted` tells whether the shift may be applied; `reason` says why not when it may not.
    """

    site_id: str
    reference_key: str
    target_key: str
    dx_px: float
    dy_px: float
    confidence: float
    accepted: bool
    reason: str
    residual_dx_px: float | None = None
    residual_dy_px: float | None = None


@dataclass(frozen=True)
class RunReport:
    """What one batch run did: items ok, skipped and failed, with messages."""

    run_id: str
    kind: str
    started_at: datetime
    finished_at: datetime
    ok: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """'ok' when nothing failed, else 'failed'."""
        return "failed" if self.failed else "ok"


@dataclass(frozen=True)
class OrientedBox:
    """An oriented rectangle in pixel coordinates (x = column, y = row, both in pixels).

    `length_px` is the long side, `width_px` the short side, `angle_deg` the direction of the
    long side measured from the +x (column) axis towards +y (down the rows), in [0, 180).
    """

    cx: float
    cy: float
    length_px: float
    width_px: float
    angle_deg: float

    def corners(self) -> npt.NDArray[np.float64]:
        """The four corners as a (4, 2) array of (x, y), in ring order."""
        theta = np.deg2rad(self.angle_deg)
        ux = np.array([np.cos(theta), np.sin(theta)]) * self.length_px / 2.0
        uy = np.array([-np.sin(theta), np.cos(theta)]) * self.width_px / 2.0
        c = np.array([self.cx, self.cy])
        return np.stack([c - ux - uy, c + ux - uy, c + ux + uy, c - ux + uy])

    def aabb(self) -> tuple[float, float, float, float]:
        """Axis-aligned extent (x0, y0, x1, y1)."""
        pts = self.corners()
        return (
            float(pts[:, 0].min()),
            float(pts[:, 1].min()),
            float(pts[:, 0].max()),
            float(pts[:, 1].max()),
        )

    def scaled(self, fx: float, fy: float | None = None) -> OrientedBox:
        """The box in pixels `fx` (and `fy`, default `fx`) times the size: centre scaled per axis,
        sides by `fx` (the resampling of a raster is near-isotropic)."""
        fy = fx if fy is None else fy
        return OrientedBox(
            self.cx * fx, self.cy * fy, self.length_px * fx, self.width_px * fx, self.angle_deg
        )


def box_corners(boxes: Sequence[OrientedBox]) -> npt.NDArray[np.float64]:
    """The corners of many boxes as an (n, 4, 2) array of (x, y), each in ring order, in one
    vectorised computation: the same numbers as each box's `OrientedBox.corners` (tested), which
    stays scalar because one box at a time is the common call in training and evaluation, where
    this version's array set-up would double its cost."""
    values = np.array(
        [(b.cx, b.cy, b.length_px, b.width_px, b.angle_deg) for b in boxes], dtype=np.float64
    ).reshape(-1, 5)
    cx, cy, length, width, angle = values.T
    theta = np.deg2rad(angle)
    cos, sin = np.cos(theta), np.sin(theta)
    ux = np.stack([cos, sin], axis=1) * (length / 2.0)[:, None]
    uy = np.stack([-sin, cos], axis=1) * (width / 2.0)[:, None]
    c = np.stack([cx, cy], axis=1)
    return np.stack([c - ux - uy, c + ux - uy, c + ux + uy, c - ux + uy], axis=1)


@dataclass(frozen=True)
class Detection:
    """One detected object: its class, calibrated-ish score and oriented box in image pixels."""

    object_class: ObjectClass
    score: float
    box: OrientedBox


GSD_TOLERANCE = 1.05


@dataclass(frozen=True)
class ModelInfo:
    """What a detector is and where it may be used; recorded as provenance on every detection set."""

    model_id: str
    sha256: str
    layout: str
    classes: tuple[ObjectClass | None, ...]
    input_px: int
    gsd_min_m: float
    gsd_max_m: float
    thresholds: Mapping[ObjectClass, float] = field(default_factory=dict)
    # per class (score, probability) knots mapping raw scores to calibrated probabilities
    calibration: Mapping[ObjectClass, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    # the GSD the model reads imagery at: coarser imagery in range is interpolated up to it
    work_gsd_m: float | None = None
    # classes whose boxes the model takes from footprints (detect/decode.py): a tiled run joins
    # the pieces of such an object that tile borders cut (detect/run.py)
    footprint_classes: tuple[ObjectClass, ...] = ()
    # per class, the shortest object of that class there is (metres): a detection boxed shorter
    # is not one (a crane is a long machine; detect/run.py drops shorter boxes after tiling)
    min_length_m: Mapping[ObjectClass, float] = field(default_factory=dict)

    def read_scale(self, gsd_m: float) -> float:
        """Output pixel size over input pixel size for imagery of `gsd_m` (1: native).

        Imagery finer than the range is averaged down to its lower end; imagery coarser than the
        working GSD (where the model declares one) is interpolated up to it. A 5% tolerance keeps
        imagery at or near either GSD native. Imagery coarser than the range (run only when
        forced) is read native: interpolating it would multiply the work without adding detail.
        """
        if gsd_m > self.gsd_max_m * GSD_TOLERANCE:
            return 1.0
        if gsd_m < self.gsd_min_m / GSD_TOLERANCE:
            return self.gsd_min_m / gsd_m
        if self.work_gsd_m is not None and gsd_m > self.work_gsd_m * GSD_TOLERANCE:
            return self.work_gsd_m / gsd_m
        return 1.0


@dataclass(frozen=True)
class DetectionSet:
    """Detections of one scene (or one array), with the pixel->map transform and provenance.

    `transform` maps this set's pixel coordinates to `crs`; both are empty for plain arrays.
    `params` holds the tiling and threshold parameters used.
    """

    detections: tuple[Detection, ...]
    model: ModelInfo
    params: Mapping[str, Any]
    crs: str | None = None
    transform: Affine | None = None
    scene_id: str | None = None
    tiles_run: int = 0
    tiles_skipped_empty: int = 0


@dataclass(frozen=True)
class DetectionSetRecord:
    """A stored detection set: what it ran on (a scene, or a site's chip), the model, and counts."""

    id: str
    target_kind: str
    scene_id: str | None
    site_id: str | None
    chip_key: str | None
    model_id: str
    model_sha256: str
    params: Mapping[str, Any]
    counts: Mapping[str, int]
    tiles_run: int
    tiles_skipped: int
