"""Shared CLI output: the console, JSON printing, progress bars, and per-object dict forms."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from shapely.geometry import mapping

from sitewatch.core.models import ChipRecord, Coregistration, Scene, Site, SiteGrid, ZoneQuality
from sitewatch.geo.crs import area_m2
from sitewatch.pipeline.progress import Progress as ProgressFn

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def print_json(value: Any) -> None:
    """Print a value as indented JSON on stdout."""
    console.print_json(json.dumps(value, default=str))


@contextmanager
def progress_bar(label: str) -> Iterator[ProgressFn]:
    """A rich progress bar on stderr, handed out as a progress callback."""
    with Progress(
        TextColumn(f"{label} [dim]{{task.description}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def update(done: int, total: int, item: str) -> None:
            bar.update(task, completed=done, total=total, description=item)

        yield update


def site_dict(site: Site, grid: SiteGrid | None = None, geometry: bool = False) -> dict[str, Any]:
    """A site as a JSON-ready dict, zones with their areas in m²."""
    d: dict[str, Any] = {
        "id": site.id,
        "name": site.name,
        "gsd_m": site.gsd_m,
        "area_m2": round(area_m2(site.geometry), 1),
        "tags": list(site.tags),
        "notes": site.notes,
        "zones": [
            {
                "id": z.id,
                "kind": z.kind.value,
                "name": z.name,
                "area_m2": round(area_m2(z.geometry), 1),
                "classes": [c.value for c in z.classes],
                **dict(z.attributes),
            }
            for z in site.zones
        ],
        **dict(site.attributes),
    }
    if grid is not None:
        d["grid"] = {
            "crs": grid.crs,
            "gsd_m": grid.gsd_m,
            "west": grid.west,
            "north": grid.north,
            "width": grid.width,
            "height": grid.height,
        }
    if geometry:
        d["geometry"] = mapping(site.geometry)
    return d


def scene_dict(scene: Scene, geometry: bool = False) -> dict[str, Any]:
    """A scene as a JSON-ready dict."""
    d: dict[str, Any] = {
        "id": scene.id,
        "sha256": scene.sha256,
        "path": scene.path,
        "acquired_at": scene.acquired_at.isoformat(),
        "crs": scene.crs_label,
        "gsd_m": scene.gsd_m,
        "width": scene.width,
        "height": scene.height,
        "bands": scene.band_count,
        "dtype": scene.dtype,
        "nodata": scene.nodata,
        "sensor": scene.sensor,
        "off_nadir_deg": scene.off_nadir_deg,
        "sun_elevation_deg": scene.sun_elevation_deg,
        "stac_item_id": scene.stac_item_id,
        "overviews": scene.overview_count,
        "metadata": dict(scene.metadata),
    }
    if geometry:
        d["footprint"] = mapping(scene.footprint)
    return d


def chip_dict(c: ChipRecord) -> dict[str, Any]:
    """A chip record as a JSON-ready dict."""
    return {
        "key": c.key,
        "date": c.acquired_on.isoformat(),
        "scenes": list(c.scene_ids),
        "tif": c.tif_path,
        "png": c.png_path,
        "valid_fraction": c.valid_fraction,
        "shift_px": list(c.shift_px),
    }


def quality_dict(q: ZoneQuality) -> dict[str, Any]:
    """A zone quality row as a JSON-ready dict."""
    return {
        "scene": q.scene_id,
        "zone": q.zone_id,
        "covered_fraction": q.covered_fraction,
        "nodata_fraction": q.nodata_fraction,
        "cloud_score": q.cloud_score,
        "haze_score": q.haze_score,
        "usable": q.usable,
        "reason": q.reason,
    }


def coreg_dict(g: Coregistration) -> dict[str, Any]:
    """A co-registration as a JSON-ready dict."""
    return {
        "reference": g.reference_key,
        "target": g.target_key,
        "shift_px": [g.dx_px, g.dy_px],
        "confidence": g.confidence,
        "accepted": g.accepted,
        "reason": g.reason,
        "residual_px": [g.residual_dx_px, g.residual_dy_px],
    }
