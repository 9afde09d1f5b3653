"""Building footprints burnt onto the pixels of a georeferenced raster (training labels for the
change model): polygons in any CRS (GeoJSON is CRS84) are reprojected to the raster's CRS and
rasterised with pixel centres inside.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.features
from rasterio.errors import RasterioError
from rasterio.warp import transform_geom

from sitewatch.errors import ImageryReadError, InputError


def read_with_footprints(
    raster: Path, footprints: Path
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_], float]:
    """(8-bit RGB (3, H, W), footprint mask (H, W), GSD in metres) of an 8-bit raster in a
    projected CRS, with the polygons of a GeoJSON file (CRS84) burnt in."""
    try:
        doc: Any = json.loads(footprints.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{footprints}: not a readable GeoJSON file ({exc})") from exc
    try:
        with rasterio.open(raster) as ds:
            if ds.crs is None or not ds.crs.is_projected:
                raise InputError(f"{raster}: footprint labels need a projected CRS, got {ds.crs}")
            if ds.dtypes[0] != "uint8":
                raise InputError(f"{raster}: footprint training reads 8-bit imagery only")
            bands = [1, 2, 3] if ds.count >= 3 else [1, 1, 1]
            image = ds.read(bands)
            geoms = [
                transform_geom("OGC:CRS84", ds.crs, f["geometry"])
                for f in doc.get("features", [])
                if f.get("geometry")
            ]
            mask = rasterio.features.rasterize(
                [(g, 1) for g in geoms], out_shape=ds.shape, transform=ds.transform, fill=0
            ).astype(bool)
            gsd = float(abs(ds.transform.a))
    except RasterioError as exc:
        raise ImageryReadError(f"{raster}: {exc}") from exc
    return image, mask, gsd
