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
