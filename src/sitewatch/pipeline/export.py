"""Exports of a site for QGIS and Google Earth: zones, detections and change polygons as GeoJSON
(RFC 7946, WGS84) and GeoPackage (the site's grid CRS), the same as KML, and the zone time
series as CSV.

Detections of every chip of the site go into one layer with the chip's date; their pixel
coordinates are on the site grid (divided by the detection set's read scale).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

from sitewatch.core.models import DetectionSet, ModelInfo
from sitewatch.core.ports import Store
from sitewatch.geo.crs import WGS84, reproject_geometry
from sitewatch.pipeline.analyze import grid_detections
from sitewatch.pipeline.detect import to_map
from sitewatch.reports.vector import write_csv, write_geojson, write_geopackage, write_kml


def _write_all(
    out: Path,
    stem: str,
    wgs: np.ndarray[Any, Any],
    native: np.ndarray[Any, Any],
    columns: dict[str, np.ndarray[Any, Any]],
    crs: str,
    meta: dict[str, Any],
) -> dict[str, Path]:
    kml_cols = {
        "name": columns.get("name", columns[next(iter(columns))]),
        "description": columns.get("description", np.array([""] * len(wgs), dtype=object)),
        **{k: v for k, v in columns.items() if k not in ("name", "description")},
    }
    return {
        f"{stem}.geojson": write_geojson(out / f"{stem}.geojson", wgs, columns, meta),
        f"{stem}.gpkg": write_geopackage(out / f"{stem}.gpkg", native, columns, crs, layer=stem),
        f"{stem}.kml": write_kml(out / f"{stem}.kml", wgs, kml_cols, stem),
    }


def export_site(store: Store, site_id: str, out: Path) -> dict[str, Path]:
    """Write every export of a site into `out`; returns the files by name.

    Raises:
        NotFoundError: unknown site. InputError: a file that cannot be written.
    """
    site = store.get_site(site_id)
    grid = store.get_grid(site_id)
    meta = {"site_id": site_id, "crs": grid.crs}
    files: dict[str, Path] = {}

    # zones
    zw = np.array([z.geometry for z in site.zones], dtype=object)
    zn = np.array(
        [reproject_geometry(z.geometry, WGS84, grid.crs) for z in site.zones], dtype=object
    )
    zcols = {
        "id": np.array([z.id for z in site.zones], dtype=object),
        "name": np.array([z.name or z.id for z in site.zones], dtype=object),
        "kind": np.array([z.kind.value for z in site.zones], dtype=object),
        "classes": np.array(
            [",".join(c.value for c in z.classes) for z in site.zones], dtype=object
        ),
        "description": np.array(
            [f"{z.kind.value} zone of {site_id}" for z in site.zones], dtype=object
        ),
    }
    files |= _write_all(out, "zones", zw, zn, zcols, grid.crs, meta)

    # detections of every chip, one layer with the date
    chips = {c.key: c for c in store.list_chips(site_id)}
    parts_w: list[Any] = []
    parts_n: list[Any] = []
    cols: list[dict[str, Any]] = []
    for rec in store.list_detection_sets(site_id=site_id):
        chip = chips.get(rec.chip_key or "")
        if chip is None:
            continue
        info = ModelInfo(rec.model_id, rec.model_sha256, "", (), 0, 0.0, 0.0)
        dset = DetectionSet(
            tuple(grid_detections(store, rec)), info, rec.params, grid.crs, grid.transform
        )
        if not dset.detections:
            continue
        mapped = to_map(dset)
        n = len(dset.detections)
        c = dict(mapped.columns)
        c["date"] = np.full(n, chip.acquired_on.isoformat(), dtype=object)
        c["chip"] = np.full(n, chip.key, dtype=object)
        c["name"] = c["object_class"]
        c["description"] = np.array(
            [
                f"{k} {s:.2f} on {chip.acquired_on}"
                for k, s in zip(c["object_class"], c["score"], strict=True)
            ],
            dtype=object,
        )
        parts_w.append(mapped.wgs84)
        parts_n.append(mapped.native)
        cols.append(c)
    if cols:
        keys = list(cols[0])
        dcols = {k: np.concatenate([c[k] for c in cols]) for k in keys}
        files |= _write_all(
            out,
            "detections",
            np.concatenate(parts_w),
            np.concatenate(parts_n),
            dcols,
            grid.crs,
            meta,
        )

    # change polygons
    geoms_w, crows = [], []
    for pc in store.list_pixel_changes(site_id):
        for feat in pc.polygons.get("features", []):
            geoms_w.append(shape(feat["geometry"]))
            crows.append(
                (
                    pc.zone_id,
                    pc.before_on.isoformat(),
                    pc.after_on.isoformat(),
                    float(feat["properties"].get("area_m2", 0.0)),
                    pc.changed_fraction,
                )
            )
    if geoms_w:
        cw = shapely.orient_polygons(np.array(geoms_w, dtype=object), exterior_cw=False)
        cn = np.array([reproject_geometry(g, WGS84, grid.crs) for g in geoms_w], dtype=object)
        ccols = {
            "zone_id": np.array([r[0] for r in crows], dtype=object),
            "before": np.array([r[1] for r in crows], dtype=object),
            "after": np.array([r[2] for r in crows], dtype=object),
            "area_m2": np.array([r[3] for r in crows]),
            "zone_changed_fraction": np.array([r[4] for r in crows]),
            "name": np.array([f"change {r[1]} to {r[2]}" for r in crows], dtype=object),
            "description": np.array([f"{r[3]:.0f} m² in {r[0]}" for r in crows], dtype=object),
        }
        files |= _write_all(out, "changes", cw, cn, ccols, grid.crs, meta)

    # time series
    scores = {(s.zone_id, s.object_class, s.observed_on): s for s in store.list_scores(site_id)}
    rows = []
    for o in store.list_observations(site_id):
        s = scores.get((o.zone_id, o.object_class, o.observed_on))
        rows.append(
            [
                o.observed_on.isoformat(),
                o.zone_id,
                o.object_class.value,
                "" if o.count is None else o.count,
                "" if o.expected_count is None else o.expected_count,
                int(o.usable),
                o.reason,
                round(o.area_observed_m2, 1),
                "" if s is None or s.band_low is None else s.band_low,
                "" if s is None or s.band_high is None else s.band_high,
                "" if s is None or s.tail_p is None else s.tail_p,
                "" if s is None else s.reason,
                " ".join(o.scene_ids),
            ]
        )
    files["timeseries.csv"] = write_csv(
        out / "timeseries.csv",
        [
            "date",
            "zone",
            "class",
            "count",
            "expected_count",
            "usable",
            "reason",
            "area_observed_m2",
            "usual_low",
            "usual_high",
            "tail_p",
            "score_reason",
            "scene_ids",
        ],
        rows,
    )
    return files
