"""Reading site chips back (all bands and the valid mask) and turning masks into polygons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.features
from affine import Affine
from rasterio.errors import RasterioError
from rasterio.windows import Window
from rasterio.windows import transform as window_transform
from shapely.geometry import mapping, shape

from sitewatch.errors import ImageryReadError
from sitewatch.geo.crs import WGS84, reproject_geometry


def read_chip(path: Path) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
    """A chip's pixels (band, row, col) in its own type, and its valid mask.

    Raises:
        ImageryReadError: the file cannot be read.
    """
    try:
        with rasterio.open(path) as ds:
            data = ds.read()
            valid = ds.dataset_mask() > 0
    except RasterioError as exc:
        raise ImageryReadError(f"{path}: cannot read chip ({exc})") from exc
    return data, valid


def read_valid_mask(path: Path) -> npt.NDArray[np.bool_]:
    """A chip's valid mask only (no band is read).

    Raises:
        ImageryReadError: the file cannot be read.
    """
    try:
        with rasterio.open(path) as ds:
            return np.asarray(ds.dataset_mask() > 0)
    except RasterioError as exc:
        raise ImageryReadError(f"{path}: cannot read chip ({exc})") from exc


def mask_polygons(
    mask: npt.NDArray[np.bool_], transform: Affine, crs: str, max_polygons: int = 500
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (WGS84) of the True regions of a mask on a grid.

    Each feature carries its area in m² (from the grid, which is metric); the largest
    `max_polygons` are kept.
    """
    feats = []
    if mask.any():
        for geom, _ in rasterio.features.shapes(
            mask.astype(np.uint8), mask=mask, transform=transform, connectivity=8
        ):
            poly = shape(geom)
            feats.append((poly.area, poly))
    feats.sort(key=lambda f: -f[0])
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": mapping(reproject_geometry(poly, crs, WGS84)),
                "properties": {"area_m2": round(area, 1)},
            }
            for area, poly in feats[:max_polygons]
        ],
    }


def read_raster(
    path: Path, window: tuple[int, int, int, int] | None = None
) -> tuple[npt.NDArray[Any], str, Affine]:
    """Pixels of a georeferenced raster (or a (col, row, width, height) window of it), its CRS
    as an EPSG/WKT string and the window's transform.

    Raises:
        ImageryReadError: unreadable, or without a CRS.
    """
    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise ImageryReadError(f"{path}: no CRS; a georeferenced background is needed")
            win = Window(*window) if window else Window(0, 0, ds.width, ds.height)
            data = ds.read(window=win)
            crs = ds.crs.to_string()
            return data, crs, window_transform(win, ds.transform)
    except RasterioError as exc:
        raise ImageryReadError(f"{path}: cannot read ({exc})") from exc


def write_geotiff(
    path: Path,
    data: npt.NDArray[Any],
    crs: str,
    transform: Affine,
    tags: dict[str, str],
) -> Path:
    """Write a (band, row, col) array as a deflated GeoTIFF with tags, atomically.

    Raises:
        ImageryReadError: the file cannot be written.
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.open(
            tmp,
            "w",
            driver="GTiff",
            width=data.shape[2],
            height=data.shape[1],
            count=data.shape[0],
            dtype=str(data.dtype),
            crs=crs,
            transform=transform,
            compress="deflate",
            tiled=True,
        ) as ds:
            ds.write(data)
            ds.update_tags(**tags)
        tmp.replace(path)
    except (RasterioError, OSError) as exc:
        raise ImageryReadError(f"{path}: cannot write ({exc})") from exc
    return path
