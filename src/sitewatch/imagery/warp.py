"""Windowed reads of a scene warped onto a site grid.

GDAL's warper (a WarpedVRT) reads only the source blocks under the grid, chunk by chunk within
`WARP_MEM_MB`, honours the scene's nodata, alpha or mask, and returns the scene's own pixel type
plus an alpha band that becomes the valid mask. When the grid is coarser than the scene by a
factor of two or more, the scene is opened at the overview level that is still at least as fine
as the grid, so a coarse chip of a huge COG reads only its overviews.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds

from sitewatch.core.models import SiteGrid
from sitewatch.errors import ImageryReadError, NoOverlapError

WARP_MEM_MB = 128
# GDAL's block cache defaults to 5% of RAM (1.2 GB here); a chip reads each block about once,
# so a small cache keeps memory bounded at no cost in speed (see BENCHMARKS.md).
GDAL_CACHE_MB = 64


def _overlaps(ds: Any, grid: SiteGrid, dst_transform: Affine) -> bool:
    west, north = dst_transform @ (0, 0)
    east, south = dst_transform @ (grid.width, grid.height)
    b = transform_bounds(grid.crs, ds.crs, west, south, east, north, densify_pts=21)
    return not (
        b[2] <= ds.bounds.left
        or b[0] >= ds.bounds.right
        or b[3] <= ds.bounds.bottom
        or b[1] >= ds.bounds.top
    )


def _overview_level(ds: Any, grid: SiteGrid) -> int | None:
    """Index of the coarsest overview still at least as fine as the grid, or None for full resolution."""
    factors = ds.overviews(1)
    if not factors:
        return None
    cx, cy = ds.transform @ (ds.width / 2, ds.height / 2)
    b = transform_bounds(
        ds.crs, grid.crs, cx, cy, cx + abs(ds.transform.a), cy + abs(ds.transform.e)
    )
    scene_gsd_m = math.sqrt(max(1e-12, (b[2] - b[0]) * (b[3] - b[1])))
    ratio = grid.gsd_m / scene_gsd_m
    level = None
    for i, f in enumerate(factors):
        if f <= ratio + 1e-9:
            level = i
    return level


def render_on_grid(
    path: Path,
    grid: SiteGrid,
    shift_px: tuple[float, float] = (0.0, 0.0),
    resampling: Resampling = Resampling.bilinear,
) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
    """Warp the part of a scene under a site grid onto that grid.

    Args:
        path: the scene file.
        grid: the site grid.
        shift_px: (dx, dy) in grid pixels by which the scene's content sits right/down of where
            it should be; the output is resampled so that it lines up (co-registration).
        resampling: the kernel for the warp.

    Returns:
        data (band, row, col) in the scene's dtype (0 where invalid) and valid (row, col).

    Raises:
        NoOverlapError: the scene does not reach the grid.
        ImageryReadError: the pixels could not be read.
    """
    dst_transform = grid.transform @ Affine.translation(shift_px[0], shift_px[1])
    try:
        with rasterio.open(path) as ds:
            if not _overlaps(ds, grid, dst_transform):
                raise NoOverlapError(f"{path}: does not overlap the grid of site '{grid.site_id}'")
            level = _overview_level(ds, grid)
        kw = {} if level is None else {"overview_level": level}
        with (
            rasterio.open(path, **kw) as ds,
            WarpedVRT(
                ds,
                crs=grid.crs,
                transform=dst_transform,
                width=grid.width,
                height=grid.height,
                resampling=resampling,
                add_alpha=True,
                src_nodata=ds.nodata,
                nodata=None,
                warp_mem_limit=WARP_MEM_MB,
                warp_extras={"NUM_THREADS": 2, "INIT_DEST": 0},
            ) as vrt,
        ):
            arr = vrt.read()
    except RasterioError as exc:
        raise ImageryReadError(f"{path}: cannot read pixels: {exc}") from exc
    valid = arr[-1] > 0
    data = arr[:-1]
    data[:, ~valid] = 0
    if not valid.any():
        raise NoOverlapError(f"{path}: has no valid pixels on the grid of site '{grid.site_id}'")
    return data, valid
