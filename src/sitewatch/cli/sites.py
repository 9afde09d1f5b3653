"""`sitewatch sites import|list|show|export`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from sitewatch.cli.context import app_context
from sitewatch.cli.output import console, print_json, site_dict
from sitewatch.errors import InputError
from sitewatch.pipeline.sites import import_sites
from sitewatch.watchlist.load import dump_watchlist

app = typer.Typer(help="Keep the watchlist: sites and their zones.", no_args_is_help=True)

JSON_OPT = typer.Option(False, "--json", help="print JSON instead of a table")


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="watchlist (GeoJSON FeatureCollection or YAML)"),
    as_json: bool = JSON_OPT,
) -> None:
    """Validate a watchlist and insert or update its sites."""
    c = app_context(ctx)
    sites = import_sites(file, c.store, c.settings.max_site_area_km2)
    if as_json:
        print_json([site_dict(s) for s in sites])
        return
    for s in sites:
        console.print(f"imported site [bold]{s.id}[/] ({s.name}) with {len(s.zones)} zones")


@app.command("list")
def list_cmd(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """List the watched sites."""
    c = app_context(ctx)
    sites = c.store.list_sites()
    if as_json:
        print_json([site_dict(s, c.store.get_grid(s.id)) for s in sites])
        return
    table = Table("id", "name", "zones", "area km²", "gsd m", "tags")
    for s in sites:
        d = site_dict(s)
        table.add_row(
            s.id,
            s.name,
            str(len(s.zones)),
            f"{d['area_m2'] / 1e6:.3f}",
            f"{s.gsd_m:g}",
            ", ".join(s.tags),
        )
    console.print(table)


@app.command("show")
def show_cmd(
    ctx: typer.Context, site_id: str = typer.Argument(..., metavar="ID"), as_json: bool = JSON_OPT
) -> None:
    """Show a site, its grid and its zones with their areas in m²."""
    c = app_context(ctx)
    site = c.store.get_site(site_id)
    d = site_dict(site, c.store.get_grid(site_id))
    if as_json:
        print_json(d)
        return
    g = d["grid"]
    console.print(
        f"[bold]{site.id}[/] {site.name}: {d['area_m2']:.0f} m², tags {', '.join(site.tags) or '-'}"
    )
    console.print(
        f"grid {g['crs']} at {g['gsd_m']} m: {g['width']} x {g['height']} px, origin ({g['west']}, {g['north']})"
    )
    if site.notes:
        console.print(site.notes)
    table = Table("zone", "kind", "area m²", "classes", "name")
    for z in d["zones"]:
        table.add_row(
            z["id"], z["kind"], f"{z['area_m2']:.0f}", ", ".join(z["classes"]) or "all", z["name"]
        )
    console.print(table)


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    fmt: str = typer.Option("geojson", "--format", help="geojson or yaml"),
    out: Path | None = typer.Option(None, "--out", help="file to write (default: stdout)"),
) -> None:
    """Export the watchlist (reads back with 'sites import')."""
    if fmt not in ("geojson", "yaml"):
        raise InputError(f"--format {fmt!r}: use 'geojson' or 'yaml'")
    text = dump_watchlist(app_context(ctx).store.list_sites(), fmt)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{out}: cannot write: {exc.strerror or exc}") from exc
    console.print(f"wrote {out}")
