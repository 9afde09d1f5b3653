"""Scene metadata: streamed sha256, CRS, valid-data footprint, GSD, time and sensor of a raster.

The footprint is the polygon of valid pixels (nodata, alpha and internal masks honoured) from a
read of at most `FOOTPRINT_MAX_PX` a side, which GDAL serves from overviews when the file has
them; so it is exact to one low-resolution pixel, and exact at the corners of an image whose
pixels are all valid.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.features
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.errors import RasterioError
from shapely.geometry import Polygon, box, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from sitewatch.core.models import Scene
from sitewatch.errors import InputError, NotGeoreferencedError
from sitewatch.geo.crs import WGS84, reproject_geometry, utm_crs_for
from sitewatch.imagery.warp import GDAL_CACHE_MB
from sitewatch.types import parse_datetime

FOOTPRINT_MAX_PX = 512
HASH_CHUNK = 1 << 20
SUPPORTED_DTYPES = ("uint8", "uint16", "int16", "float32")


@dataclass(frozen=True)
class SceneHints:
    """Metadata that comes from outside the file (a STAC item, the command line)."""

    acquired_at: datetime | None = None
    acquired_fallback: datetime | None = None
    sensor: str | None = None
    off_nadir_deg: float | None = None
    sun_elevation_deg: float | None = None
    stac_item_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB chunks.

    Raises:
        InputError: the file cannot be read.
    """
    h = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                h.update(chunk)
    except OSError as exc:
        raise InputError(f"{path}: cannot read file: {exc.strerror or exc}") from exc
    return h.hexdigest()


def _check_blocks(ds: Any, path: Path) -> None:
    """Refuse a GeoTIFF whose blocks point past the end of the file (a truncated download)."""
    if ds.driver != "GTiff":
        return
    size = path.stat().st_size
    bx, by = ds.block_shapes[0][1], ds.block_shapes[0][0]
    nx, ny = math.ceil(ds.width / bx), math.ceil(ds.height / by)
    per_band = ds.interleaving is not None and ds.interleaving.value == "BAND"
    bands = range(1, ds.count + 1) if per_band else (1,)
    for b in bands:
        for j in range(ny):
            for i in range(nx):
                off = ds.get_tag_item(f"BLOCK_OFFSET_{i}_{j}", "TIFF", bidx=b)
                if not off:
                    continue
                n = ds.get_tag_item(f"BLOCK_SIZE_{i}_{j}", "TIFF", bidx=b) or 0
                if int(off) + int(n) > size:
                    raise InputError(
                        f"{path}: truncated or corrupt GeoTIFF: block ({i}, {j}) of band {b} ends at "
                        f"byte {int(off) + int(n)} but the file has {size} bytes; fetch it again"
                    )


def _footprint(ds: Any) -> tuple[BaseGeometry, float]:
    """Valid-data polygon in the dataset CRS and the valid fraction, from a low-resolution mask."""
    f = max(1, math.ceil(max(ds.width, ds.height) / FOOTPRINT_MAX_PX))
    h, w = math.ceil(ds.height / f), math.ceil(ds.width / f)
    mask = ds.dataset_mask(out_shape=(h, w))
    if ds.dtypes[0].startswith("float"):
        sample = ds.read(1, out_shape=(h, w))
        mask = np.where(np.isnan(sample), 0, mask).astype(np.uint8)
    valid_fraction = float((mask > 0).mean())
    if valid_fraction == 1.0:
        return box(*ds.bounds), 1.0
    tr = ds.transform @ Affine.scale(ds.width / w, ds.height / h)
    polys = [
        shape(g)
        for g, v in rasterio.features.shapes(mask, mask=mask > 0, transform=tr, connectivity=8)
        if v > 0
    ]
    if not polys:
        return Polygon(), 0.0
    px = abs(tr.a)
    geom = unary_union(polys).simplify(px / 2, preserve_topology=True)
    return geom, valid_fraction


