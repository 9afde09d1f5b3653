"""Pure geometry: CRS choice, reprojection of vector shapes, per-site grids, coverage."""

from sitewatch.geo.coverage import compute_coverage
from sitewatch.geo.crs import area_m2, reproject_geometry, utm_crs_for
from sitewatch.geo.grid import grid_for_site

__all__ = ["area_m2", "compute_coverage", "grid_for_site", "reproject_geometry", "utm_crs_for"]
