"""Writing a generated scenario: one GeoTIFF per image, the facility's watchlist and the truth.

Images alternate between sensors of different GSD and CRS (the background's projected CRS, and
the matching WGS84 UTM zone), carry their acquisition time, sensor and sun elevation as tags, and
are offset by their misregistration: the content moves, the georeferencing does not.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from shapely.geometry import box, mapping

from sitewatch.geo.crs import WGS84, reproject_geometry, utm_crs_for
from sitewatch.imagery.chipread import read_raster, write_geotiff
from sitewatch.simulate.scenario import (
    ZONES,
    ScenarioOptions,
    make_slots,
    plan_series,
    render_image,
    scenario_truth,
)

BUNDLED_BACKGROUND = (
    Path(__file__).resolve().parents[3]
    / "examples"
    / "demo"
    / "imagery"
    / "joplin"
    / "joplin_pre_tile_337-9136.tif"
)
BUNDLED_WINDOW = (512, 0, 512, 512)  # a building with parking, a road, fields (NAIP 2011, 0.6 m)


@dataclass(frozen=True)
class Simulated:
    """Where a generated scenario was written."""

    scenes: list[Path]
    watchlist: Path
    truth: Path
    site_id: str


def simulate_series(
    out_dir: Path,
    options: ScenarioOptions,
    site_id: str = "facility",
    background: Path | None = None,
    window: tuple[int, int, int, int] | None = None,
    offset_m: tuple[float, float] = (0.0, 0.0),
) -> Simulated:
    """Generate a scenario on a real background and write it under `out_dir`.

    `offset_m` (east, north) moves the generated facility away from where its background really
    is, so that it never overlaps real sites watched with real imagery.
    """
    bg_path = background or BUNDLED_BACKGROUND
    win = window if window is not None else (BUNDLED_WINDOW if background is None else None)
    data, crs, tr = read_raster(bg_path, win)
    bg = data[:3].astype(np.float32)
    gsd_bg = abs(tr.a)
    rows, cols = bg.shape[1:]
    size_m = (cols * gsd_bg, rows * gsd_bg)
    plans = plan_series(options)
    slots = make_slots(size_m, options.seed)
    west, north = tr.c + offset_m[0], tr.f + offset_m[1]
    centre = reproject_geometry(box(west, north - size_m[1], west + size_m[0], north), crs, WGS84)
    utm = utm_crs_for(centre.centroid.x, centre.centroid.y)
    scenes, covers = [], []
    folder = out_dir / "scenes"
    for i, plan in enumerate(plans):
        img, cover = render_image(bg, gsd_bg, plan, slots, options.seed * 1000 + i)
        covers.append(cover)
        gsd = plan.sensor.gsd_m
        out_crs = crs if plan.sensor.name.endswith("A") else utm
        x0, y0 = west, north
        if out_crs != crs:
            p = reproject_geometry(box(west, north - 1, west + 1, north), crs, out_crs)
            x0, y0 = p.bounds[0], p.bounds[3]
        transform = Affine(gsd, 0, x0, 0, -gsd, y0)
        zenith_deg = math.degrees(math.atan(plan.sun.shadow_per_m))
        tags = {
            "TIFFTAG_DATETIME": plan.day.strftime("%Y:%m:%d 10:30:00"),
            "SENSOR": plan.sensor.name,
            "SUN_ELEVATION": f"{90 - zenith_deg:.1f}",
            "SITEWATCH_GENERATED": "yes",
        }
        name = f"{site_id}_{plan.day.isoformat()}_{plan.sensor.name}.tif"
        scenes.append(write_geotiff(folder / name, img, out_crs, transform, tags))
    watchlist = out_dir / "watchlist.geojson"
    watchlist.write_text(json.dumps(_watchlist(site_id, crs, west, north, size_m), indent=1))
    truth = out_dir / "truth.json"
    doc = scenario_truth(options, plans, covers)
    doc.update(
        site_id=site_id,
        background=str(bg_path),
        window=list(win) if win else None,
        offset_m=list(offset_m),
    )
    truth.write_text(json.dumps(doc, indent=1))
    return Simulated(scenes, watchlist, truth, site_id)


def _watchlist(
    site_id: str, crs: str, west: float, north: float, size_m: tuple[float, float]
) -> dict[str, Any]:
    w, h = size_m
    margin = 8.0  # metres inside the image, so misregistration never uncovers the site

    def rect(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
        g = box(west + x0, north - y1, west + x1, north - y0)
        return dict(mapping(reproject_geometry(g, crs, WGS84, max_segment=5.0)))

    feats = [
        {
            "type": "Feature",
            "geometry": rect(margin, margin, w - margin, h - margin),
            "properties": {
                "role": "site",
                "id": site_id,
                "name": "Generated facility",
                "gsd_m": 0.5,
                "notes": "generated scenario (sitewatch simulate)",
            },
        }
    ]
    for zid, (kind, (a, b, c, d), classes) in ZONES.items():
        feats.append(
            {
                "type": "Feature",
                "geometry": rect(
                    max(a * w, margin + 1),
                    max(b * h, margin + 1),
                    min(c * w, w - margin - 1),
                    min(d * h, h - margin - 1),
                ),
                "properties": {
                    "role": "zone",
                    "site": site_id,
                    "id": zid,
                    "kind": kind,
                    "name": zid.replace("-", " ").title(),
                    "classes": [cls.value for cls in classes],
                },
            }
        )
    return {"type": "FeatureCollection", "features": feats}
