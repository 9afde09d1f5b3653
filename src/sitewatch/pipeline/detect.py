"""Detection over whole scenes or over a site's chips: read tile batches, infer, merge, store,
and write GeoJSON (WGS84) and GeoPackage (the scene's or site's CRS).

GSD policy: a scene finer than the model's range is read coarser (averaged) down to the range's
lower end; a scene coarser than the range is refused with the range named, unless forced.
A detection set's id is the sha256 of its target, model hash and parameters, so running the same
detection again replaces the stored set instead of adding a second one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from affine import Affine

from sitewatch.core.models import Detection, DetectionSet, DetectionSetRecord
from sitewatch.core.ports import Detector, Store
from sitewatch.detect.run import DetectOptions, detect_tiled
from sitewatch.detect.tiling import Tile
from sitewatch.errors import InputError, NotFoundError
from sitewatch.geo.crs import WGS84, transform_points
from sitewatch.imagery.pixels import RasterTiles
from sitewatch.imagery.scenes import read_scene
from sitewatch.pipeline.progress import Progress, no_progress
from sitewatch.reports.vector import Feature, write_geojson, write_geopackage

GSD_TOLERANCE = 1.05


@dataclass(frozen=True)
class DetectOutcome:
    """One stored detection set and the files written for it."""

    record: DetectionSetRecord
    detections: DetectionSet
    geojson: Path | None
    gpkg: Path | None


def read_scale(gsd_m: float, detector: Detector, force: bool, what: str) -> float:
    """How much coarser than native to read a raster of `gsd_m` for this detector.

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
    return lo / gsd_m if gsd_m < lo / GSD_TOLERANCE else 1.0


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

        result = detect_tiled(rows, cols, read, detector, options, tick)
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


def to_map(dset: DetectionSet) -> tuple[list[Feature], list[Feature], list[tuple[float, float]]]:
    """Features in the set's CRS, in WGS84, and centre lon/lat of every detection."""
    if dset.crs is None or dset.transform is None:
        raise InputError("detections have no CRS: they came from an array, not a scene")
    tr: Affine = dset.transform
    n = len(dset.detections)
    if n == 0:
        return [], [], []
    # (n, 5, 2): four corners and the centre of every box, in pixels, then in the CRS
    pts = np.array(
        [[*d.box.corners().tolist(), [d.box.cx, d.box.cy]] for d in dset.detections],
        dtype=np.float64,
    )
    mx = tr.a * pts[..., 0] + tr.b * pts[..., 1] + tr.c
    my = tr.d * pts[..., 0] + tr.e * pts[..., 1] + tr.f
    lon, lat = transform_points(mx.ravel(), my.ravel(), dset.crs, WGS84)
    lon, lat = lon.reshape(n, 5), lat.reshape(n, 5)
    native_polys = shapely.polygons(np.stack([mx[:, :4], my[:, :4]], axis=-1))
    wgs_polys = shapely.polygons(np.stack([lon[:, :4], lat[:, :4]], axis=-1))
    props = [_props(i, d, dset) for i, d in enumerate(dset.detections)]
    native: list[Feature] = list(zip(native_polys.tolist(), props, strict=True))
    wgs: list[Feature] = list(zip(wgs_polys.tolist(), props, strict=True))
    centres = [(float(a), float(b)) for a, b in zip(lon[:, 4], lat[:, 4], strict=True)]
    return native, wgs, centres


def _props(n: int, d: Detection, dset: DetectionSet) -> dict[str, object]:
    return {
        "n": n,
        "object_class": d.object_class.value,
        "score": round(d.score, 4),
        "cx_px": round(d.box.cx, 2),
        "cy_px": round(d.box.cy, 2),
        "length_px": round(d.box.length_px, 2),
        "width_px": round(d.box.width_px, 2),
        "angle_deg": round(d.box.angle_deg, 2),
        "model_id": dset.model.model_id,
    }


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
    native, wgs, centres = to_map(dset)
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
        geojson = write_geojson(out_dir / f"{stem}.geojson", wgs, _provenance(record, dset))
        assert dset.crs is not None
        gpkg = write_geopackage(out_dir / f"{stem}.gpkg", native, dset.crs)
    if store is not None:
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
        dset = detect_raster(Path(chip.tif_path), site.gsd_m, detector, options, progress)
        outcome = _store_and_write(
            store,
            "chip",
            f"{site_id}/{chip.key}",
            dset,
            out_dir,
            f"{site_id}-{chip.key}-detections",
            site_id=site_id,
            chip_key=chip.key,
        )
        outcomes.append(outcome)
        if on_each is not None:
            on_each(outcome)
    return outcomes
