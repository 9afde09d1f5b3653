"""`sitewatch run`, `sitewatch timeline SITE` and `sitewatch alerts list|show|ack|confirm|dismiss|deliver`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml
from rich.table import Table

from sitewatch.alerts.policy import review_alert
from sitewatch.alerts.sinks import AlertSink, JsonlSink, SmtpSink, WebhookSink
from sitewatch.cli.context import app_context
from sitewatch.cli.detect import MODEL_OPT, load_change_model, resolve_model
from sitewatch.cli.output import console, print_json, progress_bar
from sitewatch.config import Settings
from sitewatch.core.analytics import AlertStatus, alert_to_dict
from sitewatch.core.models import ObjectClass
from sitewatch.detect.onnx import OnnxDetector, load_detector, load_spec
from sitewatch.detect.run import DetectOptions
from sitewatch.errors import ConfigError, RuleError
from sitewatch.indicators.rules import RulePack, parse_rule_pack
from sitewatch.pipeline.alerting import DeliveryOptions, deliver_outbox
from sitewatch.pipeline.analyze import AnalysisOptions
from sitewatch.pipeline.chips import ChipOptions
from sitewatch.pipeline.export import export_site
from sitewatch.pipeline.report import build_report
from sitewatch.pipeline.run import RunOptions, run_watch
from sitewatch.types import utc_now

REPO_RULES = Path(__file__).resolve().parents[3] / "examples" / "rules"

alerts_app = typer.Typer(help="Alerts and their review.", no_args_is_help=True)


def load_rule_packs(path: Path | None) -> list[RulePack]:
    """Rule packs from a YAML file or a folder of them (default: the bundled packs).

    Raises:
        RuleError: a pack that does not validate, or none found.
    """
    where = path or REPO_RULES
    files = sorted(where.glob("*.y*ml")) if where.is_dir() else [where]
    if not files or not all(f.is_file() for f in files):
        raise RuleError(f"rule packs {where}: no such file or no *.yaml in the folder")
    packs = []
    for f in files:
        try:
            doc = yaml.safe_load(f.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise RuleError(f"rule pack {f}: cannot read it ({str(exc).splitlines()[0]})") from exc
        packs.append(parse_rule_pack(doc, str(f)))
    ids = [p.id for p in packs]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise RuleError(f"rule packs {where}: pack id {sorted(dup)[0]!r} is used by two files")
    return packs


def build_sinks(settings: Settings) -> list[AlertSink]:
    """The alert sinks the settings configure (the JSON-lines file is always on)."""
    sinks: list[AlertSink] = [JsonlSink(settings.alerts_jsonl or settings.home / "alerts.jsonl")]
    if settings.webhook_url:
        sinks.append(WebhookSink(settings.webhook_url, settings.webhook_secret or ""))
    if settings.smtp_host:
        to = [a.strip() for a in (settings.smtp_to or "").split(",") if a.strip()]
        sinks.append(
            SmtpSink(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_from or "",
                to,
                settings.smtp_starttls,
                settings.smtp_user,
                settings.smtp_password,
            )
        )
    return sinks


def prepare_run(
    settings: Settings, model: Path | None, threads: int = 0
) -> tuple[OnnxDetector, RunOptions]:
    """The detector and the run options the settings (and --model) ask for."""
    path = resolve_model(model, settings.model)
    spec = load_spec(path)
    thresholds = {cls: spec.threshold(cls) for cls in ObjectClass}
    detector = load_detector(path, threads, score_floor=min(thresholds.values()))
    options = RunOptions(
        change_model=load_change_model(settings.change_model, threads),
        chips=ChipOptions(
            thresholds=settings.quality_thresholds(),
            min_confidence=settings.coreg_min_confidence,
            max_shift_px=settings.coreg_max_shift_px,
        ),
        detect=DetectOptions(thresholds=thresholds),
        analysis=AnalysisOptions(thresholds=settings.quality_thresholds()),
        delivery=DeliveryOptions(
            max_attempts=settings.delivery_max_attempts,
            base_delay_s=settings.delivery_base_delay_s,
        ),
    )
    return detector, options


def run(
    ctx: typer.Context,
    rules: Path | None = typer.Option(
        None, "--rules", help="rule pack YAML or folder (default $SITEWATCH_RULES or bundled)"
    ),
    model: Path | None = MODEL_OPT,
    threads: int = typer.Option(0, "--threads", help="inference threads (0: all cores)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Process every new scene of every site: chips, detect, observe, change, score, assess, alert."""
    c = app_context(ctx)
    s = c.settings
    packs = load_rule_packs(rules or s.rules)
    sinks = build_sinks(s)
    detector, options = prepare_run(s, model, threads)
    store = app_context(ctx).store
    with progress_bar("run") as progress:
        result = run_watch(store, detector, packs, sinks, s.home, options, progress)
    summary: dict[str, Any] = {
        "run_id": result.report.run_id if result.report else None,
        "nothing_new": result.nothing_new,
        "chips_made": result.chips_made,
        "detection_sets": result.detection_sets,
        "sites_analysed": result.sites_analysed,
        "new_alerts": [{"id": a.id, "title": a.title} for a in result.new_alerts],
        "delivered": len(result.delivery.delivered),
        "delivery_retrying": [list(r) for r in result.delivery.retrying],
        "delivery_failed": [list(r) for r in result.delivery.failed],
        "failed": [list(f) for f in result.failed],
        "skipped": [list(f) for f in result.skipped],
        "packs": [p.ref for p in packs],
        "model": detector.info.model_id,
    }
    if as_json:
        print_json(summary)
    elif result.nothing_new and not result.failed:
        console.print("nothing new: every scene is processed and every alert delivered")
    else:
        console.print(
            f"chips made {result.chips_made}, detection sets {result.detection_sets}, "
            f"sites analysed {len(result.sites_analysed)}, new alerts {len(result.new_alerts)}, "
            f"delivered {len(result.delivery.delivered)}",
            highlight=False,
        )
        for a in result.new_alerts:
            console.print(f"  alert {a.id[:12]}  {a.title}", highlight=False)
        for item, why in result.delivery.retrying:
            console.print(f"  delivery {item[:12]} will be retried: {why}", highlight=False)
        for site_id, why in result.skipped:
            console.print(f"  site {site_id}: {why}", highlight=False)
        for site_id, why in result.failed:
            console.print(f"  site {site_id} failed: {why}", highlight=False)
    if result.failed:
        raise typer.Exit(1)


