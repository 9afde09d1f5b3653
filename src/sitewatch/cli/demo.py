"""`sitewatch demo`: the main job end to end on the bundled real imagery (examples/demo) plus a
generated image series of a facility with an activity campaign, through detection, analysis,
alerts and exports, with the committed model.

The generated facility uses seed DEMO_SEED, a campaign the committed detector does catch, so the
demo shows an alert; how often campaigns are caught is measured in BENCHMARKS.md
(`make bench-alerts`), not here.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sitewatch.cli.chips import chip_options
from sitewatch.cli.context import app_context
from sitewatch.cli.output import console, progress_bar
from sitewatch.cli.watch import build_sinks, load_rule_packs, prepare_run
from sitewatch.errors import InputError
from sitewatch.pipeline.chips import make_chips
from sitewatch.pipeline.export import export_site
from sitewatch.pipeline.ingest import IngestOutcome, ingest_paths
from sitewatch.pipeline.report import build_report
from sitewatch.pipeline.run import run_watch
from sitewatch.pipeline.sites import import_sites
from sitewatch.simulate.scenario import ScenarioOptions
from sitewatch.simulate.series import simulate_series

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "examples" / "demo"
DEMO_SEED = 2
# the generated facility is placed 50 km north of its background, away from the real demo sites
DEMO_OFFSET_M = (0.0, 50_000.0)


def demo(
    ctx: typer.Context,
    data: Path = typer.Option(
        DEFAULT_DATA, "--data", help="demo data folder (watchlist.geojson, imagery/)"
    ),
) -> None:
    """Import the demo watchlist, ingest the bundled imagery, render and co-register chips."""
    c = app_context(ctx)
    watchlist = data / "watchlist.geojson"
    if not watchlist.is_file():
        raise InputError(f"{data}: no demo data here (watchlist.geojson missing); pass --data DIR")
    s = c.settings
    sites = import_sites(watchlist, c.store, s.max_site_area_km2)
    console.print(f"[bold]1. watchlist[/]: {len(sites)} sites from {watchlist}")
    with progress_bar("ingest") as progress:
        ing = ingest_paths([data / "imagery"], c.store, None, progress)
    console.print(
        f"[bold]2. ingest[/]: {ing.count(IngestOutcome.ADDED)} new scenes, "
        f"{ing.count(IngestOutcome.KNOWN)} already known, {ing.count(IngestOutcome.FAILED)} failed"
    )
    options = chip_options(s)
    out = s.home / "chips"
    console.print("[bold]3. chips[/] on each site's fixed grid, with quality and co-registration:")
    for site in sites:
        with progress_bar(site.id) as progress:
            res = make_chips(c.store, site.id, out, None, options, progress)
        usable = sum(q.usable for q in res.quality)
        console.print(
            f"   {site.id}: {len(res.chips)} chips, zone-scenes usable {usable}/{len(res.quality)}, "
            f"folder {out / site.id}",
            highlight=False,
        )
        for g in res.coregistrations:
            res_txt = (
                ""
                if g.residual_dx_px is None
                else f" -> residual ({g.residual_dx_px:+.2f}, {g.residual_dy_px:+.2f})"
            )
            console.print(
                f"     {g.target_key} vs {g.reference_key}: ({g.dx_px:+.2f}, {g.dy_px:+.2f}) px "
                f"conf {g.confidence:.2f} {'applied' if g.accepted else 'refused: ' + g.reason}{res_txt}",
                highlight=False,
            )
    # 4. a generated facility with a campaign, on a bundled NAIP background
    sim_dir = s.home / "demo-facility"
    sim = simulate_series(
        sim_dir, ScenarioOptions(seed=DEMO_SEED), site_id="facility", offset_m=DEMO_OFFSET_M
    )
    import_sites(sim.watchlist, c.store, s.max_site_area_km2)
    with progress_bar("ingest") as progress:
        ing = ingest_paths([sim_dir / "scenes"], c.store, None, progress)
    console.print(
        f"[bold]4. generated facility[/]: {len(sim.scenes)} images of a scripted campaign "
        f"(generated imagery; truth {sim.truth})",
        highlight=False,
    )
    # 5. the main job: detect, observe, change, score, assess, alert
    detector, run_opts = prepare_run(s, None)
    packs = load_rule_packs(s.rules)
    with progress_bar("run") as progress:
        result = run_watch(c.store, detector, packs, build_sinks(s), s.home, run_opts, progress)
    console.print(
        f"[bold]5. run[/] with {detector.info.model_id} and {', '.join(p.ref for p in packs)}: "
        f"{result.detection_sets} detection sets, sites analysed {len(result.sites_analysed)}",
        highlight=False,
    )
    for site_id, why in result.skipped:
        console.print(f"   {site_id}: {why}", highlight=False)
    for site_id, why in result.failed:
        console.print(f"   {site_id} failed: {why}", highlight=False)
    store = c.store
    for site in store.list_sites():
        counts: dict[str, int] = {}
        for rec in store.list_detection_sets(site_id=site.id):
            for k, v in rec.counts.items():
                counts[k] = counts.get(k, 0) + v
        latest = {}
        for a in store.list_assessments(site.id):
            latest[a.signature_id] = a
        scenes = len(store.list_scenes(site.id))
        det = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
        console.print(f"   {site.id}: {scenes} scenes; detections {det}", highlight=False)
        for a in latest.values():
            console.print(
                f"     {a.signature_name} as of {a.as_of}: {a.likelihood.words}, "
                f"{a.confidence.value} confidence",
                highlight=False,
            )
    alerts = store.list_alerts()
    console.print(f"[bold]6. alerts[/]: {len(alerts)}", highlight=False)
    for al in alerts:
        console.print(f"   {al.id[:12]} {al.title}", highlight=False)
        console.print(f"     evidence: {al.evidence.get('folder', '')}", highlight=False)
    files = export_site(store, "facility", s.home / "exports" / "facility")
    html_path, pdf_path = build_report(store, "facility", s.home / "reports")
    db = s.home / "sitewatch.db"
    console.print(f"[bold]results[/]: store {db.resolve()}, chips {out.resolve()}")
    console.print(f"   alerts {(s.alerts_jsonl or s.home / 'alerts.jsonl').resolve()}")
    console.print(f"   exports {files['zones.gpkg'].parent.resolve()}")
    console.print(f"   report  {html_path.resolve()}")
    if pdf_path is not None:
        console.print(f"           {pdf_path.resolve()}")
    console.print(
        "next: sitewatch --home " + str(s.home) + " timeline facility | alerts list | "
        "alerts show ID | export SITE"
    )
