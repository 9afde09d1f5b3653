"""Chip files: a Cloud-Optimised GeoTIFF with an internal mask, and a stretched PNG quicklook."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.shutil import copy as rio_copy

from sitewatch.core.models import Chip
from sitewatch.errors import InputError

QUICKLOOK_MAX_PX = 1024


def write_chip_cog(chip: Chip, path: Path) -> None:
    """Write a chip as a COG (deflate, internal mask, overviews) atomically (temp file + rename).

    Raises:
        InputError: the folder cannot be written.
    """
    tmp = path.with_name(path.name + ".tmp.tif")
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": chip.grid.width,
        "height": chip.grid.height,
        "count": chip.data.shape[0],
        "dtype": str(chip.data.dtype),
        "crs": chip.grid.crs,
        "transform": chip.grid.transform,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write(chip.data)
                dst.write_mask(chip.valid.astype(np.uint8) * 255)
                dst.update_tags(
                    SITEWATCH_SITE=chip.site_id,
                    SITEWATCH_DATE=chip.acquired_on.isoformat(),
                    SITEWATCH_SCENES=",".join(chip.scene_ids),
                    SITEWATCH_SHIFT_PX=f"{chip.shift_px[0]:.3f},{chip.shift_px[1]:.3f}",
                    TIFFTAG_DATETIME=chip.acquired_on.strftime("%Y:%m:%d 00:00:00"),
                )
            rio_copy(tmp, path, driver="COG", compress="DEFLATE", overview_resampling="average")
    except (RasterioError, OSError) as exc:
        raise InputError(f"{path}: cannot write chip: {exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def _stretch(data: npt.NDArray[Any], valid: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    bands = data[:3] if data.shape[0] >= 3 else data[:1]
    out = np.zeros(bands.shape, dtype=np.uint8)
    for i, band in enumerate(bands):
        vals = band[valid]
        if vals.size == 0:
            continue
        lo, hi = np.percentile(vals, [2, 98])
        scale = 255.0 / max(float(hi - lo), 1e-6)
        out[i] = np.clip((band.astype(np.float32) - lo) * scale, 0, 255).astype(np.uint8)
    return out


def write_quicklook_png(chip: Chip, path: Path) -> None:
    """Write an 8-bit quicklook (2-98% stretch, at most 1024 px a side, alpha = valid).

    Raises:
        InputError: the folder cannot be written.
    """
    step = max(1, math.ceil(max(chip.grid.width, chip.grid.height) / QUICKLOOK_MAX_PX))
    data = chip.data[:, ::step, ::step]
    valid = chip.valid[::step, ::step]
    rgb = _stretch(data, valid)
    alpha = (valid.astype(np.uint8) * 255)[None]
    img = np.concatenate([rgb, alpha])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # a quicklook is a picture, deliberately without georeferencing
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            _write_png(path, img)
    except (RasterioError, OSError) as exc:
        raise InputError(f"{path}: cannot write quicklook: {exc}") from exc
    aux = path.with_name(path.name + ".aux.xml")
    if aux.exists():
        aux.unlink()


def _write_png(path: Path, img: npt.NDArray[np.uint8]) -> None:
    with rasterio.open(
        path,
        "w",
        driver="PNG",
        width=img.shape[2],
        height=img.shape[1],
        count=img.shape[0],
        dtype="uint8",
    ) as dst:
        dst.write(img)
