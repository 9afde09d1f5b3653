"""The SQLite store: migrations, WAL, round trips, transactions."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from shapely.geometry import box

from sitewatch.core.models import Coverage, Scene, Site, Zone, ZoneKind
from sitewatch.errors import NotFoundError, StoreError
from sitewatch.geo.grid import grid_for_site
from sitewatch.store import open_store


def _scene(sid: str = "sc-1") -> Scene:
    return Scene(
        id=sid,
        sha256=sid.ljust(64, "0"),
        path="/x.tif",
        crs_wkt="",
        crs_label="EPSG:32615",
        width=10,
        height=10,
        band_count=3,
        dtype="uint8",
        nodata=None,
        gsd_m=0.5,
        footprint=box(0, 0, 0.01, 0.01),
        acquired_at=datetime(2019, 2, 22, 10, 30, tzinfo=UTC),
    )


def _site() -> Site:
    z = Zone(id="z", site_id="s", kind=ZoneKind.PARKING, geometry=box(0.001, 0.001, 0.002, 0.002))
    return Site(id="s", name="S", geometry=box(0, 0, 0.01, 0.01), zones=(z,))


def test_migrated_schema_and_wal(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.close()
    con = sqlite3.connect(tmp_path / "sitewatch.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0003"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "sites",
        "zones",
        "scenes",
        "coverage",
        "zone_quality",
        "chips",
        "coregistrations",
        "runs",
        "detection_sets",
        "detections",
    } <= tables
    open_store(tmp_path).close()  # opening again is a no-op migration


def test_round_trip(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    site = _site()
    store.upsert_sites([(site, grid_for_site(site))])
    store.add_scene(_scene(), [Coverage("sc-1", "s", None, 1.0), Coverage("sc-1", "s", "z", 1.0)])
    back = store.get_scene("sc-1")
    assert back.acquired_at == datetime(2019, 2, 22, 10, 30, tzinfo=UTC)
    assert back.footprint.equals(box(0, 0, 0.01, 0.01))
    assert store.get_site("s").zones[0].kind is ZoneKind.PARKING
    assert store.get_grid("s") == grid_for_site(site)
    assert [s.id for s in store.list_scenes("s")] == ["sc-1"]


def test_duplicate_scene_rolls_back_whole_transaction(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    site = _site()
    store.upsert_sites([(site, grid_for_site(site))])
    store.add_scene(_scene(), [])
    with pytest.raises(StoreError, match="store operation failed"):
        store.add_scene(_scene(), [Coverage("sc-1", "s", None, 1.0)])
    assert store.list_coverage() == []


def test_unknown_ids(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with pytest.raises(NotFoundError, match="unknown site id 'x' \\(no sites yet"):
        store.get_site("x")
    with pytest.raises(NotFoundError, match="unknown scene id 'sc-9'"):
        store.get_scene("sc-9")


def test_naive_datetime_is_refused(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    bad = _scene().__class__(**{**_scene().__dict__, "acquired_at": datetime(2019, 1, 1)})
    with pytest.raises(StoreError, match="naive datetime"):
        store.add_scene(bad, [])
