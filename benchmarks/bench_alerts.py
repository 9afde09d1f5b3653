"""Alerting benchmark on generated imagery: campaign and quiet scenarios (fixed seeds) through the
full pipeline (chips, the committed detector, observations, baselines, change with the committed
change model as `sitewatch run` uses it, the bundled launch-preparation pack, alerts).

Measured, per the issue: alert recall over campaigns (an alert from 35 days before the event up
to the event), lead time before the event (median and worst over detected campaigns) and false
alerts per site-year (every alert of a quiet scenario, and alerts of a campaign scenario outside
[event - 45 days, event + 14 days], over all monitored days). All imagery is generated
(`sitewatch simulate` on a bundled NAIP background) and the results are labelled so.

Usage: python benchmarks/bench_alerts.py [--n 20] [--out benchmarks/results/alerts] [--model M]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sitewatch.alerts.sinks import AlertSink
from sitewatch.cli.detect import DEFAULT_CHANGE_MODEL, DEFAULT_MODEL, REPO_MODELS
from sitewatch.cli.watch import load_rule_packs
from sitewatch.core.models import ObjectClass
from sitewatch.detect.changenet import OnnxChangeModel
from sitewatch.detect.onnx import load_detector, load_spec
from sitewatch.detect.run import DetectOptions
from sitewatch.pipeline.ingest import ingest_paths
from sitewatch.pipeline.run import RunOptions, run_watch
from sitewatch.pipeline.sites import import_sites
from sitewatch.simulate.scenario import ScenarioKind, ScenarioOptions
from sitewatch.simulate.series import simulate_series
from sitewatch.store.sqlite import open_store

ROOT = Path(__file__).resolve().parents[1]
MODEL = REPO_MODELS / DEFAULT_MODEL
CHANGE_MODEL = REPO_MODELS / DEFAULT_CHANGE_MODEL
PACK = ROOT / "examples" / "rules" / "launch-preparation.yaml"


def run_scenario(kind: ScenarioKind, seed: int, detector: Any, opts: RunOptions) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sim = simulate_series(folder / "sim", ScenarioOptions(kind=kind, seed=seed))
        truth = json.loads(sim.truth.read_text())
        store = open_store(folder / "home")
        import_sites(sim.watchlist, store, 100.0)
        ingest_paths([folder / "sim" / "scenes"], store, None)
        sinks: list[AlertSink] = []
        run_watch(store, detector, load_rule_packs(PACK), sinks, folder / "home", opts)
        alerts = sorted(a.as_of for a in store.list_alerts())
        usable = sum(
            1
            for o in store.list_observations(sim.site_id)
            if o.usable and o.zone_id == "assembly" and o.object_class is ObjectClass.LARGE_VEHICLE
        )
        store.close()
    days = [date.fromisoformat(i["date"]) for i in truth["images"]]
    event = date.fromisoformat(truth["event_date"]) if truth["event_date"] else None
    hits, false = [], []
    for a in alerts:
        if event is not None and event - timedelta(days=35) <= a <= event:
            hits.append(a)
        elif event is not None and event - timedelta(days=45) <= a <= event + timedelta(days=14):
            continue  # around the campaign: neither a hit nor a false alert
        else:
            false.append(a)
    return {
        "kind": kind.value,
        "seed": seed,
        "images": len(days),
        "usable_assembly_images": usable,
        "monitored_days": (max(days) - min(days)).days,
        "event": event.isoformat() if event else None,
        "alerts": [a.isoformat() for a in alerts],
        "detected": bool(hits) if event else None,
        "lead_days": (event - hits[0]).days if hits and event else None,
        "false_alerts": [a.isoformat() for a in false],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20, help="scenarios of each kind")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "alerts")
    ap.add_argument("--model", type=Path, default=MODEL, help="detector (default: the default)")
    args = ap.parse_args()
    spec = load_spec(args.model)
    thresholds = {cls: spec.threshold(cls) for cls in ObjectClass}
    detector = load_detector(args.model, 0, score_floor=min(thresholds.values()))
    opts = RunOptions(
        detect=DetectOptions(thresholds=thresholds), change_model=OnnxChangeModel(CHANGE_MODEL)
    )
    t0 = time.perf_counter()
    rows = []
    for kind in (ScenarioKind.CAMPAIGN, ScenarioKind.QUIET):
        for seed in range(1, args.n + 1):
            r = run_scenario(kind, seed, detector, opts)
            rows.append(r)
            print(json.dumps(r), flush=True)
    campaigns = [r for r in rows if r["kind"] == "campaign"]
    detected = [r for r in campaigns if r["detected"]]
    leads = [r["lead_days"] for r in detected]
    false = sum(len(r["false_alerts"]) for r in rows)
    site_years = sum(r["monitored_days"] for r in rows) / 365.25
    summary = {
        "generated_imagery": True,
        "model": args.model.name,
        "change_model": CHANGE_MODEL.name,
        "rule_pack": PACK.name,
        "campaign_scenarios": len(campaigns),
        "quiet_scenarios": len(rows) - len(campaigns),
        "recall": round(len(detected) / len(campaigns), 3) if campaigns else None,
        "lead_days_median": statistics.median(leads) if leads else None,
        "lead_days_worst": min(leads) if leads else None,
        "false_alerts": false,
        "site_years": round(site_years, 2),
        "false_alerts_per_site_year": round(false / site_years, 3) if site_years else None,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(
        json.dumps({"summary": summary, "scenarios": rows}, indent=1) + "\n"
    )
    lines = [
        "# Alerting benchmark (generated imagery)",
        "",
        "Command: `make bench-alerts` (benchmarks/bench_alerts.py). Every image is generated by "
        "`sitewatch simulate` on a bundled NAIP background; figures are measured on generated imagery.",
        "",
        "| measure | target | measured |",
        "|---|---|---|",
        f"| campaign recall ({summary['campaign_scenarios']} campaigns) | >= 0.9 | {summary['recall']} |",
        f"| median lead time before the event | >= 7 days | {summary['lead_days_median']} |",
        f"| worst lead time | - | {summary['lead_days_worst']} |",
        f"| false alerts per site-year ({summary['false_alerts']} over {summary['site_years']} site-years) | <= 1 | {summary['false_alerts_per_site_year']} |",
        "",
        f"Detector {summary['model']}, change model {summary['change_model']}. "
        f"Run time {summary['seconds']} s. Per-scenario rows are in results.json.",
        "",
    ]
    (args.out / "results.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