def timeline(
    ctx: typer.Context,
    site: str = typer.Argument(..., help="site id"),
    zone: str | None = typer.Option(None, "--zone", help="only this zone"),
    object_class: str | None = typer.Option(None, "--class", help="only this class"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """A site's zone observations by date, with their baseline and anomaly score."""
    store = app_context(ctx).store
    store.get_site(site)
    obs = store.list_observations(site)
    scores = {(s.zone_id, s.object_class, s.observed_on): s for s in store.list_scores(site)}
    if zone is not None:
        obs = [o for o in obs if o.zone_id == zone]
    if object_class is not None:
        try:
            cls = ObjectClass(object_class)
        except ValueError:
            raise ConfigError(
                f"--class {object_class!r}: use one of {', '.join(c.value for c in ObjectClass)}"
            ) from None
        obs = [o for o in obs if o.object_class == cls]
    rows: list[dict[str, Any]] = []
    for o in obs:
        sc = scores.get((o.zone_id, o.object_class, o.observed_on))
        rows.append(
            {
                "date": o.observed_on.isoformat(),
                "zone": o.zone_id,
                "class": o.object_class.value,
                "count": o.count,
                "expected_count": o.expected_count,
                "usable": o.usable,
                "reason": o.reason,
                "band": [sc.band_low, sc.band_high] if sc and sc.band_low is not None else None,
                "anomaly": sc.anomaly if sc else None,
                "score_reason": sc.reason if sc else None,
            }
        )
    if as_json:
        print_json({"site": site, "observations": rows})
        return
    if not rows:
        console.print(f"site {site}: no observations yet; run `sitewatch run`")
        return
    table = Table("date", "zone", "class", "count", "usual", "anomaly", "note")
    for r in rows:
        band = f"{r['band'][0]}-{r['band'][1]}" if r["band"] else "-"
        anomaly = f"{r['anomaly']:.3f}" if r["anomaly"] is not None else "-"
        count = "missing" if r["count"] is None else str(r["count"])
        note = r["reason"] if not r["usable"] else (r["score_reason"] or "")
        table.add_row(
            str(r["date"]), str(r["zone"]), str(r["class"]), count, band, anomaly, str(note)
        )
    console.print(table)


@alerts_app.command("list")
def alerts_list(
    ctx: typer.Context,
    site: str | None = typer.Option(None, "--site"),
    status: str | None = typer.Option(None, "--status", help="open, acknowledged, ..."),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Alerts, newest first."""
    if status is not None and status not in {s.value for s in AlertStatus}:
        raise ConfigError(
            f"--status {status!r}: use one of {', '.join(s.value for s in AlertStatus)}"
        )
    alerts = app_context(ctx).store.list_alerts(site, status)
    if as_json:
        print_json([alert_to_dict(a) for a in alerts])
        return
    table = Table("id", "date", "site", "level", "confidence", "status", "title")
    for a in alerts:
        table.add_row(
            a.id[:12],
            a.as_of.isoformat(),
            a.site_id,
            a.level.words,
            a.confidence.value,
            a.status.value,
            a.title,
        )
    console.print(table)


@alerts_app.command("show")
def alerts_show(
    ctx: typer.Context,
    alert_id: str = typer.Argument(..., help="alert id (6 characters or more)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """One alert with its rationale, evidence and review history."""
    store = app_context(ctx).store
    a = store.get_alert(alert_id)
    reviews = [
        {"status": s, "reviewer": r, "note": n, "at": at.isoformat()}
        for s, r, n, at in store.list_reviews(a.id)
    ]
    if as_json:
        print_json({**alert_to_dict(a), "reviews": reviews})
        return
    console.print(f"[bold]{a.title}[/bold]  ({a.status.value})")
    console.print(a.rationale, highlight=False)
    for k, v in sorted(a.evidence.items()):
        console.print(f"  {k}: {v}", highlight=False)
    for r in reviews:
        console.print(f"  review: {r['status']} by {r['reviewer']} at {r['at']}: {r['note'] or ''}")


def _review(
    ctx: typer.Context, alert_id: str, status: AlertStatus, reviewer: str, note: str | None
) -> None:
    store = app_context(ctx).store
    a = review_alert(store.get_alert(alert_id), status, reviewer, note, utc_now())
    store.save_review(a)
    console.print(f"alert {a.id[:12]} is {a.status.value} ({a.reviewer})", highlight=False)


REVIEWER = typer.Option(..., "--reviewer", help="who decides")
NOTE = typer.Option(None, "--note", help="why")


@alerts_app.command("ack")
def alerts_ack(
    ctx: typer.Context,
    alert_id: str = typer.Argument(...),
    reviewer: str = REVIEWER,
    note: str | None = NOTE,
) -> None:
    """Acknowledge an alert (seen, being looked at)."""
    _review(ctx, alert_id, AlertStatus.ACKNOWLEDGED, reviewer, note)


@alerts_app.command("confirm")
def alerts_confirm(
    ctx: typer.Context,
    alert_id: str = typer.Argument(...),
    reviewer: str = REVIEWER,
    note: str | None = NOTE,
) -> None:
    """Confirm an alert (the assessment holds)."""
    _review(ctx, alert_id, AlertStatus.CONFIRMED, reviewer, note)


@alerts_app.command("dismiss")
def alerts_dismiss(
    ctx: typer.Context,
    alert_id: str = typer.Argument(...),
    reviewer: str = REVIEWER,
    note: str | None = NOTE,
) -> None:
    """Dismiss an alert (a false alarm)."""
    _review(ctx, alert_id, AlertStatus.DISMISSED, reviewer, note)


@alerts_app.command("deliver")
def alerts_deliver(
    ctx: typer.Context,
    wait: float = typer.Option(0.0, "--wait", help="keep retrying for up to this many seconds"),
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="put deliveries that gave up back in the queue first"
    ),
) -> None:
    """Deliver pending alerts to the configured sinks now (the outbox)."""
    s = app_context(ctx).settings
    if retry_failed:
        store = app_context(ctx).store
        for item in store.list_outbox("failed"):
            store.update_outbox(item.id, "pending", 0, None, item.last_error)
    report = deliver_outbox(
        app_context(ctx).store,
        build_sinks(s),
        DeliveryOptions(
            max_attempts=s.delivery_max_attempts, base_delay_s=s.delivery_base_delay_s, wait_s=wait
        ),
    )
    console.print(
        f"delivered {len(report.delivered)}, retrying {len(report.retrying)}, "
        f"failed {len(report.failed)}"
    )
    if report.failed or report.retrying:
        raise typer.Exit(1)


def export(
    ctx: typer.Context,
    site: str = typer.Argument(..., help="site id"),
    out: Path | None = typer.Option(
        None, "--out", help="folder (default $SITEWATCH_HOME/exports/SITE)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Export a site's zones, detections and change (GeoJSON, GeoPackage, KML) and its time series (CSV)."""
    c = app_context(ctx)
    folder = out or c.settings.home / "exports" / site
    files = export_site(c.store, site, folder)
    if as_json:
        print_json({k: str(v) for k, v in files.items()})
        return
    for name, path in files.items():
        console.print(f"{name:22s} {path}", highlight=False)


def report(
    ctx: typer.Context,
    site: str = typer.Argument(..., help="site id"),
    out: Path | None = typer.Option(None, "--out", help="folder (default $SITEWATCH_HOME/reports)"),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="also write the PDF (WeasyPrint)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Write a site's report: HTML (self-contained) and PDF."""
    c = app_context(ctx)
    html_path, pdf_path = build_report(c.store, site, out or c.settings.home / "reports", pdf)
    if as_json:
        print_json({"html": str(html_path), "pdf": str(pdf_path) if pdf_path else None})
        return
    console.print(
        f"report {html_path}" + (f"\n       {pdf_path}" if pdf_path else ""), highlight=False
    )
