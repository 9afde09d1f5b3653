"""Per-site grids: the UTM zone of the site's centroid, an origin snapped to the GSD, a size.

A grid depends only on the site's geometry and GSD, so re-importing an unchanged site gives
the same grid, and every chip of the site, from any image, lands on the same pixels.
"""

from __future__ import annotations

import math

from sitewatch.core.models import Site, SiteGrid
from sitewatch.errors import GeometryError
from sitewatch.geo.crs import WGS84, reproject_geometry, utm_crs_for

MAX_GRID_PX = 60_000


def grid_for_site(site: Site) -> SiteGrid:
    """Return the fixed grid of a site.

    The origin is the site's UTM bounds snapped outward to whole multiples of the GSD.

    Raises:
        GeometryError: the GSD is not positive or the grid would be absurdly large.
    """
    if not site.gsd_m > 0:
        raise GeometryError(f"site '{site.id}': gsd_m must be positive, got {site.gsd_m}")
    centroid = site.geometry.centroid
    crs = utm_crs_for(centroid.x, centroid.y)
    utm = reproject_geometry(site.geometry, WGS84, crs, max_segment=0.0005)
    west, south, east, north = utm.bounds
    g = site.gsd_m
    west_s = math.floor(west / g) * g
    north_s = math.ceil(north / g) * g
    width = max(1, math.ceil((east - west_s) / g - 1e-9))
    height = max(1, math.ceil((north_s - south) / g - 1e-9))
    if width > MAX_GRID_PX or height > MAX_GRID_PX:
        raise GeometryError(
            f"site '{site.id}': grid of {width}x{height} px at {g} m is too large "
            f"(limit {MAX_GRID_PX} px a side); use a coarser gsd_m or a smaller site"
        )
    return SiteGrid(
        site_id=site.id,
        crs=crs,
        gsd_m=g,
        west=round(west_s, 6),
        north=round(north_s, 6),
        width=width,
        height=height,
    )
