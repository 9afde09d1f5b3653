"""`sitewatch chips SITE` and `sitewatch quality SITE`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from sitewatch.cli.context import app_context
from sitewatch.cli.output import (
    chip_dict,
    console,
    coreg_dict,
    print_json,
    progress_bar,
    quality_dict,
)
from sitewatch.config import Settings
from sitewatch.pipeline.chips import ChipOptions, make_chips
from sitewatch.types import parse_datetime

JSON_OPT = typer.Option(False, "--json", help="print JSON instead of a table")


def chip_options(settings: Settings, coregister: bool = True) -> ChipOptions:
    """The chip options the settings ask for."""
    return ChipOptions(
        thresholds=settings.quality_thresholds(),
        coregister=coregister,
        min_confidence=settings.coreg_min_confidence,
        max_shift_px=settings.coreg_max_shift_px,
    )


def chips(
    ctx: typer.Context,
    site_id: str = typer.Argument(..., metavar="SITE"),
    on: str | None = typer.Option(None, "--date", help="only this UTC day (YYYY-MM-DD)"),
    out: Path | None = typer.Option(
        None, "--out", help="output folder (default: $SITEWATCH_HOME/chips)"
    ),
    coregister: bool = typer.Option(
        True, "--coregister/--no-coregister", help="apply accepted sub-pixel shifts"
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Render a site's chips on its grid (COG + PNG), score zone quality, co-register dates."""
    c = app_context(ctx)
    s = c.settings
    options = chip_options(s, coregister)
    day = parse_datetime(on).date() if on else None
    with progress_bar("chips") as progress:
        result = make_chips(c.store, site_id, out or s.home / "chips", day, options, progress)
    if as_json:
        print_json(
            {
                "chips": [chip_dict(x) for x in result.chips],
                "quality": [quality_dict(q) for q in result.quality],
                "coregistration": [coreg_dict(g) for g in result.coregistrations],
                "failed": [list(f) for f in result.failed],
            }
        )
    else:
        table = Table("chip", "scenes", "valid", "shift px", "cog", "png")
        for x in result.chips:
            table.add_row(
                x.key,
                str(len(x.scene_ids)),
                f"{x.valid_fraction:.0%}",
                f"{x.shift_px[0]:+.2f}, {x.shift_px[1]:+.2f}",
                x.tif_path,
                x.png_path,
            )
        console.print(table)
        for g in result.coregistrations:
            res = (
                ""
                if g.residual_dx_px is None
                else f", residual ({g.residual_dx_px:+.2f}, {g.residual_dy_px:+.2f}) px"
            )
            verdict = (
                "applied"
                if g.accepted and coregister
                else ("measured" if g.accepted else f"refused: {g.reason}")
            )
            console.print(
                f"co-registration {g.target_key} vs {g.reference_key}: shift ({g.dx_px:+.2f}, {g.dy_px:+.2f}) px, "
                f"confidence {g.confidence:.2f}, {verdict}{res}",
                highlight=False,
            )
        for scene_id, msg in result.failed:
            console.print(f"[red]failed[/] {scene_id}: {msg}", highlight=False)
    if result.failed:
        raise typer.Exit(1)


def quality(
    ctx: typer.Context, site_id: str = typer.Argument(..., metavar="SITE"), as_json: bool = JSON_OPT
) -> None:
    """Show per scene and zone quality (coverage, nodata, cloud, haze, usable)."""
    store = app_context(ctx).store
    store.get_site(site_id)
    rows = store.list_quality(site_id)
    if as_json:
        print_json([quality_dict(q) for q in rows])
        return
    table = Table("scene", "zone", "covered", "nodata", "cloud", "haze", "usable", "reason")
    for q in rows:
        table.add_row(
            q.scene_id,
            q.zone_id,
            f"{q.covered_fraction:.0%}",
            f"{q.nodata_fraction:.0%}",
            "-" if q.cloud_score is None else f"{q.cloud_score:.2f}",
            "-" if q.haze_score is None else f"{q.haze_score:.2f}",
            "yes" if q.usable else "no",
            q.reason,
        )
    console.print(table)
