"""Shared fixtures: tiny GeoTIFFs made on the spot (so ground truth is exact), a store, a CLI runner."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine

from sitewatch.cli.app import main

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
JOPLIN = SHARED_DATA / "joplin_prepost_georef"


def require_shared(path: Path) -> Path:
    """Skip (with the reason) when the shared real-imagery folder is absent."""
    if not path.exists():
        pytest.skip(
            f"real imagery not available: {path} is absent (it sits beside the checkout in CI)"
        )
    return path


MakeTiff = Callable[..., Path]


@pytest.fixture
def make_tiff(tmp_path: Path) -> MakeTiff:
    """Write a GeoTIFF with a chosen CRS, transform, dtype, bands, nodata and painted content."""
    counter = {"n": 0}

    def _make(
        name: str | None = None,
        *,
        crs: str | None = "EPSG:32615",
        origin: tuple[float, float] = (366700.0, 4104400.0),
        res: float = 0.5,
        size: tuple[int, int] = (200, 160),
        bands: int = 3,
        dtype: str = "uint8",
        nodata: float | None = None,
        data: np.ndarray[Any, Any] | None = None,
        datetime_tag: str | None = "2019:02:22 10:30:00",
        georef: bool = True,
        tags: dict[str, str] | None = None,
        seed: int = 0,
        **profile: Any,
    ) -> Path:
        counter["n"] += 1
        path = tmp_path / (name or f"img{counter['n']}.tif")
        w, h = size
        if data is None:
            rng = np.random.default_rng(seed)
            scale = 200 if dtype == "uint8" else 2000
            data = (rng.random((bands, h, w)) * scale).astype(dtype)
        path.parent.mkdir(parents=True, exist_ok=True)
        kw: dict[str, Any] = {
            "driver": "GTiff",
            "width": w,
            "height": h,
            "count": data.shape[0],
            "dtype": dtype,
            "nodata": nodata,
        }
        if georef:
            kw["crs"] = crs
            kw["transform"] = Affine(res, 0.0, origin[0], 0.0, -res, origin[1])
        kw.update(profile)
        with rasterio.open(path, "w", **kw) as ds:
            ds.write(data)
            all_tags = dict(tags or {})
            if datetime_tag:
                all_tags["TIFFTAG_DATETIME"] = datetime_tag
            if all_tags:
                ds.update_tags(**all_tags)
        return path

    return _make


def rect(w: float, s: float, e: float, n: float) -> dict[str, Any]:
    """A GeoJSON Polygon for a box."""
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def watchlist_doc(
    sites: list[dict[str, Any]], zones: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A GeoJSON watchlist from site and zone property dicts that carry a 'geometry'."""
    feats = []
    for role, items in (("site", sites), ("zone", zones or [])):
        for props in items:
            p = {k: v for k, v in props.items() if k != "geometry"}
            feats.append(
                {
                    "type": "Feature",
                    "geometry": props["geometry"],
                    "properties": {"role": role, **p},
                }
            )
    return {"type": "FeatureCollection", "features": feats}


@pytest.fixture
def write_watchlist(tmp_path: Path) -> Callable[..., Path]:
    """Write a watchlist document to a file and return its path."""

    def _write(doc: dict[str, Any], name: str = "watchlist.geojson") -> Path:
        p = tmp_path / name
        p.write_text(json.dumps(doc))
        return p

    return _write


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty sitewatch home folder."""
    return tmp_path / "home"


class CliResult:
    """What one CLI invocation returned and printed."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(home: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run `sitewatch --home HOME ...` in-process and return exit code, stdout and stderr."""

    def _run(*args: str) -> CliResult:
        code = 0
        try:
            main(["--home", str(home), *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return _run


def store_snapshot(home: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every content table (not the run log) of the store, for before/after checks."""
    db = home / "sitewatch.db"
    if not db.exists():
        return {}
    con = sqlite3.connect(db)
    try:
        tables = [
            r[0]
            for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if r[0] not in ("runs", "alembic_version")
        ]
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    finally:
        con.close()
