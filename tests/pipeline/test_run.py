"""`sitewatch run` on a generated facility with a known campaign: the expected indicators fire in
the right zones, cloudy dates are missing observations (never zeros), a second run does nothing,
quiet series raise no alert; timeline and the alert review commands."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyogrio
import pytest
from pyproj import CRS

from tests.conftest import store_snapshot
from tests.pipeline.series import blob_model, campaign, prepare


def _db(home: Path) -> sqlite3.Connection:
    con = sqlite3.connect(home / "sitewatch.db")
    con.row_factory = sqlite3.Row
    return con


def test_campaign_fires_the_right_indicators_in_the_right_zones(
    cli: Callable[..., Any], tmp_path: Path, home: Path
) -> None:
    plans = campaign()
    model = prepare(cli, tmp_path, plans)
    r = cli("run", "--model", str(model), "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["chips_made"] == len(plans) and out["detection_sets"] == len(plans)

    con = _db(home)
    # counts equal the painted truth on every usable date; the cloudy date is missing, not zero
    for plan in plans:
        for (zone, cls), n in plan.counts.items():
            row = con.execute(
                "SELECT count, usable, reason FROM observations WHERE zone_id=? AND object_class=? "
                "AND observed_on=?",
                (zone, cls, plan.day.isoformat()),
            ).fetchone()
            if zone in plan.cloudy:
                assert row["count"] is None and not row["usable"] and "cloud" in row["reason"]
            else:
                assert row["usable"] and row["count"] == n, (plan.day, zone, cls)
    cloudy_day = next(p.day for p in plans if p.cloudy).isoformat()
    assert (
        con.execute(
            "SELECT count(*) FROM scores WHERE observed_on=? AND zone_id='assembly'", (cloudy_day,)
        ).fetchone()[0]
        == 0
    )

    # the first campaign date: trucks anomalous at the hall, rail cars appeared in the yard
    first = next(p.day for p in plans if p.counts[("rail-yard", "rail_car")]).isoformat()
    row = con.execute(
        "SELECT likelihood, indicators, rationale FROM assessments WHERE as_of=? "
        "AND signature_id='launch-preparation'",
        (first,),
    ).fetchone()
    fired = {i["indicator_id"]: i for i in json.loads(row["indicators"]) if i["fired"]}
    assert set(fired) == {"vehicles-at-assembly", "rail-cars-arrive"}
    assert fired["vehicles-at-assembly"]["zone_ids"] == ["assembly"]
    assert fired["rail-cars-arrive"]["zone_ids"] == ["rail-yard"]
    assert row["likelihood"] in ("likely", "very_likely")
    assert "9 large vehicles at Assembly; usual 0-" in row["rationale"]
    # before the campaign nothing fired
    quiet = con.execute(
        "SELECT likelihood FROM assessments WHERE as_of<? AND signature_id='launch-preparation'",
        (first,),
    ).fetchall()
    assert quiet and {q[0] for q in quiet} <= {"remote", "unlikely"}

    # pixel change per zone between consecutive usable dates, polygons as GeoJSON
    pcs = con.execute("SELECT zone_id, changed_fraction, polygons FROM pixel_changes").fetchall()
    assert {p["zone_id"] for p in pcs} == {"assembly", "rail-yard", "parking"}
    for p in pcs:
        fc = json.loads(p["polygons"])
        assert fc["type"] == "FeatureCollection" and 0.0 <= p["changed_fraction"] <= 1.0
    cloudy = next(p.day for p in plans if p.cloudy).isoformat()
    per_zone = dict(
        con.execute(
            "SELECT zone_id, count(*) FROM pixel_changes WHERE before_on=? OR after_on=? "
            "GROUP BY zone_id",
            (cloudy, cloudy),
        ).fetchall()
    )
    # the cloudy date is skipped for the hall and kept (before and after) for the other zones
    assert per_zone == {"rail-yard": 2, "parking": 2}

    [alert] = con.execute("SELECT * FROM alerts").fetchall()
    assert alert["as_of"] == first and alert["level"] == "likely"
    evidence = json.loads(alert["evidence"])
    assert Path(evidence["chips"]["assembly"]).stat().st_size > 0
    assert Path(evidence["timelines"]["assembly/large_vehicle"]).stat().st_size > 0
    assert (
        evidence["model_id"] == "test-blobs" and evidence["rule_pack"] == "launch-preparation@1.0.0"
    )
    lines = (home / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(x)["alert"]["id"] for x in lines] == [alert["id"]]

    # exports read back with OGR: CRS and counts
    out = tmp_path / "exports"
    r = cli("export", "factory", "--out", str(out), "--json")
    assert r.code == 0, r.err
    files = json.loads(r.out)
    n_det = con.execute("SELECT count(*) FROM detections").fetchone()[0]
    n_change = sum(len(json.loads(p["polygons"])["features"]) for p in pcs)
    for stem, n in (("zones", 3), ("detections", n_det), ("changes", n_change)):
        gpkg = pyogrio.read_info(files[f"{stem}.gpkg"])
        assert CRS.from_user_input(gpkg["crs"]).to_epsg() == 32615 and gpkg["features"] == n
        for ext in ("geojson", "kml"):
            info = pyogrio.read_info(files[f"{stem}.{ext}"])
            assert CRS.from_user_input(info["crs"]).to_epsg() == 4326 and info["features"] == n
    with Path(files["timeseries.csv"]).open(newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == con.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert {
        row["count"] for row in table if row["date"] == cloudy and row["zone"] == "assembly"
    } == {""}
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    r = cli("export", "factory", "--out", str(blocked / "sub"))
    assert r.code == 2 and "cannot write here" in r.err and len(r.err.strip().splitlines()) == 1

    # a second run does nothing at all
    before = store_snapshot(home)
    r = cli("run", "--model", str(model), "--json")
    assert r.code == 0 and json.loads(r.out)["nothing_new"]
    assert store_snapshot(home) == before

    # timeline and the review loop
    r = cli("timeline", "factory", "--zone", "assembly", "--class", "large_vehicle", "--json")
    rows = json.loads(r.out)["observations"]
    assert [x["count"] for x in rows if x["date"] == cloudy_day] == [None]
    aid = alert["id"][:10]
    assert cli("alerts", "ack", aid, "--reviewer", "ana").code == 0
    assert cli("alerts", "confirm", aid, "--reviewer", "ana", "--note", "launch seen").code == 0
    r = cli("alerts", "dismiss", aid, "--reviewer", "bob")
    assert r.code == 2 and "cannot become dismissed" in r.err
    shown = json.loads(cli("alerts", "show", aid, "--json").out)
    assert shown["status"] == "confirmed" and [x["status"] for x in shown["reviews"]] == [
        "acknowledged",
        "confirmed",
    ]
    # a review survives a later run with new scenes (alerts are never re-derived)
    assert cli("run", "--model", str(model)).code == 0
    assert json.loads(cli("alerts", "show", aid, "--json").out)["status"] == "confirmed"


def test_counts_hold_when_chips_are_read_finer_than_the_grid(
    cli: Callable[..., Any], tmp_path: Path, home: Path
) -> None:
    """0.5 m chips read interpolated up to a 0.3 m working GSD: detections come back to the grid."""
    plans = campaign(n=6, event_at=5)
    prepare(cli, tmp_path, plans)
    model = blob_model(tmp_path / "fine-model", work_gsd_m=0.3)
    r = cli("run", "--model", str(model), "--json")
    assert r.code == 0, r.err
    con = _db(home)
    scales = {
        json.loads(row[0])["read_scale"] for row in con.execute("SELECT params FROM detection_sets")
    }
    assert scales == {0.6}
    for plan in plans:
        for (zone, cls), n in plan.counts.items():
            row = con.execute(
                "SELECT count, usable FROM observations WHERE zone_id=? AND object_class=? "
                "AND observed_on=?",
                (zone, cls, plan.day.isoformat()),
            ).fetchone()
            if zone not in plan.cloudy:
                assert row["usable"] and row["count"] == n, (plan.day, zone, cls, row["count"])


def test_quiet_series_raises_no_alert(cli: Callable[..., Any], tmp_path: Path, home: Path) -> None:
    plans = campaign(event_at=99)
    model = prepare(cli, tmp_path, plans)
    r = cli("run", "--model", str(model), "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["new_alerts"] == []


def test_new_scenes_are_picked_up(cli: Callable[..., Any], tmp_path: Path, home: Path) -> None:
    plans = campaign(n=8, event_at=99)
    model = prepare(cli, tmp_path, plans[:6])
    assert cli("run", "--model", str(model)).code == 0
    from tests.pipeline.series import write_scenes

    write_scenes(tmp_path / "more", plans[6:])
    assert cli("ingest", str(tmp_path / "more")).code == 0
    out = json.loads(cli("run", "--model", str(model), "--json").out)
    assert (
        out["chips_made"] == 2
        and out["detection_sets"] == 2
        and out["sites_analysed"] == ["factory"]
    )
    n = _db(home).execute("SELECT count(DISTINCT observed_on) FROM observations").fetchone()[0]
    assert n == 8


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "pack: x\nversion: '1'\nindicators: []\nsignatures: []\n",
            "field 'signatures': the pack has no signature",
        ),
        ("pack: [unclosed\n", "cannot read it"),
    ],
)
def test_bad_rule_pack_exits_2_naming_the_problem(
    cli: Callable[..., Any], tmp_path: Path, text: str, match: str
) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    r = cli("run", "--rules", str(p))
    assert r.code == 2 and match in r.err


def test_reimported_zones_keep_quality_and_changed_zones_are_judged_again(
    cli: Callable[..., Any], tmp_path: Path, home: Path
) -> None:
    plans = campaign(n=6, event_at=99)
    model = prepare(cli, tmp_path, plans)
    assert cli("run", "--model", str(model)).code == 0
    wl = tmp_path / "factory.geojson"
    assert cli("sites", "import", str(wl)).code == 0
    assert json.loads(cli("run", "--model", str(model), "--json").out)["nothing_new"]
    doc = json.loads(wl.read_text())
    ring = doc["features"][1]["geometry"]["coordinates"][0]
    doc["features"][1]["geometry"]["coordinates"][0] = [[x + 0.00001, y] for x, y in ring]
    wl.write_text(json.dumps(doc))
    assert cli("sites", "import", str(wl)).code == 0
    out = json.loads(cli("run", "--model", str(model), "--json").out)
    assert out["chips_made"] == len(plans) and out["sites_analysed"] == ["factory"]
    con = _db(home)
    assert (
        con.execute("SELECT count(*) FROM observations WHERE reason LIKE 'no scene%'").fetchone()[0]
        == 0
    )


@pytest.mark.parametrize(
    ("setting", "method"),
    [
        ("learned", "learned"),
        ("out-of-range", "robust-standardised"),
        ("none", "robust-standardised"),
    ],
)
def test_pixel_change_uses_the_learned_model_where_the_gsd_is_in_its_range(
    cli: Callable[..., Any],
    tmp_path: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    method: str,
) -> None:
    from tests.detect.fakes import CHANGE_META, change_graph

    if setting == "none":
        monkeypatch.setenv("SITEWATCH_CHANGE_MODEL", "none")
    else:
        meta = CHANGE_META if setting == "learned" else CHANGE_META.replace("[0.3, 1.0]", "[2, 10]")
        monkeypatch.setenv(
            "SITEWATCH_CHANGE_MODEL", str(change_graph(tmp_path / "change.onnx", meta))
        )
    plans = campaign(n=5, event_at=3)
    model = prepare(cli, tmp_path, plans)
    r = cli("run", "--model", str(model))
    assert r.code == 0, r.err
    rows = _db(home).execute("SELECT changed_fraction, params FROM pixel_changes").fetchall()
    assert rows
    assert {json.loads(row["params"])["method"].split(" ")[0] for row in rows} == {method}
    if setting == "learned":
        # the generated model marks the painted objects that arrive: some zone changed
        assert max(row["changed_fraction"] for row in rows) > 0
