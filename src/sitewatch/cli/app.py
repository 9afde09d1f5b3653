"""The `sitewatch` command: global options, command groups, and the error -> exit code table.

Exit codes: 0 ok; 1 runtime failure; 2 bad input. An id the user typed that the store does not
know (`NotFoundError`) is bad input here and exits 2, as the foundation issue asks; the API will
map it to 404. An error prints one line; `-v` adds the traceback.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click
import typer
from pydantic import ValidationError
from rich.table import Table

from sitewatch.cli import chips as chips_cmds
from sitewatch.cli import demo as demo_cmds
from sitewatch.cli import detect as detect_cmds
from sitewatch.cli import scenes as scene_cmds
from sitewatch.cli import simulate as simulate_cmds
from sitewatch.cli import sites as site_cmds
from sitewatch.cli import watch as watch_cmds
from sitewatch.cli.context import AppContext, app_context
from sitewatch.cli.output import console, err_console, print_json
from sitewatch.config import Settings
from sitewatch.errors import InputError, NotFoundError, SitewatchError

app = typer.Typer(
    help="sitewatch: watch facilities in dated satellite images.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(site_cmds.app, name="sites")
app.add_typer(scene_cmds.app, name="scenes")
app.command("ingest")(scene_cmds.ingest)
app.command("chips")(chips_cmds.chips)
app.command("quality")(chips_cmds.quality)
app.command("demo")(demo_cmds.demo)
app.command("detect")(detect_cmds.detect)
app.command("eval-detector")(detect_cmds.eval_detector)
app.command("calibrate-detector")(detect_cmds.calibrate_detector)
app.command("train")(detect_cmds.train)
app.command("train-change")(detect_cmds.train_change)
app.add_typer(detect_cmds.models_app, name="models")
app.command("run")(watch_cmds.run)
app.command("simulate")(simulate_cmds.simulate)
app.command("timeline")(watch_cmds.timeline)
app.command("export")(watch_cmds.export)
app.command("report")(watch_cmds.report)
app.add_typer(watch_cmds.alerts_app, name="alerts")

runs_app = typer.Typer(help="Recorded runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


@app.callback()
def root(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "-v", "--verbose", help="show tracebacks on errors"),
    home: Path | None = typer.Option(
        None, "--home", help="store folder (default $SITEWATCH_HOME or ./sitewatch-data)"
    ),
) -> None:
    """sitewatch: watch facilities in dated satellite images."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(
            f"setting SITEWATCH_{str(first['loc'][0]).upper()}: {first['msg']}"
        ) from exc
    if home is not None:
        settings = settings.model_copy(update={"home": home})
    ctx.obj = AppContext(settings=settings, verbose=verbose)


@runs_app.command("list")
def runs_list(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """List the latest runs, newest first."""
    runs = app_context(ctx).store.list_runs(limit)
    if as_json:
        print_json(
            [
                {
                    "id": r.run_id,
                    "kind": r.kind,
                    "status": r.status,
                    "started_at": r.started_at.isoformat(),
                    "finished_at": r.finished_at.isoformat(),
                    "ok": len(r.ok),
                    "skipped": len(r.skipped),
                    "failed": [list(f) for f in r.failed],
                    "params": dict(r.params),
                }
                for r in runs
            ]
        )
        return
    table = Table("id", "kind", "status", "started", "ok", "skipped", "failed")
    for r in runs:
        table.add_row(
            r.run_id[:8],
            r.kind,
            r.status,
            r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            str(len(r.ok)),
            str(len(r.skipped)),
            str(len(r.failed)),
        )
    console.print(table)


def _fail(exc: BaseException, code: int, verbose: bool) -> None:
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    err_console.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map errors to exit codes (see module docstring)."""
    args = sys.argv[1:] if argv is None else argv
    verbose = "-v" in args or "--verbose" in args
    try:
        result = app(args=args, prog_name="sitewatch", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except (InputError, NotFoundError) as exc:
        _fail(exc, 2, verbose)
    except SitewatchError as exc:
        _fail(exc, 1, verbose)
    if isinstance(result, int) and result:
        sys.exit(result)
