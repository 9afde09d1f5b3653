"""Detection over whole scenes or over a site's chips: read tile batches, infer, merge, store,
and write GeoJSON (WGS84) and GeoPackage (the scene's or site's CRS).

GSD policy (`ModelInfo.read_scale`): a scene finer than the model's range is read coarser
(averaged) down to the range's lower end; a scene coarser than the model's working GSD, where it
declares one, is read interpolated (bilinear) up to it; a scene coarser than the range is refused
with the range named, unless forced. Detections are in the pixels of the read, and the detection
set's transform maps them to the scene CRS.
A detection set's id is the sha256 of its target, model hash and parameters, so running the same
detection again replaces the stored set instead of adding a second one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from affine import Affine

from sitewatch.core.models import GSD_TOLERANCE, ChipRecord, DetectionSet, DetectionSetRecord, Site
from sitewatch.core.ports import Detector, Store
from sitewatch.detect.run import DetectOptions, detect_tiled
from sitewatch.detect.tiling import Tile
from sitewatch.errors import InputError, NotFoundError
from sitewatch.geo.crs import WGS84, transform_points
from sitewatch.imagery.pixels import RasterTiles
from sitewatch.imagery.scenes import read_scene
from sitewatch.pipeline.progress import Progress, no_progress
from sitewatch.reports.vector import write_geojson, write_geopackage


@dataclass(frozen=True)
class DetectOutcome:
    """One stored detection set and the files written for it."""

    record: DetectionSetRecord
    detections: DetectionSet
    geojson: Path | None
    gpkg: Path | None


def read_scale(gsd_m: float, detector: Detector, force: bool, what: str) -> float:
    """Output over input pixel size to read a raster of `gsd_m` with for this detector.

    Raises:
        InputError: the raster is coarser than the model's range and `force` is not set.
    """
    lo, hi = detector.info.gsd_min_m, detector.info.gsd_max_m
    if gsd_m > hi * GSD_TOLERANCE and not force:
        raise InputError(
            f"{what}: ground sample distance {gsd_m:.2f} m is outside the model's range "
            f"{lo:g}-{hi:g} m ({detector.info.model_id}); objects would be too small to see. "
            "Use --force to run anyway"
        )
    return detector.info.read_scale(gsd_m)


def detect_raster(
    path: Path,
    gsd_m: float,
    detector: Detector,
    options: DetectOptions,
    progress: Progress = no_progress,
) -> DetectionSet:
    """Detections of a raster file in its own pixels (at the read scale), with its CRS."""
    scale = read_scale(gsd_m, detector, options.force_gsd, str(path))
    with RasterTiles(path, scale) as src:
        rows, cols = src.shape

        def read(t: Tile) -> tuple[np.ndarray, np.ndarray]:
            return src.read(t.row, t.col, t.rows, t.cols)

        def tick(done: int, total: int) -> None:
            progress(done, total, f"detect {path.name}")

        result = detect_tiled(rows, cols, read, detector, options, tick, gsd_m * scale)
        params = {**options.to_params(result.tile_px), "read_scale": scale}
        return DetectionSet(
            tuple(result.detections),
            detector.info,
            params,
            src.crs_wkt,
            src.transform,
            None,
            result.tiles_run,
            result.tiles_skipped,
        )


@dataclass(frozen=True)
class MappedDetections:
    """Detections as columns: polygons in the set's CRS and in WGS84, centres, properties."""

    native: npt.NDArray[Any]
    wgs84: npt.NDArray[Any]
    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    columns: dict[str, npt.NDArray[Any]]


def to_map(dset: DetectionSet) -> MappedDetections:
    """Every detection's polygon in the set's CRS and in WGS84, its centre and its properties."""
    if dset.crs is None or dset.transform is None:
        raise InputError("detections have no CRS: they came from an array, not a scene")
    tr: Affine = dset.transform
    n = len(dset.detections)
    boxes = np.array(
        [
            (d.box.cx, d.box.cy, d.box.length_px, d.box.width_px, d.box.angle_deg)
            for d in dset.detections
        ],
        dtype=np.float64,
    ).reshape(n, 5)
    cx, cy, length, width, angle = boxes.T
    theta = np.deg2rad(angle)
    ux, uy = np.cos(theta) * length / 2, np.sin(theta) * length / 2
    vx, vy = -np.sin(theta) * width / 2, np.cos(theta) * width / 2
    px = np.stack([cx - ux - vx, cx + ux - vx, cx + ux + vx, cx - ux + vx, cx], axis=1)
    py = np.stack([cy - uy - vy, cy + uy - vy, cy + uy + vy, cy - uy + vy, cy], axis=1)
    mx = tr.a * px + tr.b * py + tr.c
    my = tr.d * px + tr.e * py + tr.f
    lon, lat = transform_points(mx.ravel(), my.ravel(), dset.crs, WGS84)
    lon, lat = lon.reshape(n, 5), lat.reshape(n, 5)
    native = shapely.polygons(np.stack([mx[:, :4], my[:, :4]], axis=-1)) if n else np.array([])
    wgs = shapely.polygons(np.stack([lon[:, :4], lat[:, :4]], axis=-1)) if n else np.array([])
    columns: dict[str, npt.NDArray[Any]] = {
        "n": np.arange(n),
        "object_class": np.array([d.object_class.value for d in dset.detections], dtype=object),
        "score": np.round([d.score for d in dset.detections], 4),
        "cx_px": np.round(cx, 2),
        "cy_px": np.round(cy, 2),
        "length_px": np.round(length, 2),
        "width_px": np.round(width, 2),
        "angle_deg": np.round(angle, 2),
        "lon": np.round(lon[:, 4], 7),
        "lat": np.round(lat[:, 4], 7),
        "model_id": np.full(n, dset.model.model_id, dtype=object),
    }
    return MappedDetections(native, wgs, lon[:, 4].copy(), lat[:, 4].copy(), columns)


