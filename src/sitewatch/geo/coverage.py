"""Coverage: which share of a site and of each of its zones a scene's valid footprint covers."""

from __future__ import annotations

from shapely.geometry.base import BaseGeometry

from sitewatch.core.models import Coverage, Site
from sitewatch.geo.crs import WGS84, reproject_geometry, utm_crs_for


def compute_coverage(scene_id: str, footprint_wgs84: BaseGeometry, site: Site) -> list[Coverage]:
    """Return coverage rows (the site, then each zone) or [] when the footprint misses the site.

    Areas are measured in the UTM zone of the site's centroid.
    """
    if footprint_wgs84.is_empty or not footprint_wgs84.intersects(site.geometry):
        return []
    c = site.geometry.centroid
    utm = utm_crs_for(c.x, c.y)
    foot = reproject_geometry(footprint_wgs84, WGS84, utm)
    rows: list[Coverage] = []
    parts: list[tuple[str | None, BaseGeometry]] = [(None, site.geometry)]
    parts += [(z.id, z.geometry) for z in site.zones]
    for zone_id, geom in parts:
        g = reproject_geometry(geom, WGS84, utm)
        frac = g.intersection(foot).area / g.area if g.area > 0 else 0.0
        rows.append(Coverage(scene_id, site.id, zone_id, round(min(1.0, frac), 6)))
    if rows[0].covered_fraction <= 0.0:
        return []
    return rows
