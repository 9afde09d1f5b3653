"""Chips from the same ground in two CRSs land on the same pixels; mosaics; nodata kept."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.warp import calculate_default_transform, reproject

from tests.conftest import MakeTiff, rect, watchlist_doc

SITE = {"id": "depot", "gsd_m": 0.5, "geometry": rect(-94.4994, 37.0759, -94.4989, 37.0763)}


def _painted(n: int = 240) -> np.ndarray:
    img = np.full((3, n, n), 60, np.uint8)
    rng = np.random.default_rng(5)
    for _ in range(40):
        r, c = rng.integers(0, n - 20, 2)
        img[:, r : r + rng.integers(3, 20), c : c + rng.integers(3, 20)] = rng.integers(
            100, 250, (3, 1, 1)
        )
    return img


def _to_wgs84(src: Path, dst: Path) -> None:
    with rasterio.open(src) as ds:
        tr, w, h = calculate_default_transform(ds.crs, "EPSG:4326", ds.width, ds.height, *ds.bounds)
        prof = {
            **ds.profile,
            "crs": "EPSG:4326",
            "transform": tr,
            "width": w,
            "height": h,
            "nodata": 0,
        }
        with rasterio.open(dst, "w", **prof) as out:
            for b in range(1, ds.count + 1):
                reproject(
                    rasterio.band(ds, b),
                    rasterio.band(out, b),
                    resampling=rasterio.enums.Resampling.cubic,
                )
            out.update_tags(TIFFTAG_DATETIME="2019:03:01 10:00:00")


def test_two_crs_same_grid_and_small_residual(
    cli: Callable[..., Any],
    make_tiff: MakeTiff,
    write_watchlist: Callable[..., Path],
    tmp_path: Path,
) -> None:
    assert cli("sites", "import", str(write_watchlist(watchlist_doc([SITE])))).code == 0
    utm = make_tiff("utm.tif", data=_painted(), size=(240, 240), res=0.5)
    wgs = tmp_path / "wgs.tif"
    _to_wgs84(utm, wgs)
    assert cli("ingest", str(utm), str(wgs)).code == 0
    r = cli("chips", "depot", "--out", str(tmp_path / "chips"), "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert len(out["chips"]) == 2
    arrays = []
    for c in out["chips"]:
        with rasterio.open(c["tif"]) as ds:
            arrays.append((ds.transform, ds.shape, ds.crs.to_epsg(), ds.read(1).astype(float)))
    assert arrays[0][:3] == arrays[1][:3]
    (g,) = out["coregistration"]
    assert (
        abs(g["shift_px"][0]) < 0.5 and abs(g["shift_px"][1]) < 0.5
    )  # both dates are the same ground
    a, b = arrays[0][3], arrays[1][3]
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


def test_same_day_scenes_are_mosaicked(
    cli: Callable[..., Any],
    make_tiff: MakeTiff,
    write_watchlist: Callable[..., Path],
    tmp_path: Path,
) -> None:
    assert cli("sites", "import", str(write_watchlist(watchlist_doc([SITE])))).code == 0
    data = _painted()
    west = make_tiff("west.tif", data=data[:, :, :120].copy(), size=(120, 240))
    east = make_tiff(
        "east.tif", data=data[:, :, 120:].copy(), size=(120, 240), origin=(366760.0, 4104400.0)
    )
    assert cli("ingest", str(west), str(east)).code == 0
    out = json.loads(
        cli("chips", "depot", "--out", str(tmp_path / "c"), "--date", "2019-02-22", "--json").out
    )
    (chip,) = out["chips"]
    assert len(chip["scenes"]) == 2 and chip["valid_fraction"] == pytest.approx(1.0)


def test_nodata_is_kept_in_the_chip(
    cli: Callable[..., Any],
    make_tiff: MakeTiff,
    write_watchlist: Callable[..., Path],
    tmp_path: Path,
) -> None:
    assert cli("sites", "import", str(write_watchlist(watchlist_doc([SITE])))).code == 0
    data = _painted()
    data[:, :, 80:] = 0  # the site spans about columns 36-124
    p = make_tiff("half.tif", data=data, size=(240, 240), nodata=0)
    assert cli("ingest", str(p)).code == 0
    out = json.loads(cli("chips", "depot", "--out", str(tmp_path / "c"), "--json").out)
    (chip,) = out["chips"]
    assert 0.2 < chip["valid_fraction"] < 0.9
    with rasterio.open(chip["tif"]) as ds:
        assert float((ds.dataset_mask() > 0).mean()) == pytest.approx(
            chip["valid_fraction"], abs=1e-6
        )


def test_chips_for_a_site_without_scenes(
    cli: Callable[..., Any], write_watchlist: Callable[..., Path]
) -> None:
    assert cli("sites", "import", str(write_watchlist(watchlist_doc([SITE])))).code == 0
    r = cli("chips", "depot")
    assert r.code == 2 and "site 'depot' has no scenes yet" in r.err
