"""Windowed reads of a scene warped onto a site grid.

Only the source window under the grid (plus a 2-pixel margin for the resampling kernel) is
read, decimated when the grid is coarser than the scene so that GDAL serves it from overviews.
Bands are warped one at a time in float32 with NaN as nodata, so invalid source pixels never
bleed into valid output pixels and memory stays at a few copies of one band.
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
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window, from_bounds

from sitewatch.core.models import SiteGrid
from sitewatch.errors import ImageryReadError, NoOverlapError

MARGIN_PX = 2


def _source_window(ds: Any, grid: SiteGrid, dst_transform: Affine) -> Window | None:
    west, north = dst_transform @ (0, 0)
    east, south = dst_transform @ (grid.width, grid.height)
    b = transform_bounds(grid.crs, ds.crs, west, south, east, north, densify_pts=21)
    win = from_bounds(*b, transform=ds.transform)
    col0 = max(0, math.floor(win.col_off) - MARGIN_PX)
    row0 = max(0, math.floor(win.row_off) - MARGIN_PX)
    col1 = min(ds.width, math.ceil(win.col_off + win.width) + MARGIN_PX)
    row1 = min(ds.height, math.ceil(win.row_off + win.height) + MARGIN_PX)
    if col1 <= col0 or row1 <= row0:
        return None
    return Window(col0, row0, col1 - col0, row1 - row0)


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
            win = _source_window(ds, grid, dst_transform)
            if win is None:
                raise NoOverlapError(f"{path}: does not overlap the grid of site '{grid.site_id}'")
            src_res = math.sqrt(abs(ds.transform.a * ds.transform.e))
            dst_res_src_units = _grid_res_in_src_units(ds, grid, win)
            factor = max(1, math.floor(dst_res_src_units / src_res)) if src_res > 0 else 1
            out_h = max(1, math.ceil(win.height / factor))
            out_w = max(1, math.ceil(win.width / factor))
            read_rs = Resampling.average if factor > 1 else Resampling.nearest
            src = ds.read(window=win, out_shape=(ds.count, out_h, out_w), resampling=read_rs)
            mask = ds.dataset_mask(window=win, out_shape=(out_h, out_w)) > 0
            src_transform = ds.window_transform(win) @ Affine.scale(
                win.width / out_w, win.height / out_h
            )
            src_crs = ds.crs
            dtype = ds.dtypes[0]
    except RasterioError as exc:
        raise ImageryReadError(f"{path}: cannot read pixels: {exc}") from exc
    out = np.zeros((src.shape[0], grid.height, grid.width), dtype=dtype)
    valid = np.ones(grid.shape, dtype=bool)
    band_dst = np.empty(grid.shape, dtype=np.float32)
    for b in range(src.shape[0]):
        band = src[b].astype(np.float32)
        band[~mask] = np.nan
        band_dst.fill(np.nan)
        reproject(
            band,
            band_dst,
            src_transform=src_transform,
            src_crs=src_crs,
            src_nodata=np.nan,
            dst_transform=dst_transform,
            dst_crs=grid.crs,
            dst_nodata=np.nan,
            resampling=resampling,
            num_threads=2,
        )
        ok = ~np.isnan(band_dst)
        valid &= ok
        if np.issubdtype(out.dtype, np.integer):
            info = np.iinfo(out.dtype)
            np.clip(
                np.rint(band_dst, where=ok, out=band_dst),
                info.min,
                info.max,
                out=band_dst,
                where=ok,
            )
        out[b][ok] = band_dst[ok]
        del band
    out[:, ~valid] = 0
    if not valid.any():
        raise NoOverlapError(f"{path}: has no valid pixels on the grid of site '{grid.site_id}'")
    return out, valid


def _grid_res_in_src_units(ds: Any, grid: SiteGrid, win: Window) -> float:
    """The grid's pixel size expressed in source CRS units, near the window centre."""
    if ds.crs.is_projected and ds.crs.linear_units_factor[1] == 1.0:
        return grid.gsd_m
    cx, cy = ds.window_transform(win) @ (win.width / 2, win.height / 2)
    b = transform_bounds(
        ds.crs, grid.crs, cx, cy, cx + abs(ds.transform.a), cy + abs(ds.transform.e)
    )
    metres_per_src_px = math.sqrt(max(1e-12, (b[2] - b[0]) * (b[3] - b[1])))
    return grid.gsd_m / metres_per_src_px * math.sqrt(abs(ds.transform.a * ds.transform.e))
