"""`sitewatch run`: every new scene of every site through chips, detection, analysis and alerts.

Each step is keyed and committed on its own, so a second run finds nothing to do and a run that
is killed at any point and started again ends in the state an uninterrupted run would reach:
* chips: one `make_chips` per (site, day) that has scenes but no chip, one transaction each;
* detection: one stored set per chip without a set from this model, one transaction each;
* analysis: per site, one transaction with a fingerprint of its inputs (pipeline/analyze.py);
* delivery: the outbox, one update per attempt (pipeline/alerting.py).
A site that fails is recorded and the run goes on with the next; the run fails if any did.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sitewatch.alerts.sinks import AlertSink
from sitewatch.core.analytics import Alert
from sitewatch.core.models import RunReport
from sitewatch.core.ports import ChangeModel, Detector, Store
from sitewatch.detect.run import DetectOptions
from sitewatch.errors import InputError, SitewatchError
from sitewatch.indicators.rules import RulePack
from sitewatch.pipeline.alerting import DeliveryOptions, DeliveryReport, deliver_outbox
from sitewatch.pipeline.analyze import AnalysisOptions, analyze_site
from sitewatch.pipeline.chips import ChipOptions, make_chips
from sitewatch.pipeline.detect import detect_chip, read_scale
from sitewatch.pipeline.progress import Progress, no_progress
from sitewatch.types import utc_now


@dataclass(frozen=True)
class RunOptions:
    """Options of every step of a run."""

    chips: ChipOptions = field(default_factory=ChipOptions)
    detect: DetectOptions = field(default_factory=DetectOptions)
    analysis: AnalysisOptions = field(default_factory=AnalysisOptions)
    delivery: DeliveryOptions = field(default_factory=DeliveryOptions)
    # a learned pixel-change model, used where a site's GSD is in its range
    change_model: ChangeModel | None = field(default=None, compare=False)


@dataclass
class RunResult:
    """What a run did, per step."""

    chips_made: int = 0
    detection_sets: int = 0
    sites_analysed: list[str] = field(default_factory=list)
    new_alerts: list[Alert] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    report: RunReport | None = None

    @property
    def nothing_new(self) -> bool:
        """True when the run changed nothing."""
        return not (
            self.chips_made
            or self.detection_sets
            or self.sites_analysed
            or self.delivery.delivered
            or self.delivery.retrying
            or self.delivery.failed
        )


def run_watch(
    store: Store,
    detector: Detector,
    packs: Sequence[RulePack],
    sinks: Sequence[AlertSink],
    out_dir: Path,
    options: RunOptions = RunOptions(),
    progress: Progress = no_progress,
) -> RunResult:
    """Process every site; see the module docstring."""
    started = utc_now()
    result = RunResult()
    sites = store.list_sites()
    for n, site in enumerate(sites, 1):
        progress(n - 1, len(sites), site.id)
        try:
            _run_site(store, site.id, detector, packs, sinks, out_dir, options, result)
        except SitewatchError as exc:
            result.failed.append((site.id, str(exc)))
    progress(len(sites), len(sites), "deliver")
    result.delivery = deliver_outbox(store, sinks, options.delivery)
    params: dict[str, Any] = {
        "chips_made": result.chips_made,
        "detection_sets": result.detection_sets,
        "sites_analysed": result.sites_analysed,
        "new_alerts": [a.id for a in result.new_alerts],
        "delivered": len(result.delivery.delivered),
        "packs": [p.ref for p in packs],
        "model": detector.info.model_id,
    }
    report = RunReport(
        run_id=str(uuid.uuid4()),
        kind="run",
        started_at=started,
        finished_at=utc_now(),
        ok=tuple(s.id for s in sites if s.id not in {f[0] for f in result.failed}),
        skipped=tuple(result.skipped),
        failed=tuple(result.failed),
        params=params,
    )
    store.record_run(report)
    result.report = report
    return result


def _run_site(
    store: Store,
    site_id: str,
    detector: Detector,
    packs: Sequence[RulePack],
    sinks: Sequence[AlertSink],
    out_dir: Path,
    options: RunOptions,
    result: RunResult,
) -> None:
    scenes = store.list_scenes(site_id)
    if not scenes:
        return
    chips = store.list_chips(site_id)
    have = {c.acquired_on for c in chips}
    # a chip whose scenes reach a zone but have no quality row (the zones were re-imported
    # and changed) is made again
    judged = {q.scene_id for q in store.list_quality(site_id)}
    reaching = {
        c.scene_id
        for c in store.list_coverage(site_id=site_id)
        if c.zone_id and c.covered_fraction > 0
    }
    stale = {
        c.acquired_on for c in chips if any(s in reaching and s not in judged for s in c.scene_ids)
    }
    for day in sorted(({s.acquired_on for s in scenes} - have) | stale):
        made = make_chips(store, site_id, out_dir / "chips", on=day, options=options.chips)
        result.chips_made += len(made.chips)
    site = store.get_site(site_id)
    done = {
        s.chip_key
        for s in store.list_detection_sets(site_id=site_id)
        if s.model_sha256 == detector.info.sha256
    }
    skip_reason = ""
    try:
        read_scale(site.gsd_m, detector, options.detect.force_gsd, f"site {site_id}")
    except InputError as exc:
        skip_reason = f"not detected: {str(exc).split(';')[0]}"
        result.skipped.append((site_id, skip_reason))
    for chip in store.list_chips(site_id):
        if chip.key not in done and not skip_reason:
            detect_chip(store, site, chip, detector, options.detect, None)
            result.detection_sets += 1
    analysis = analyze_site(
        store,
        site_id,
        detector.info.sha256,
        packs,
        sinks,
        out_dir,
        options.analysis,
        detector.info.model_id,
        skip_reason,
        detector.info.calibration,
        options.change_model,
    )
    if not analysis.skipped:
        result.sites_analysed.append(site_id)
        result.new_alerts += analysis.new_alerts
