"""`sitewatch demo`: the main job end to end on the bundled real imagery (examples/demo)."""

from __future__ import annotations

from pathlib import Path

import typer

from sitewatch.cli.chips import chip_options
from sitewatch.cli.context import app_context
from sitewatch.cli.output import console, progress_bar
from sitewatch.errors import InputError
from sitewatch.pipeline.chips import make_chips
from sitewatch.pipeline.ingest import IngestOutcome, ingest_paths
from sitewatch.pipeline.sites import import_sites

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "examples" / "demo"


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
    db = s.home / "sitewatch.db"
    console.print(f"[bold]results[/]: store {db.resolve()}, chips {out.resolve()}")
    console.print(
        "next: sitewatch --home " + str(s.home) + " sites show <id> | scenes list | quality <site>"
    )
