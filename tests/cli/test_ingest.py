"""`sitewatch ingest`: metadata, idempotence, atomicity, and every bad-input case (exit 2, one line, store unchanged)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import MakeTiff, rect, store_snapshot, watchlist_doc

# a site around the default fixture raster (EPSG:32615, origin 366700 E 4104400 N, 100 m x 80 m)
SITE = {"id": "depot", "geometry": rect(-94.5005, 37.0750, -94.4975, 37.0775)}


@pytest.fixture
def with_site(cli: Callable[..., Any], write_watchlist: Callable[..., Path]) -> None:
    assert cli("sites", "import", str(write_watchlist(watchlist_doc([SITE])))).code == 0


def test_ingest_records_metadata(
    cli: Callable[..., Any], make_tiff: MakeTiff, with_site: None
) -> None:
    p = make_tiff(tags={"SENSOR": "TestSat-1", "OFF_NADIR": "12.5", "SUN_ELEVATION": "41"})
    r = cli("ingest", str(p), "--json")
    assert r.code == 0, r.err
    (item,) = json.loads(r.out)
    assert item["outcome"] == "added"
    scene = json.loads(cli("scenes", "show", item["scene"], "--json").out)
    assert scene["crs"] == "EPSG:32615" and scene["gsd_m"] == pytest.approx(0.5, rel=1e-3)
    assert scene["acquired_at"] == "2019-02-22T10:30:00+00:00"
    assert (scene["sensor"], scene["off_nadir_deg"], scene["sun_elevation_deg"]) == (
        "TestSat-1",
        12.5,
        41.0,
    )
    assert scene["bands"] == 3 and scene["dtype"] == "uint8"
    import hashlib

    assert scene["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()


def test_footprint_follows_nodata_not_bbox(
    cli: Callable[..., Any], make_tiff: MakeTiff, with_site: None
) -> None:
    data = np.full((1, 160, 200), 50, np.uint16)
    data[:, :, 100:] = 0  # east half is nodata
    p = make_tiff(data=data, dtype="uint16", bands=1, nodata=0)
    item = json.loads(cli("ingest", str(p), "--json").out)[0]
    scene = json.loads(cli("scenes", "show", item["scene"], "--json").out)
    from shapely.geometry import shape

    from sitewatch.geo.crs import reproject_geometry

    utm = reproject_geometry(shape(scene["footprint"]), "EPSG:4326", "EPSG:32615")
    w, s, e, n = utm.bounds
    assert (w, s, e, n) == pytest.approx((366700.0, 4104320.0, 366750.0, 4104400.0), abs=0.01)


def test_float32_with_alpha_and_internal_mask(
    cli: Callable[..., Any], make_tiff: MakeTiff, with_site: None
) -> None:
    f = make_tiff(dtype="float32", bands=2, data=np.ones((2, 160, 200), np.float32))
    a = make_tiff(
        bands=4,
        data=np.dstack([np.full((160, 200), v, np.uint8) for v in (10, 20, 30, 255)]).transpose(
            2, 0, 1
        ),
    )
    r = cli("ingest", str(f), str(a), "--json")
    assert r.code == 0, r.err
    assert [i["outcome"] for i in json.loads(r.out)] == ["added", "added"]


def test_ingest_twice_is_idempotent(
    cli: Callable[..., Any], make_tiff: MakeTiff, with_site: None, home: Path
) -> None:
    p = make_tiff()
    assert cli("ingest", str(p)).code == 0
    before = store_snapshot(home)
    r = cli("ingest", str(p), "--json")
    assert r.code == 0
    assert json.loads(r.out)[0]["outcome"] == "known"
    assert store_snapshot(home) == before


def test_scene_over_no_site_is_recorded_not_an_error(
    cli: Callable[..., Any], make_tiff: MakeTiff, with_site: None
) -> None:
    far = make_tiff(origin=(500000.0, 5000000.0))
    near = make_tiff()
    r = cli("ingest", str(far), str(near), "--json")
    assert r.code == 0, r.err
    assert [i["outcome"] for i in json.loads(r.out)] == ["no_site", "added"]
    assert len(json.loads(cli("scenes", "list", "--json").out)) == 2
    assert len(json.loads(cli("scenes", "list", "--site", "depot", "--json").out)) == 1


def test_folder_recursive_and_stac_item_collection(
    cli: Callable[..., Any], make_tiff: MakeTiff, with_site: None, tmp_path: Path
) -> None:
    sub = tmp_path / "deliveries" / "a"
    sub.mkdir(parents=True)
    t1 = make_tiff("deliveries/a/one.tif", datetime_tag=None)
    make_tiff("deliveries/two.tif", seed=3)
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "scene-one",
        "bbox": [0, 0, 1, 1],
        "geometry": rect(0, 0, 1, 1),
        "properties": {
            "datetime": "2019-03-01T02:03:04Z",
            "platform": "sat-x",
            "view:off_nadir": 7.0,
            "view:sun_elevation": 33.0,
        },
        "assets": {
            "image": {
                "href": "a/one.tif",
                "type": "image/tiff; application=geotiff",
                "roles": ["data"],
            },
            "thumb": {"href": "a/one.png", "roles": ["thumbnail"]},
        },
        "links": [],
    }
    (tmp_path / "deliveries" / "items.json").write_text(
        json.dumps({"type": "FeatureCollection", "features": [item]})
    )
    r = cli("ingest", str(tmp_path / "deliveries"), "--json")
    assert r.code == 0, r.err
    items = json.loads(r.out)
    assert sorted(Path(i["path"]).name for i in items) == ["one.tif", "two.tif"]
    stac_scene = next(i["scene"] for i in items if i["path"] == str(t1))
    s = json.loads(cli("scenes", "show", stac_scene, "--json").out)
    assert (s["acquired_at"], s["sensor"], s["off_nadir_deg"], s["stac_item_id"]) == (
        "2019-03-01T02:03:04+00:00",
        "sat-x",
        7.0,
        "scene-one",
    )


def test_stac_item_and_catalog(
    cli: Callable[..., Any], make_tiff: MakeTiff, with_site: None, tmp_path: Path
) -> None:
    import pystac

    tif = make_tiff("cat/img.tif", datetime_tag=None)
    cat = pystac.Catalog(id="deliveries", description="test")
    item = pystac.Item(
        id="it-1",
        geometry=rect(0, 0, 1, 1),
        bbox=[0, 0, 1, 1],
        datetime=None,
        properties={
            "start_datetime": "2020-01-01T00:00:00Z",
            "end_datetime": "2020-01-01T00:01:00Z",
        },
    )
    item.add_asset(
        "data", pystac.Asset(href=str(tif), media_type=pystac.MediaType.GEOTIFF, roles=["data"])
    )
    cat.add_item(item)
    cat.normalize_and_save(str(tmp_path / "cat"), catalog_type=pystac.CatalogType.SELF_CONTAINED)
    r = cli("ingest", str(tmp_path / "cat" / "catalog.json"), "--json")
    assert r.code == 0, r.err
    (out,) = json.loads(r.out)
    s = json.loads(cli("scenes", "show", out["scene"], "--json").out)
    assert s["acquired_at"] == "2020-01-01T00:00:00+00:00" and s["stac_item_id"] == "it-1"
    item_path = next((tmp_path / "cat").rglob("it-1.json"))
    assert json.loads(cli("ingest", str(item_path), "--json").out)[0]["outcome"] == "known"


def _bad_cases(tmp_path: Path, make_tiff: MakeTiff) -> list[tuple[str, list[str], str]]:
    text = tmp_path / "notes.tif"
    text.write_text("this is not a raster")
    good = make_tiff("good.tif")
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    from rasterio.shutil import copy as rio_copy

    big = make_tiff("big.tif", size=(600, 600))
    cog = tmp_path / "big_cog.tif"  # a COG keeps its directory first, so a cut loses tiles only
    rio_copy(big, cog, driver="COG", overviews="NONE")
    cut = tmp_path / "cut.tif"
    cut.write_bytes(cog.read_bytes()[: int(cog.stat().st_size * 0.8)])
    no_crs = make_tiff("nocrs.tif", crs=None)
    no_transform = make_tiff("notransform.tif", georef=False)
    no_time = make_tiff("notime.tif", datetime_tag=None)
    missing_asset = tmp_path / "item.json"
    missing_asset.write_text(
        json.dumps(
            {
                "type": "Feature",
                "stac_version": "1.0.0",
                "id": "lost",
                "bbox": [0, 0, 1, 1],
                "geometry": rect(0, 0, 1, 1),
                "properties": {"datetime": "2019-01-01T00:00:00Z"},
                "assets": {
                    "image": {"href": "gone.tif", "type": "image/tiff; application=geotiff"}
                },
                "links": [],
            }
        )
    )
    return [
        ("not_a_raster", [str(text)], rf"^error: {text}: not a raster GDAL can read"),
        ("truncated", [str(truncated)], rf"^error: {truncated}: truncated or corrupt"),
        (
            "truncated_tiled",
            [str(cut)],
            rf"^error: {cut}: truncated or corrupt GeoTIFF: block \(\d, \d\) of band 1 ends at byte \d+ but the file has \d+ bytes",
        ),
        ("no_crs", [str(no_crs)], rf"^error: {no_crs}: no CRS; assign one first"),
        ("no_transform", [str(no_transform)], rf"^error: {no_transform}: no CRS"),
        (
            "no_time",
            [str(no_time)],
            rf"^error: {no_time}: no acquisition time found .*give one with --acquired YYYY-MM-DD",
        ),
        (
            "missing_asset",
            [str(missing_asset)],
            rf"^error: {missing_asset}: item 'lost' asset 'image' is missing: .*gone.tif does not exist",
        ),
        (
            "missing_path",
            [str(tmp_path / "nowhere.tif")],
            rf"^error: {tmp_path / 'nowhere.tif'}: no such file or folder",
        ),
        (
            "bad_acquired",
            [str(no_time), "--acquired", "yesterday"],
            r"^error: 'yesterday' is not a date or time",
        ),
    ]


CASES = [
    "not_a_raster",
    "truncated",
    "truncated_tiled",
    "no_crs",
    "no_transform",
    "no_time",
    "missing_asset",
    "missing_path",
    "bad_acquired",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exit_2_one_line_store_unchanged(
    case: str,
    cli: Callable[..., Any],
    make_tiff: MakeTiff,
    with_site: None,
    home: Path,
    tmp_path: Path,
) -> None:
    import re

    assert cli("ingest", str(make_tiff("already.tif", seed=9))).code == 0
    cases = {name: (args, pattern) for name, args, pattern in _bad_cases(tmp_path, make_tiff)}
    args, pattern = cases[case]
    before = store_snapshot(home)
    r = cli("ingest", *args)
    assert r.code == 2, (r.out, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert re.search(pattern, lines[0]), lines[0]
    assert store_snapshot(home) == before


def test_acquired_option_fills_missing_time(
    cli: Callable[..., Any], make_tiff: MakeTiff, with_site: None
) -> None:
    p = make_tiff(datetime_tag=None)
    r = cli("ingest", str(p), "--acquired", "2011-05-25", "--json")
    assert r.code == 0, r.err
    s = json.loads(cli("scenes", "show", json.loads(r.out)[0]["scene"], "--json").out)
    assert s["acquired_at"] == "2011-05-25T00:00:00+00:00"


def test_batch_goes_on_past_a_bad_file(
    cli: Callable[..., Any], make_tiff: MakeTiff, with_site: None, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.tif"
    bad.write_text("nope")
    good = make_tiff()
    r = cli("ingest", str(bad), str(good))
    assert r.code == 2
    assert len(json.loads(cli("scenes", "list", "--json").out)) == 1
    runs = json.loads(cli("runs", "list", "--json").out)
    assert runs[0]["status"] == "failed" and runs[0]["failed"][0][0] == str(bad)


def test_crash_mid_ingest_leaves_no_partial_scene(
    make_tiff: MakeTiff,
    home: Path,
    write_watchlist: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sitewatch.errors import StoreError
    from sitewatch.pipeline.ingest import ingest_paths
    from sitewatch.pipeline.sites import import_sites
    from sitewatch.store import open_store
    from sitewatch.store import sqlite as sq

    store = open_store(home)
    import_sites(write_watchlist(watchlist_doc([SITE])), store, 100.0)
    before = store_snapshot(home)

    def boom(conn: Any, coverage: Any) -> None:  # the scene row is written, the coverage fails
        raise StoreError("disk gone")

    monkeypatch.setattr(sq.SqliteStore, "_insert_coverage", staticmethod(boom))
    result = ingest_paths([make_tiff()], store)
    assert result.items[0].outcome == "failed" and "disk gone" in result.items[0].message
    assert store_snapshot(home) == before
    assert store.list_scenes() == []
