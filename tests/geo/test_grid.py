"""Per-site grids and CRS helpers, with property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from sitewatch.core.models import Site
from sitewatch.errors import GeometryError
from sitewatch.geo.crs import WGS84, area_m2, reproject_geometry, utm_crs_for
from sitewatch.geo.grid import grid_for_site


def test_utm_zone_of_sohae() -> None:
    assert utm_crs_for(124.705, 39.66) == "EPSG:32651"
    assert utm_crs_for(-94.49, 37.07) == "EPSG:32615"
    assert utm_crs_for(151.2, -33.9) == "EPSG:32756"


def test_utm_refuses_non_lonlat() -> None:
    with pytest.raises(GeometryError, match="not a lon/lat"):
        utm_crs_for(500000.0, 4100000.0)


@settings(max_examples=40, deadline=None)
@given(
    lon=st.floats(-179.0, 179.0),
    lat=st.floats(-75.0, 75.0),
    size_deg=st.floats(0.001, 0.05),
    gsd=st.sampled_from([0.3, 0.5, 0.6, 1.0, 5.0]),
)
def test_grid_covers_site_and_is_snapped(
    lon: float, lat: float, size_deg: float, gsd: float
) -> None:
    site = Site(id="s", name="s", geometry=box(lon, lat, lon + size_deg, lat + size_deg), gsd_m=gsd)
    g = grid_for_site(site)
    assert g.west / gsd == pytest.approx(round(g.west / gsd), abs=1e-6)
    assert g.north / gsd == pytest.approx(round(g.north / gsd), abs=1e-6)
    utm = reproject_geometry(site.geometry, WGS84, g.crs)
    w, s, e, n = utm.bounds
    gw, gs, ge, gn = g.bounds
    assert gw <= w + 1e-6 and gn >= n - 1e-6 and ge >= e - 1e-6 and gs <= s + 1e-6
    assert ge - e < gsd + 1e-6 and s - gs < gsd + 1e-6
    assert grid_for_site(site) == g  # deterministic


@settings(max_examples=30, deadline=None)
@given(lon=st.floats(-179.0, 179.0), lat=st.floats(-80.0, 80.0))
def test_reprojection_round_trips(lon: float, lat: float) -> None:
    geom = box(lon, lat, lon + 0.01, lat + 0.01)
    utm = utm_crs_for(lon, lat)
    back = reproject_geometry(reproject_geometry(geom, WGS84, utm), utm, WGS84)
    assert back.symmetric_difference(geom).area < 1e-12


def test_area_of_a_known_square() -> None:
    utm = "EPSG:32615"
    square = reproject_geometry(box(366700, 4104000, 367700, 4105000), utm, WGS84, max_segment=10)
    assert area_m2(square, utm) == pytest.approx(1e6, rel=1e-6)


def test_grid_refuses_bad_gsd() -> None:
    with pytest.raises(GeometryError, match="gsd_m must be positive"):
        grid_for_site(Site(id="s", name="s", geometry=box(0, 0, 0.01, 0.01), gsd_m=0))