def _gsd_m(ds: Any, crs_wkt: str) -> float:
    """Mean ground sample distance in metres at the image centre, for any CRS."""
    c, r = ds.width / 2, ds.height / 2
    step = max(1, min(ds.width, ds.height) // 20)
    pts = [ds.transform @ (c, r), ds.transform @ (c + step, r), ds.transform @ (c, r + step)]
    lon, lat = Transformer.from_crs(CRS.from_wkt(crs_wkt), WGS84, always_xy=True).transform(*pts[0])
    to_utm = Transformer.from_crs(CRS.from_wkt(crs_wkt), utm_crs_for(lon, lat), always_xy=True)
    xy = [to_utm.transform(x, y) for x, y in pts]
    gx = math.dist(xy[0], xy[1]) / step
    gy = math.dist(xy[0], xy[2]) / step
    return math.sqrt(gx * gy)


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def _file_time(tags: Mapping[str, str], imagery: Mapping[str, str]) -> datetime | None:
    for raw in (
        imagery.get("ACQUISITIONDATETIME"),
        tags.get("TIFFTAG_DATETIME"),
        tags.get("ACQUISITIONDATETIME"),
    ):
        if raw:
            try:
                return parse_datetime(raw)
            except InputError:
                continue
    return None


def read_scene(path: Path, hints: SceneHints | None = None, sha256: str | None = None) -> Scene:
    """Read a raster's metadata and valid footprint and return a Scene (not yet stored).

    Raises:
        InputError: not a raster, truncated or corrupt, unsupported dtype, or no acquisition time.
        NotGeoreferencedError: no CRS or no geotransform.
    """
    hints = hints or SceneHints()
    digest = sha256 or sha256_file(path)
    try:
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), rasterio.open(path) as ds:
            if ds.crs is None:
                raise NotGeoreferencedError(
                    f"{path}: no CRS; assign one first (gdal_edit.py -a_srs EPSG:...)"
                )
            if ds.transform == Affine.identity():
                gcp_note = " (it has GCPs only: warp it with gdalwarp first)" if ds.gcps[0] else ""
                raise NotGeoreferencedError(
                    f"{path}: no geotransform{gcp_note}; it cannot be placed on a map"
                )
            if ds.dtypes[0] not in SUPPORTED_DTYPES:
                raise InputError(
                    f"{path}: pixel type {ds.dtypes[0]} is not supported; use one of "
                    + ", ".join(SUPPORTED_DTYPES)
                )
            _check_blocks(ds, path)
            tags = ds.tags()
            imagery = ds.tags(ns="IMAGERY")
            imd = ds.tags(ns="IMD") if "IMD" in (ds.tag_namespaces() or []) else {}
            crs_wkt = ds.crs.to_wkt()
            epsg = ds.crs.to_epsg()
            crs_label = f"EPSG:{epsg}" if epsg else (CRS.from_wkt(crs_wkt).name or "custom")
            footprint_native, valid_fraction = _footprint(ds)
            gsd = _gsd_m(ds, crs_wkt)
            width, height, count, dtype = ds.width, ds.height, ds.count, ds.dtypes[0]
            nodata = ds.nodata
            overviews = len(ds.overviews(1))
    except RasterioError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "not recognized" in msg or "not recognised" in msg:
            raise InputError(f"{path}: not a raster GDAL can read ({msg})") from exc
        raise InputError(f"{path}: truncated or corrupt raster: {msg}") from exc
    acquired = hints.acquired_at or _file_time(tags, imagery) or hints.acquired_fallback
    if acquired is None:
        raise InputError(
            f"{path}: no acquisition time found (no STAC datetime, no TIFF DATETIME tag); "
            "give one with --acquired YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"
        )
    seg = max(abs(footprint_native.bounds[2] - footprint_native.bounds[0]), 1e-9) / 32
    footprint = reproject_geometry(footprint_native, crs_wkt, WGS84, max_segment=seg)
    sensor = hints.sensor or imagery.get("SATELLITEID") or tags.get("SENSOR") or None
    off_nadir = hints.off_nadir_deg
    if off_nadir is None:
        off_nadir = _float_or_none(
            imd.get("IMAGE_1.meanOffNadirViewAngle") or tags.get("OFF_NADIR")
        )
    sun_el = hints.sun_elevation_deg
    if sun_el is None:
        sun_el = _float_or_none(imd.get("IMAGE_1.meanSunEl") or tags.get("SUN_ELEVATION"))
    meta: dict[str, Any] = {"valid_fraction": round(valid_fraction, 6), **dict(hints.extra)}
    if imagery.get("CLOUDCOVER"):
        meta["cloud_cover_metadata"] = imagery["CLOUDCOVER"]
    return Scene(
        id="sc-" + digest[:16],
        sha256=digest,
        path=str(path.resolve()),
        crs_wkt=crs_wkt,
        crs_label=crs_label,
        width=width,
        height=height,
        band_count=count,
        dtype=dtype,
        nodata=None
        if nodata is None or (isinstance(nodata, float) and math.isnan(nodata))
        else float(nodata),
        gsd_m=round(gsd, 6),
        footprint=footprint,
        acquired_at=acquired,
        sensor=sensor,
        off_nadir_deg=off_nadir,
        sun_elevation_deg=sun_el,
        stac_item_id=hints.stac_item_id,
        overview_count=overviews,
        metadata=meta,
    )
