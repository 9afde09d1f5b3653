"""Watchlist documents: both forms, CRS handling, export round trip."""

from __future__ import annotations

import pytest

from sitewatch.core.models import ObjectClass, ZoneKind
from sitewatch.errors import WatchlistError
from sitewatch.watchlist.load import dump_watchlist, parse_watchlist
from tests.conftest import rect, watchlist_doc

SITE = {
    "id": "yard",
    "name": "Yard",
    "gsd_m": 0.3,
    "tags": ["port"],
    "geometry": rect(124.70, 39.65, 124.72, 39.67),
}
ZONE = {
    "id": "north",
    "site": "yard",
    "kind": "rail_yard",
    "classes": ["rail_car"],
    "approximate": True,
    "geometry": rect(124.705, 39.66, 124.71, 39.665),
}


def test_geojson_form() -> None:
    import json

    sites = parse_watchlist(json.dumps(watchlist_doc([SITE], [ZONE])), "w.geojson")
    (s,) = sites
    assert s.id == "yard" and s.gsd_m == 0.3 and s.tags == ("port",)
    (z,) = s.zones
    assert z.kind is ZoneKind.RAIL_YARD and z.classes == (ObjectClass.RAIL_CAR,)
    assert z.attributes["approximate"] is True


def test_yaml_form_equals_geojson_form() -> None:
    import json

    from_geojson = parse_watchlist(json.dumps(watchlist_doc([SITE], [ZONE])), "a")
    yaml_text = dump_watchlist(from_geojson, "yaml")
    assert "sites:" in yaml_text
    from_yaml = parse_watchlist(yaml_text, "b.yaml")
    assert from_yaml[0].geometry.equals(from_geojson[0].geometry)
    assert from_yaml[0].zones[0].geometry.equals(from_geojson[0].zones[0].geometry)
    assert dump_watchlist(from_yaml, "geojson") == dump_watchlist(from_geojson, "geojson")


def test_projected_document_crs_is_converted_to_wgs84() -> None:
    import json

    doc = watchlist_doc([{"id": "utm", "geometry": rect(366700, 4104000, 367700, 4105000)}])
    doc["crs"] = {"type": "name", "properties": {"name": "EPSG:32615"}}
    (s,) = parse_watchlist(json.dumps(doc), "utm.geojson")
    w, south, e, n = s.geometry.bounds
    assert -94.51 < w < e < -94.48 and 37.0 < south < n < 37.1


def test_feature_without_role_is_refused() -> None:
    import json

    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": rect(0, 0, 0.01, 0.01), "properties": {"id": "x"}}
        ],
    }
    with pytest.raises(WatchlistError, match=r"properties\.role must be 'site' or 'zone'"):
        parse_watchlist(json.dumps(doc), "w")
