"""`sitewatch simulate`: georeferenced dated images with nuisances and a truth that matches the
script (campaign ramps, quiet series, clouds, misregistration, two sensors)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from sitewatch.simulate.scenario import ScenarioKind, ScenarioOptions, plan_series


def test_campaign_script_and_quiet_series() -> None:
    camp = plan_series(ScenarioOptions(kind=ScenarioKind.CAMPAIGN, seed=4))
    quiet = plan_series(ScenarioOptions(kind=ScenarioKind.QUIET, seed=4))
    event = date(2018, 6, 1).toordinal() + 200

    def lv(plans: list[Any], lo: int, hi: int) -> list[int]:
        return [
            p.counts[("assembly", "large_vehicle")]
            for p in plans
            if lo <= p.day.toordinal() - event <= hi
        ]

    assert max(lv(camp, -10, 0)) >= 8 and max(lv(camp, -200, -40)) <= 6
    assert max(lv(quiet, -10, 0), default=0) <= 6
    rail = [
        p.counts[("rail-yard", "rail_car")] for p in camp if -28 <= p.day.toordinal() - event <= -8
    ]
    assert rail and min(rail) >= 5
    assert all(p.counts[("rail-yard", "rail_car")] == 0 for p in quiet)
    gaps = np.diff([p.day.toordinal() for p in camp])
    assert gaps.min() >= 2 and len(set(gaps.tolist())) > 3  # irregular revisits
    assert {p.sensor.name for p in camp} == {"SimSat-A", "SimSat-B"}
    assert {p.cloud for p in camp} >= {"none", "partial"}


def test_simulate_writes_georeferenced_series_with_truth(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    out = tmp_path / "sim"
    r = cli("simulate", str(out), "--seed", "3", "--days", "60", "--event-day", "50", "--json")
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    truth = json.loads(Path(summary["truth"]).read_text())
    scenes = sorted((out / "scenes").glob("*.tif"))
    assert len(scenes) == summary["scenes"] == len(truth["images"]) >= 4
    assert truth["generated"] is True and truth["kind"] == "campaign"
    crs_seen = set()
    for path, image in zip(scenes, truth["images"], strict=True):
        with rasterio.open(path) as ds:
            assert ds.crs is not None and abs(ds.res[0] - image["gsd_m"]) < 1e-9
            tags = ds.tags()
            assert tags["SENSOR"] == image["sensor"] and tags["SITEWATCH_GENERATED"] == "yes"
            assert tags["TIFFTAG_DATETIME"].startswith(image["date"].replace("-", ":"))
            crs_seen.add(ds.crs.to_epsg())
            data = ds.read()
            if image["cloud"] == "full":
                assert data.mean() > 200
    assert len(crs_seen) == 2  # the background's CRS and the WGS84 UTM zone
    doc = json.loads(Path(summary["watchlist"]).read_text())
    kinds = {
        f["properties"].get("kind") for f in doc["features"] if f["properties"]["role"] == "zone"
    }
    assert kinds == {"assembly", "rail_yard", "propellant_storage", "parking", "launch_pad"}
    # the series ingests: every image covers the site
    assert cli("sites", "import", summary["watchlist"]).code == 0
    r = cli("ingest", str(out / "scenes"), "--json")
    items = json.loads(r.out)
    assert r.code == 0 and all(x["outcome"] == "added" for x in items)
    assert all({c["site"] for c in x["coverage"]} == {"facility"} for x in items)


def test_bad_options_exit_2(cli: Callable[..., Any], tmp_path: Path) -> None:
    assert cli("simulate", str(tmp_path), "--kind", "party").code == 2
    r = cli("simulate", str(tmp_path), "--days", "100", "--event-day", "150")
    assert r.code == 2 and "--event-day" in r.err
