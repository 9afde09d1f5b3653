"""CRS handling for vector shapes: the UTM zone of a point, reprojection, areas in square metres."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely import segmentize
from shapely import transform as shapely_transform
from shapely.geometry.base import BaseGeometry

from sitewatch.errors import GeometryError, InputError

WGS84 = "EPSG:4326"


def utm_crs_for(lon_deg: float, lat_deg: float) -> str:
    """Return the EPSG code (as 'EPSG:326NN' or 'EPSG:327NN') of the UTM zone holding a point."""
    if not (-180.0 <= lon_deg <= 180.0 and -90.0 <= lat_deg <= 90.0):
        raise GeometryError(f"point ({lon_deg}, {lat_deg}) is not a lon/lat position")
    zone = min(int((lon_deg + 180.0) // 6.0) + 1, 60)
    return f"EPSG:{(32600 if lat_deg >= 0 else 32700) + zone}"


def parse_crs(text: str) -> CRS:
    """Parse a CRS given as 'EPSG:n', a URN, WKT or PROJ string.

    Raises:
        InputError: the text names no CRS pyproj knows.
    """
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise InputError(f"'{text}' is not a CRS pyproj understands: {exc}") from exc


@lru_cache(maxsize=256)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def reproject_geometry(
    geom: BaseGeometry, src_crs: str, dst_crs: str, max_segment: float | None = None
) -> BaseGeometry:
    """Reproject a shapely geometry; `max_segment` (source units) densifies edges first.

    Straight edges in one CRS are curves in another; densifying keeps the shape within a
    fraction of a pixel when the segments are short.
    """
    if src_crs == dst_crs:
        return geom
    if max_segment is not None and max_segment > 0:
        geom = segmentize(geom, max_segment)
    tr = _transformer(src_crs, dst_crs)
    return shapely_transform(geom, tr.transform, interleaved=False)


def area_m2(geom_wgs84: BaseGeometry, utm_crs: str | None = None) -> float:
    """Area of a WGS84 geometry in square metres, measured in the UTM zone of its centroid."""
    if geom_wgs84.is_empty:
        return 0.0
    if utm_crs is None:
        c = geom_wgs84.centroid
        utm_crs = utm_crs_for(c.x, c.y)
    return float(reproject_geometry(geom_wgs84, WGS84, utm_crs).area)


def transform_points(
    xs: npt.ArrayLike, ys: npt.ArrayLike, src_crs: str, dst_crs: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Coordinates of many points in another CRS (x = easting or longitude)."""
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    if src_crs == dst_crs:
        return x, y
    tx, ty = _transformer(src_crs, dst_crs).transform(x, y)
    return np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64)
