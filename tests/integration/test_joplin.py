"""Acceptance on real imagery: the Joplin pre (EPSG:26915) and post (EPSG:4326) tiles.

The tiles carry no acquisition time; the test gives 2010-06-01 (pre) and 2011-05-25 (post).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform as warp_transform

from tests.conftest import JOPLIN, rect, require_shared, store_snapshot, watchlist_doc

pytestmark = pytest.mark.real_data

SITE = {"id": "joplin", "gsd_m": 0.6, "geometry": rect(-94.498, 37.067, -94.487, 37.075)}
ZONES = [
    {
        "id": "west",
        "site": "joplin",
        "kind": "parking",
        "geometry": rect(-94.4975, 37.068, -94.494, 37.072),
    },
    {
        "id": "east",
        "site": "joplin",
        "kind": "other",
        "geometry": rect(-94.492, 37.0705, -94.4875, 37.0745),
    },
]


@pytest.fixture
def joplin(cli: Callable[..., Any], write_watchlist: Callable[..., Path]) -> dict[str, Any]:
    require_shared(JOPLIN)
    assert cli("sites", "import", str(write_watchlist(watchlist_doc([SITE], ZONES)))).code == 0
    pre = cli("ingest", str(JOPLIN / "pre"), "--acquired", "2010-06-01", "--json")
    post = cli("ingest", str(JOPLIN / "post"), "--acquired", "2011-05-25", "--json")
    assert pre.code == 0 and post.code == 0, pre.err + post.err
    return {"pre": json.loads(pre.out), "post": json.loads(post.out)}


def _corners_wgs84(path: str) -> list[tuple[float, float]]:
    with rasterio.open(path) as ds:
        xs = [ds.bounds.left, ds.bounds.right, ds.bounds.right, ds.bounds.left]
        ys = [ds.bounds.top, ds.bounds.top, ds.bounds.bottom, ds.bounds.bottom]
        lon, lat = warp_transform(ds.crs, "EPSG:4326", xs, ys)
        return list(zip(lon, lat, strict=True))


def test_ten_scenes_with_exact_footprints(joplin: dict[str, Any], cli: Callable[..., Any]) -> None:
    items = joplin["pre"] + joplin["post"]
    assert len(items) == 10 and {i["outcome"] for i in items} == {"added"}
    for item in items:
        scene = json.loads(cli("scenes", "show", item["scene"], "--json").out)
        ring = scene["footprint"]["coordinates"][0]
        px_deg = 0.6 / 111_000 if scene["crs"] == "EPSG:26915" else 6e-6
        for lon, lat in _corners_wgs84(item["path"]):
            nearest = min(np.hypot((lon - x) * np.cos(np.radians(lat)), lat - y) for x, y in ring)
            assert nearest < px_deg, (item["path"], lon, lat, nearest)
        # 0.6 m (pre); 6e-6 deg is 0.53 m x 0.67 m at 37 N (post)
        assert scene["gsd_m"] == pytest.approx(0.6, abs=0.07)


def test_zone_coverage(joplin: dict[str, Any]) -> None:
    # the west zone lies in the western pre tiles and the western post tiles; check sums per date
    for date in ("pre", "post"):
        per_zone: dict[str, float] = {}
        for item in joplin[date]:
            for c in item["coverage"]:
                if c["zone"]:
                    per_zone[c["zone"]] = per_zone.get(c["zone"], 0.0) + c["covered_fraction"]
        # tiles of one date do not overlap, so each zone's fractions add up to what the date covers
        assert per_zone["east"] == pytest.approx(1.0, abs=1e-3)
        assert per_zone["west"] == pytest.approx(1.0, abs=1e-3)


def test_ingest_again_changes_nothing(
    joplin: dict[str, Any], cli: Callable[..., Any], home: Path
) -> None:
    before = store_snapshot(home)
    r = cli("ingest", str(JOPLIN), "--acquired", "2010-06-01", "--json")
    assert r.code == 0
    assert {i["outcome"] for i in json.loads(r.out)} == {"known"}
    assert store_snapshot(home) == before


def test_pre_and_post_chips_line_up(
    joplin: dict[str, Any], cli: Callable[..., Any], tmp_path: Path
) -> None:
    r = cli("chips", "joplin", "--out", str(tmp_path / "chips"), "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    chips = {c["key"]: c for c in out["chips"]}
    assert set(chips) == {"20100601", "20110525"}
    profiles = []
    for c in chips.values():
        with rasterio.open(c["tif"]) as ds:
            profiles.append((ds.crs.to_epsg(), ds.transform, ds.shape, ds.count))
            assert ds.overviews(1), "chip is a COG with overviews"
            valid = float((ds.dataset_mask() > 0).mean())
            assert valid == pytest.approx(c["valid_fraction"], abs=1e-6)  # the mask round-trips
            assert valid > 0.98
    assert profiles[0] == profiles[1]
    (g,) = out["coregistration"]
    before = float(np.hypot(*g["shift_px"]))
    after = float(np.hypot(*g["residual_px"]))
    print(
        f"joplin pre->post shift before {g['shift_px']} px ({before:.2f}), after {g['residual_px']} px ({after:.2f}), confidence {g['confidence']}"
    )
    assert g["accepted"]
    assert after < 2.0
    assert after < before