def set_id(kind: str, target: str, dset: DetectionSet) -> str:
    """Stable id of a detection set: target, model hash and parameters."""
    text = json.dumps([kind, target, dset.model.sha256, dict(dset.params)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _provenance(record: DetectionSetRecord, dset: DetectionSet) -> dict[str, object]:
    return {
        "detection_set": record.id,
        "scene_id": record.scene_id,
        "site_id": record.site_id,
        "chip_key": record.chip_key,
        "model_id": dset.model.model_id,
        "model_sha256": dset.model.sha256,
        "params": dict(dset.params),
        "tiles_run": dset.tiles_run,
        "tiles_skipped_empty": dset.tiles_skipped_empty,
    }


def _store_and_write(
    store: Store | None,
    kind: str,
    target: str,
    dset: DetectionSet,
    out_dir: Path | None,
    stem: str,
    scene_id: str | None = None,
    site_id: str | None = None,
    chip_key: str | None = None,
) -> DetectOutcome:
    mapped = to_map(dset)
    counts: dict[str, int] = {}
    for d in dset.detections:
        counts[d.object_class.value] = counts.get(d.object_class.value, 0) + 1
    record = DetectionSetRecord(
        set_id(kind, target, dset),
        kind,
        scene_id,
        site_id,
        chip_key,
        dset.model.model_id,
        dset.model.sha256,
        dict(dset.params),
        counts,
        dset.tiles_run,
        dset.tiles_skipped_empty,
    )
    geojson = gpkg = None
    if out_dir is not None:
        geojson = write_geojson(
            out_dir / f"{stem}.geojson", mapped.wgs84, mapped.columns, _provenance(record, dset)
        )
        assert dset.crs is not None
        gpkg = write_geopackage(out_dir / f"{stem}.gpkg", mapped.native, mapped.columns, dset.crs)
    if store is not None:
        centres = list(zip(mapped.lon.tolist(), mapped.lat.tolist(), strict=True))
        store.save_detection_set(record, dset, centres)
    return DetectOutcome(record, dset, geojson, gpkg)


def detect_scene(
    store: Store,
    target: str,
    detector: Detector,
    options: DetectOptions,
    out_dir: Path | None,
    progress: Progress = no_progress,
) -> DetectOutcome:
    """Detect over a scene given by store id or file path; store it when it is ingested."""
    path = Path(target)
    scene = None
    if path.is_file():
        meta = read_scene(path)
        scene = store.find_scene_by_sha256(meta.sha256)
        gsd = meta.gsd_m
    else:
        scene = store.get_scene(target)
        path, gsd = Path(scene.path), scene.gsd_m
    dset = detect_raster(path, gsd, detector, options, progress)
    scene_id = scene.id if scene else None
    return _store_and_write(
        store if scene else None,
        "scene",
        scene_id or str(path.resolve()),
        dset,
        out_dir,
        f"{(scene_id or path.stem)[:16]}-detections",
        scene_id=scene_id,
    )


def detect_site(
    store: Store,
    site_id: str,
    detector: Detector,
    options: DetectOptions,
    out_dir: Path | None,
    progress: Progress = no_progress,
    on_each: Callable[[DetectOutcome], None] | None = None,
) -> list[DetectOutcome]:
    """Detect over every chip of a site (run `chips` first); one stored set per chip.

    Raises:
        NotFoundError: the site has no chips yet.
    """
    site = store.get_site(site_id)
    chips = store.list_chips(site_id)
    if not chips:
        raise NotFoundError(f"site {site_id!r} has no chips yet; run `sitewatch chips {site_id}`")
    outcomes = []
    for chip in chips:
        outcome = detect_chip(store, site, chip, detector, options, out_dir, progress)
        outcomes.append(outcome)
        if on_each is not None:
            on_each(outcome)
    return outcomes


def detect_chip(
    store: Store,
    site: Site,
    chip: ChipRecord,
    detector: Detector,
    options: DetectOptions,
    out_dir: Path | None,
    progress: Progress = no_progress,
) -> DetectOutcome:
    """Detect over one chip of a site and store the set (one transaction)."""
    dset = detect_raster(Path(chip.tif_path), site.gsd_m, detector, options, progress)
    return _store_and_write(
        store,
        "chip",
        f"{site.id}/{chip.key}",
        dset,
        out_dir,
        f"{site.id}-{chip.key}-detections",
        site_id=site.id,
        chip_key=chip.key,
    )
