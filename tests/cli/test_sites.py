"""`sitewatch sites ...`: import, list, show (zone areas), export; bad watchlists exit 2 with one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import rect, store_snapshot, watchlist_doc

SITE = {"id": "depot", "name": "Depot", "geometry": rect(-94.50, 37.065, -94.48, 37.080)}
ZONE = {
    "id": "lot",
    "site": "depot",
    "kind": "parking",
    "geometry": rect(-94.495, 37.07, -94.49, 37.075),
}


def test_import_list_show_export(
    cli: Callable[..., Any], write_watchlist: Callable[..., Path], tmp_path: Path
) -> None:
    r = cli("sites", "import", str(write_watchlist(watchlist_doc([SITE], [ZONE]))))
    assert r.code == 0, r.err
    listed = json.loads(cli("sites", "list", "--json").out)
    assert [s["id"] for s in listed] == ["depot"]
    assert listed[0]["grid"]["crs"] == "EPSG:32615"
    shown = json.loads(cli("sites", "show", "depot", "--json").out)
    # 0.005 deg x 0.005 deg at 37.07 N: 444.6 m x 555.0 m
    assert shown["zones"][0]["area_m2"] == pytest.approx(444.6 * 555.0, rel=0.01)
    out = tmp_path / "export.yaml"
    assert cli("sites", "export", "--format", "yaml", "--out", str(out)).code == 0
    assert cli("sites", "import", str(out)).code == 0
    assert json.loads(cli("sites", "show", "depot", "--json").out) == shown


def test_reimport_is_an_update(
    cli: Callable[..., Any], write_watchlist: Callable[..., Path], home: Path
) -> None:
    path = write_watchlist(watchlist_doc([SITE], [ZONE]))
    cli("sites", "import", str(path))
    before = store_snapshot(home)
    assert cli("sites", "import", str(path)).code == 0
    after = store_snapshot(home)
    drop_time = lambda rows: [r[:-1] for r in rows]  # noqa: E731 - updated_at changes
    assert drop_time(after["sites"]) == drop_time(before["sites"])
    assert after["zones"] == before["zones"]


def _self_intersecting() -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [
            [[-94.5, 37.07], [-94.48, 37.08], [-94.48, 37.07], [-94.5, 37.08], [-94.5, 37.07]]
        ],
    }


BAD = [
    (
        "self_intersecting_site",
        [{**SITE, "geometry": _self_intersecting()}],
        [],
        r"site 'depot': ring self-intersects near \(-94\.4900, 37\.0750\)",
    ),
    (
        "invalid_ring",
        [
            {
                **SITE,
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[-94.5, 37.07], [-94.48, 37.08], [-94.5, 37.07]]],
                },
            }
        ],
        [],
        r"site 'depot': invalid geometry \(Too few points in geometry component\) near \(-94\.5000, 37\.0700\)",
    ),
    (
        "zone_outside",
        [SITE],
        [{**ZONE, "geometry": rect(-94.485, 37.07, -94.47, 37.075)}],
        r"zone 'lot' of site 'depot' is not inside its site: 66\.\d% of its area lies outside",
    ),
    ("duplicate_site", [SITE, SITE], [], r"duplicate site id 'depot'"),
    ("duplicate_zone", [SITE], [ZONE, ZONE], r"site 'depot': duplicate zone id 'lot'"),
    (
        "unknown_kind",
        [SITE],
        [{**ZONE, "kind": "missile_silo"}],
        r"zone 'lot' of site 'depot': unknown zone kind 'missile_silo'; use one of parking, rail_yard",
    ),
    ("unknown_class", [SITE], [{**ZONE, "classes": ["tank"]}], r"unknown class 'tank'"),
    (
        "out_of_range",
        [{**SITE, "geometry": rect(-194.5, 37.065, -194.48, 37.08)}],
        [],
        r"coordinate \(-194\.5, 37\.065\) is out of range for lon/lat",
    ),
    (
        "swapped",
        [{**SITE, "geometry": rect(37.065, 124.70, 37.08, 124.72)}],
        [],
        r"coordinate \(37\.065, 124\.7\) is out of range; it looks like \(lat, lon\)",
    ),
    ("empty_geometry", [{**SITE, "geometry": None}], [], r"site 'depot': empty geometry"),
    (
        "empty_polygon",
        [{**SITE, "geometry": {"type": "Polygon", "coordinates": []}}],
        [],
        r"site 'depot': empty geometry",
    ),
    (
        "too_large",
        [{**SITE, "geometry": rect(-95.0, 37.0, -94.0, 38.0)}],
        [],
        r"site 'depot': area 9\d{3}\.\d km² is over the maximum of 100 km²",
    ),
    (
        "zone_unknown_site",
        [SITE],
        [{**ZONE, "site": "nowhere"}],
        r"zone 'lot' names unknown site 'nowhere'",
    ),
    ("bad_slug", [{**SITE, "id": "Depot One"}], [], r"site id 'Depot One' is not a slug"),
]


@pytest.mark.parametrize(("case", "sites", "zones", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_watchlist_exit_2_one_line_store_unchanged(
    cli: Callable[..., Any],
    write_watchlist: Callable[..., Path],
    home: Path,
    case: str,
    sites: list[dict[str, Any]],
    zones: list[dict[str, Any]],
    message: str,
) -> None:
    cli(
        "sites",
        "import",
        str(write_watchlist(watchlist_doc([{**SITE, "id": "keep"}]), "keep.geojson")),
    )
    before = store_snapshot(home)
    path = write_watchlist(watchlist_doc(sites, zones), f"{case}.geojson")
    r = cli("sites", "import", str(path))
    assert r.code == 2
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith(f"error: {path}: ")
    import re

    assert re.search(message, lines[0]), lines[0]
    assert store_snapshot(home) == before


def test_not_yaml_or_json(cli: Callable[..., Any], tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("sites: [unclosed")
    r = cli("sites", "import", str(p))
    assert r.code == 2 and f"error: {p}: not valid YAML or JSON" in r.err


def test_unknown_site_id(
    cli: Callable[..., Any], write_watchlist: Callable[..., Path], home: Path
) -> None:
    cli("sites", "import", str(write_watchlist(watchlist_doc([SITE]))))
    before = store_snapshot(home)
    r = cli("sites", "show", "nope")
    assert r.code == 2
    assert r.err.strip() == "error: unknown site id 'nope' (known sites: depot)"
    assert cli("chips", "nope").code == 2
    assert store_snapshot(home) == before


def test_verbose_adds_traceback(cli: Callable[..., Any]) -> None:
    r = cli("-v", "sites", "show", "nope")
    assert r.code == 2 and "Traceback" in r.err


def test_shipped_watchlists_are_valid(cli: Callable[..., Any]) -> None:
    root = Path(__file__).resolve().parents[2] / "examples"
    for path in [root / "watchlists" / "sohae.geojson", root / "demo" / "watchlist.geojson"]:
        r = cli("sites", "import", str(path))
        assert r.code == 0, r.err
    sohae = json.loads(cli("sites", "show", "sohae", "--json").out)
    assert all(z["approximate"] for z in sohae["zones"])
    assert {z["kind"] for z in sohae["zones"]} >= {
        "launch_pad",
        "test_stand",
        "rail_yard",
        "propellant_storage",
    }
