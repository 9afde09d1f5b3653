"""`sitewatch simulate`: a generated dated image series of a facility, with its ground truth."""

from __future__ import annotations

from pathlib import Path

import typer

from sitewatch.cli.output import console, print_json
from sitewatch.errors import ConfigError
from sitewatch.simulate.scenario import ScenarioKind, ScenarioOptions
from sitewatch.simulate.series import simulate_series
from sitewatch.types import check_slug, parse_datetime


def parse_window(text: str | None) -> tuple[int, int, int, int] | None:
    """'col,row,width,height' in background pixels."""
    if text is None:
        return None
    try:
        c, r, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--window {text!r}: expected COL,ROW,WIDTH,HEIGHT in pixels") from None
    if w < 128 or h < 128 or c < 0 or r < 0:
        raise ConfigError(f"--window {text!r}: at least 128 x 128 pixels, from (0, 0) on")
    return (c, r, w, h)


def simulate(
    out: Path = typer.Argument(..., help="folder to write scenes/, watchlist.geojson, truth.json"),
    kind: str = typer.Option("campaign", "--kind", help="campaign or quiet"),
    seed: int = typer.Option(0, "--seed"),
    start: str = typer.Option("2018-06-01", "--start", help="first possible image date"),
    days: int = typer.Option(240, "--days", help="length of the series in days"),
    event_day: int = typer.Option(200, "--event-day", help="campaign event, days after start"),
    site: str = typer.Option("facility", "--site", help="site id of the facility"),
    background: Path | None = typer.Option(
        None, "--background", help="georeferenced RGB image (default: a bundled NAIP tile)"
    ),
    window: str | None = typer.Option(None, "--window", help="COL,ROW,WIDTH,HEIGHT of it"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Generate a facility's image series with a scripted campaign (or quiet), and its truth."""
    try:
        k = ScenarioKind(kind)
    except ValueError:
        raise ConfigError(f"--kind {kind!r}: use campaign or quiet") from None
    if days < 30 or not 0 < event_day <= days:
        raise ConfigError(
            f"--days {days} / --event-day {event_day}: need days >= 30, 0 < event <= days"
        )
    options = ScenarioOptions(
        kind=k,
        seed=seed,
        start=parse_datetime(start).date(),
        days=days,
        event_day=event_day,
    )
    result = simulate_series(
        out, options, check_slug(site, "site"), background, parse_window(window)
    )
    summary = {
        "scenes": len(result.scenes),
        "folder": str(out / "scenes"),
        "watchlist": str(result.watchlist),
        "truth": str(result.truth),
        "site": result.site_id,
        "kind": k.value,
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"{k.value} scenario: {len(result.scenes)} images in {out / 'scenes'}; "
        f"watchlist {result.watchlist}; truth {result.truth} (generated imagery)",
        highlight=False,
    )
