"""`sitewatch report SITE`: gathers a site's state from the store, draws its figures and writes
the HTML and PDF report (reports/html.py).

Which images: the overview is the latest chip with the most valid pixels, zones drawn; the
evidence pairs are, per zone, the last two usable dates (or the before/after of the latest
alert when there is one); one timeline per zone and class that has seen anything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sitewatch.core.ports import Store
from sitewatch.geo.crs import WGS84, reproject_geometry
from sitewatch.imagery.pixels import read_image
from sitewatch.imagery.quality import zone_masks
from sitewatch.pipeline.analyze import (
    chip_sets,
    grid_detections,
    render_zone_pair,
    render_zone_timelines,
)
from sitewatch.reports.evidence import render_overview
from sitewatch.reports.html import AlertView, AssessmentView, ReportData, write_report


def build_report(
    store: Store, site_id: str, out_dir: Path, pdf: bool = True
) -> tuple[Path, Path | None]:
    """Write `<out_dir>/<site>-report.html` (and `.pdf`); a site without scenes gets a report that
    says so.

    Raises:
        NotFoundError: unknown site. InputError: a path that cannot be written.
    """
    site = store.get_site(site_id)
    grid = store.get_grid(site_id)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    data = ReportData(site.id, site.name or site.id, now, site.notes)
    files = out_dir / f"{site_id}-report-files"
    html_path = out_dir / f"{site_id}-report.html"
    pdf_path = out_dir / f"{site_id}-report.pdf" if pdf else None
    scenes = store.list_scenes(site_id)
    chips = sorted(store.list_chips(site_id), key=lambda c: (c.acquired_on, c.key))
    observations = store.list_observations(site_id)
    if not scenes or not chips or not observations:
        data.empty_reason = (
            f"Nothing to report yet for site '{site_id}': "
            f"{len(scenes)} scenes, {len(chips)} chips, {len(observations)} observations. "
            "Ingest imagery (sitewatch ingest PATH) and run sitewatch run."
        )
        return write_report(data, html_path, pdf_path)

    masks = zone_masks(site, grid)
    usable_days: dict[str, list[str]] = {}
    for o in observations:
        if o.usable:
            usable_days.setdefault(o.zone_id, [])
            if o.chip_key not in usable_days[o.zone_id]:
                usable_days[o.zone_id].append(o.chip_key)
    by_key = {c.key: c for c in chips}

    # overview: the latest chip with the most valid pixels
    best = max(chips, key=lambda c: (round(c.valid_fraction, 2), c.acquired_on))
    to_px = ~grid.transform
    rings = []
    for z in site.zones:
        g = reproject_geometry(z.geometry, WGS84, grid.crs)
        xy = np.asarray(g.exterior.coords) if hasattr(g, "exterior") else np.zeros((0, 2))
        rings.append((z.name or z.id, np.array([to_px * (x, y) for x, y in xy]).reshape(-1, 2)))
    data.overview = render_overview(
        files / "overview.png",
        read_image(Path(best.tif_path)),
        rings,
        f"{site.name or site.id}, {best.acquired_on}",
    )

    # assessments: the latest of each signature
    assessments = store.list_assessments(site_id)
    latest = {a.signature_id: a for a in assessments}
    data.assessments = [
        AssessmentView(
            a.signature_name,
            a.as_of.isoformat(),
            a.likelihood.words,
            a.confidence.value,
            a.probability,
            a.rationale,
            a.alternatives,
        )
        for a in latest.values()
    ]

    # timelines per zone and class
    alerts = store.list_alerts(site_id)
    marks = sorted({a.as_of for a in alerts})
    data.timelines = [
        (title, path)
        for _, title, path in render_zone_timelines(
            files, site, observations, store.list_scores(site_id), marks
        )
    ]

    # evidence: before/after per zone (the latest alert's, else the last two usable dates)
    all_sets = store.list_detection_sets(site_id=site_id)
    sets = chip_sets(chips, all_sets, all_sets[-1].model_sha256) if all_sets else {}
    focus = alerts[0].as_of if alerts else None
    images: dict[str, np.ndarray] = {}
    for z in site.zones:
        keys = usable_days.get(z.id, [])
        if focus is not None:
            keys = [k for k in keys if by_key[k].acquired_on <= focus]
        if len(keys) < 2 or not masks[z.id].any():
            continue
        before, after = by_key[keys[-2]], by_key[keys[-1]]
        p = render_zone_pair(
            files / f"evidence-{z.id}.png",
            z,
            before,
            after,
            masks[z.id],
            grid_detections(store, sets[before.key]) if before.key in sets else [],
            grid_detections(store, sets[after.key]) if after.key in sets else [],
            images,
        )
        data.evidence.append((f"{z.name or z.id}: {before.acquired_on} and {after.acquired_on}", p))

    data.alerts = [
        AlertView(
            a.id,
            a.as_of.isoformat(),
            a.title,
            a.status.value,
            [
                f"{s} by {r} on {at:%Y-%m-%d}" + (f": {n}" if n else "")
                for s, r, n, at in store.list_reviews(a.id)
            ],
        )
        for a in alerts
    ]
    models = sorted({(r.model_id, r.model_sha256) for r in all_sets})
    packs = sorted({a.rule_pack for a in assessments})
    params = all_sets[-1] if all_sets else None
    data.provenance = [
        ("site grid", f"{grid.crs}, {grid.gsd_m} m, {grid.width} x {grid.height} px"),
        ("models", "; ".join(f"{m} sha256 {h}" for m, h in models) or "none"),
        ("rule packs", ", ".join(packs) or "none"),
        ("detection parameters", str(dict(params.params)) if params else "-"),
        ("chips", f"{len(chips)} ({chips[0].acquired_on} to {chips[-1].acquired_on})"),
        (
            "generated imagery",
            "yes"
            if any(
                s.metadata.get("SITEWATCH_GENERATED") == "yes"
                or (s.sensor and s.sensor.startswith("SimSat"))
                for s in scenes
            )
            else "no",
        ),
    ]
    data.scenes = [
        [
            s.id,
            s.acquired_at.strftime("%Y-%m-%d"),
            s.sensor or "-",
            f"{s.gsd_m:.2f}",
            s.crs_label,
            Path(s.path).name,
        ]
        for s in scenes
    ]
    return write_report(data, html_path, pdf_path)
