"""`sitewatch demo` end to end: bundled real imagery and a generated facility through detection,
analysis, alerts, exports and the report; a second demo changes nothing."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.mark.slow
def test_demo_runs_the_whole_job(cli: Callable[..., Any], home: Path) -> None:
    r = cli("demo")
    assert r.code == 0, r.err
    out = r.out
    for step in (
        "1. watchlist",
        "2. ingest",
        "3. chips",
        "4. generated facility",
        "5. run",
        "6. alerts",
    ):
        assert step in out
    assert "nd-wetlands: not detected" in out  # 5 m imagery is outside the model's range
    report = re.search(r"report\s+(\S+\.html)", out)
    assert report and Path(report.group(1)).stat().st_size > 50_000
    assert Path(report.group(1)).with_suffix(".pdf").exists()
    exports = re.search(r"exports (\S+)", out)
    assert exports and {p.name for p in Path(exports.group(1)).iterdir()} >= {
        "zones.gpkg",
        "detections.gpkg",
        "detections.kml",
        "timeseries.csv",
    }
    con = sqlite3.connect(home / "sitewatch.db")
    n_sets = con.execute("SELECT count(*) FROM detection_sets").fetchone()[0]
    n_obs = con.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert n_sets > 20 and n_obs > 100
    con.close()
    before = _state(home)
    r = cli("demo")
    assert r.code == 0 and "sites analysed 0" in r.out
    assert _state(home) == before


def _state(home: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every content row, without the columns that only say when a row was (re)written."""
    con = sqlite3.connect(home / "sitewatch.db")
    try:
        out = {}
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            if table in ("runs", "alembic_version", "site_state"):
                continue
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            keep = [c for c in cols if not c.endswith("_at")]
            out[table] = sorted(con.execute(f"SELECT {', '.join(keep)} FROM {table}"), key=repr)
        return out
    finally:
        con.close()
