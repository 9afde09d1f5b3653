"""`sitewatch ingest PATH...` and `sitewatch scenes list|show`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from sitewatch.cli.context import app_context
from sitewatch.cli.output import console, err_console, print_json, progress_bar, scene_dict
from sitewatch.pipeline.ingest import IngestOutcome, ingest_paths
from sitewatch.types import parse_datetime

app = typer.Typer(help="Ingested scenes.", no_args_is_help=True)
JSON_OPT = typer.Option(False, "--json", help="print JSON instead of a table")


def ingest(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(
        ..., help="GeoTIFF/COG files, folders, STAC Item/Catalog/ItemCollection JSON"
    ),
    acquired: str | None = typer.Option(
        None, "--acquired", help="acquisition time for files that carry none (ISO 8601)"
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Ingest images: record each scene, its footprint and which sites and zones it covers."""
    c = app_context(ctx)
    fallback = parse_datetime(acquired) if acquired else None
    with progress_bar("ingest") as progress:
        result = ingest_paths(paths, c.store, fallback, progress)
    if as_json:
        print_json(
            [
                {
                    "path": i.path,
                    "outcome": i.outcome.value,
                    "scene": i.scene_id,
                    "message": i.message,
                    "coverage": [
                        {
                            "site": cv.site_id,
                            "zone": cv.zone_id,
                            "covered_fraction": cv.covered_fraction,
                        }
                        for cv in i.coverage
                    ],
                }
                for i in result.items
            ]
        )
    else:
        for i in result.items:
            if i.outcome == IngestOutcome.FAILED:
                err_console.print(f"error: {i.message}", highlight=False, soft_wrap=True)
            elif i.outcome == IngestOutcome.KNOWN:
                console.print(f"known   {i.path}: {i.message}", highlight=False)
            else:
                sites = sorted({cv.site_id for cv in i.coverage})
                where = f"covers {', '.join(sites)}" if sites else i.message
                console.print(f"added   {i.path} as {i.scene_id}: {where}", highlight=False)
        console.print(
            f"{result.count(IngestOutcome.ADDED) + result.count(IngestOutcome.NO_SITE)} added "
            f"({result.count(IngestOutcome.NO_SITE)} over no site), "
            f"{result.count(IngestOutcome.KNOWN)} already known, {result.count(IngestOutcome.FAILED)} failed"
        )
    if result.bad_input:
        raise typer.Exit(2)
    if result.count(IngestOutcome.FAILED):
        raise typer.Exit(1)


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    site: str | None = typer.Option(None, "--site", help="only scenes covering this site"),
    as_json: bool = JSON_OPT,
) -> None:
    """List scenes by acquisition time."""
    c = app_context(ctx)
    if site is not None:
        c.store.get_site(site)
    scenes = c.store.list_scenes(site)
    if as_json:
        print_json([scene_dict(s) for s in scenes])
        return
    table = Table("id", "acquired", "crs", "gsd m", "size", "bands", "sensor", "path")
    for s in scenes:
        table.add_row(
            s.id,
            s.acquired_at.strftime("%Y-%m-%d %H:%M"),
            s.crs_label,
            f"{s.gsd_m:.2f}",
            f"{s.width}x{s.height}",
            f"{s.band_count} {s.dtype}",
            s.sensor or "-",
            Path(s.path).name,
        )
    console.print(table)


@app.command("show")
def show_cmd(
    ctx: typer.Context, scene_id: str = typer.Argument(..., metavar="ID"), as_json: bool = JSON_OPT
) -> None:
    """Show a scene with its footprint and coverage of sites and zones."""
    c = app_context(ctx)
    scene = c.store.get_scene(scene_id)
    cov = c.store.list_coverage(scene_id=scene.id)
    d = scene_dict(scene, geometry=True)
    d["coverage"] = [
        {"site": x.site_id, "zone": x.zone_id, "covered_fraction": x.covered_fraction} for x in cov
    ]
    if as_json:
        print_json(d)
        return
    for k, v in d.items():
        if k not in ("coverage", "footprint"):
            console.print(f"{k:18} {v}", highlight=False)
    table = Table("site", "zone", "covered")
    for x in cov:
        table.add_row(x.site_id, x.zone_id or "(site)", f"{x.covered_fraction:.1%}")
    console.print(table)
