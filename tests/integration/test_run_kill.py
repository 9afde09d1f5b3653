"""`sitewatch run` killed with SIGKILL at random moments, at least 20 times, then run to the end,
ends in the same state as an uninterrupted run: detections, observations, assessments, alerts
and outbox equal, with no duplicates (and the JSON-lines sink holds each alert once)."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sitewatch.cli.app import main
from tests.pipeline.series import blob_model, campaign, watchlist, write_scenes

KILLS = 20
SITES = ("factory", "factory-b")
VOLATILE = {"created_at", "updated_at", "ingested_at", "measured_at", "delivered_at", "reviewed_at"}
COMPARED = (
    "chips",
    "zone_quality",
    "coregistrations",
    "detection_sets",
    "detections",
    "observations",
    "object_changes",
    "pixel_changes",
    "scores",
    "assessments",
    "alerts",
    "outbox",
    "site_state",
)


def _cli(home: Path, *args: str) -> None:
    try:
        main(["--home", str(home), *args])
    except SystemExit as exc:
        assert not exc.code, args


def _setup(home: Path, data: Path) -> None:
    for site in SITES:
        wl = data / f"{site}.geojson"
        if not wl.exists():
            wl.write_text(json.dumps(watchlist(site)))
        _cli(home, "sites", "import", str(wl))
    _cli(home, "ingest", str(data / "scenes"))


def _run_cmd(home: Path, model: Path) -> list[str]:
    code = "from sitewatch.cli.app import main; main()"
    return [sys.executable, "-c", code, "--home", str(home), "run", "--model", str(model)]


def _state(home: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = sqlite3.connect(home / "sitewatch.db")
    out = {}
    try:
        for table in COMPARED:
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            keep = [c for c in cols if c not in VOLATILE]
            rows = con.execute(f"SELECT {', '.join(keep)} FROM {table}").fetchall()
            norm = [
                tuple(v.replace(str(home), "HOME") if isinstance(v, str) else v for v in r)
                for r in rows
            ]
            assert len(norm) == len(set(norm)), f"duplicate rows in {table}"
            out[table] = sorted(norm, key=repr)
    finally:
        con.close()
    return out


def _progress(home: Path) -> tuple[int, ...]:
    con = sqlite3.connect(home / "sitewatch.db")
    try:
        return tuple(
            con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("chips", "detection_sets", "site_state", "alerts")
        )
    finally:
        con.close()


def _jsonl_ids(home: Path) -> list[str]:
    ids = []
    for line in (home / "alerts.jsonl").read_text().splitlines():
        try:
            ids.append(json.loads(line)["alert"]["id"])
        except ValueError:
            continue
    return ids


@pytest.mark.slow
def test_killed_runs_end_like_an_uninterrupted_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_scenes(data / "scenes", campaign(n=24, event_at=16))
    model = blob_model(data / "model")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITEWATCH_")}

    ref = tmp_path / "ref"
    _setup(ref, data)
    t0 = time.monotonic()
    done = subprocess.run(_run_cmd(ref, model), env=env, capture_output=True, text=True)
    full_s = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    expected = _state(ref)
    assert expected["alerts"], "the campaign must raise alerts for this test to mean anything"
    assert expected["detections"] and expected["assessments"] and expected["outbox"]

    # how long a run takes to start and find nothing to do: kills land from the end of the
    # imports into the first fraction of a second of work, so that the work is cut many times
    t0 = time.monotonic()
    assert subprocess.run(_run_cmd(ref, model), env=env, capture_output=True).returncode == 0
    noop_s = time.monotonic() - t0
    assert full_s > noop_s + 1.0, "the run must have work to cut"

    victim = tmp_path / "victim"
    _setup(victim, data)
    rng = random.Random(20261124)
    kills = attempts = cut_mid_work = 0
    progress = _progress(victim)
    while (kills < KILLS or cut_mid_work < 3) and attempts < 4 * KILLS:
        attempts += 1
        proc = subprocess.Popen(
            _run_cmd(victim, model), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # after the first KILLS kills, later ones on a loaded machine, where start-up can take
        # longer than the no-op run measured above and the early kills may all land before work
        late = kills >= KILLS
        time.sleep(
            rng.uniform(*((1.0, 1.5) if late else (0.6, 1.0))) * noop_s + rng.uniform(0, 0.4)
        )
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
            now = _progress(victim)
            cut_mid_work += now != progress
            progress = now
        proc.wait()
    assert kills >= KILLS, f"only {kills} runs were still going when killed"
    # the kills must cut the work itself, not only the start-up
    assert cut_mid_work >= 3, f"only {cut_mid_work} kills landed after some work was done"
    final = subprocess.run(_run_cmd(victim, model), env=env, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr

    got = _state(victim)
    for table in COMPARED:
        assert got[table] == expected[table], f"{table} differs after {kills} kills"
    ids = _jsonl_ids(victim)
    assert sorted(ids) == sorted(_jsonl_ids(ref)) and len(ids) == len(set(ids))
