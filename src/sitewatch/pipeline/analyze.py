"""A site's analysis, from chips and detections to alerts: observe, change, score, assess, alert.

The whole analysis of a site is computed from what is stored and saved in one transaction with
a fingerprint of its inputs (chips, detection sets, quality, rule packs, options, sinks). When
the fingerprint is unchanged there is nothing to do; when anything changed the analysis is
computed again from the start, so an interrupted run and an uninterrupted one end in the same
state. Alerts already stored are never changed by this (their review belongs to the analyst);
new ones get an outbox row per sink in the same transaction.

Detections are read back in grid pixels: a chip's detection set was made at read scale
`params.read_scale` (output over grid pixel size), so its pixel coordinates are multiplied by
that scale.
Pixel change uses the first three bands of both chips, plus a fourth as NIR when both have it
(chips keep the band order of their scenes: RGB or RGBN).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from affine import Affine

from sitewatch.alerts.policy import derive_alerts
from sitewatch.alerts.sinks import AlertSink
from sitewatch.change.objects import MatchOptions, match_objects
from sitewatch.change.pixels import (
    PixelChangeOptions,
    change_from_probability,
    detect_change,
    to_byte_range,
)
from sitewatch.core.analytics import (
    Alert,
    ObjectChange,
    Observation,
    OutboxItem,
    PixelChange,
    Score,
    alert_to_dict,
)
from sitewatch.core.models import (
    ChipRecord,
    Detection,
    DetectionSetRecord,
    ObjectClass,
    QualityThresholds,
    Site,
    SiteGrid,
    Zone,
)
from sitewatch.core.ports import ChangeModel, Store
from sitewatch.detect.calibration import Knots, calibrate
from sitewatch.geo.crs import WGS84, transform_points
from sitewatch.imagery.chipread import mask_polygons, read_chip, read_valid_mask
from sitewatch.imagery.pixels import read_image
from sitewatch.imagery.quality import zone_masks
from sitewatch.indicators.assess import SiteEvidence, assess_site
from sitewatch.indicators.rules import RulePack
from sitewatch.reports.evidence import render_chip_pair, render_timeline
from sitewatch.timeseries.baseline import BaselineOptions, score_series
from sitewatch.timeseries.observe import DayImage, observe_zones


@dataclass(frozen=True)
class AnalysisOptions:
    """Everything the analysis takes besides the store (recorded in the fingerprint)."""

    thresholds: QualityThresholds = field(default_factory=QualityThresholds)
    baseline: BaselineOptions = field(default_factory=BaselineOptions)
    match: MatchOptions = field(default_factory=MatchOptions)
    pixel: PixelChangeOptions = field(default_factory=PixelChangeOptions)
    evidence: bool = True


@dataclass
class SiteAnalysis:
    """What one analysis of a site found."""

    site_id: str
    observations: int = 0
    assessments: int = 0
    new_alerts: list[Alert] = field(default_factory=list)
    skipped: bool = False


def chip_sets(
    chips: Sequence[ChipRecord], sets: Sequence[DetectionSetRecord], model_sha256: str
) -> dict[str, DetectionSetRecord]:
    """The detection set of each chip made with the given model."""
    out = {}
    for s in sets:
        if s.chip_key is not None and s.model_sha256 == model_sha256:
            out[s.chip_key] = s
    return {c.key: out[c.key] for c in chips if c.key in out}


def fingerprint(
    site: Site,
    grid: SiteGrid,
    chips: Sequence[ChipRecord],
    sets: dict[str, DetectionSetRecord],
    quality: Sequence[Any],
    packs: Sequence[RulePack],
    options: AnalysisOptions,
    sinks: Sequence[str],
    calibration: Mapping[ObjectClass, Knots] | None = None,
    change_params: Mapping[str, Any] | None = None,
) -> str:
    """sha256 of everything a site's analysis is computed from."""
    doc = {
        "zones": [
            (z.id, z.kind.value, z.geometry.wkt, [c.value for c in z.classes]) for z in site.zones
        ],
        "grid": [grid.crs, grid.gsd_m, grid.west, grid.north, grid.width, grid.height],
        "chips": [(c.key, list(c.scene_ids), c.valid_fraction, list(c.shift_px)) for c in chips],
        "sets": sorted((k, s.id) for k, s in sets.items()),
        "quality": sorted((q.scene_id, q.zone_id, q.usable, q.reason) for q in quality),
        "packs": [(p.ref, repr(p)) for p in packs],
        "options": json.dumps(asdict(options), sort_keys=True, default=str),
        "sinks": sorted(sinks),
        "calibration": sorted((c.value, list(k)) for c, k in (calibration or {}).items()),
        "change_model": dict(change_params or {}),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def grid_detections(store: Store, rec: DetectionSetRecord) -> list[Detection]:
    """A stored chip detection set in grid pixels (its coordinates times its read scale)."""
    scale = float(rec.params.get("read_scale", 1.0) or 1.0)
    dets = store.list_detections(rec.id)
    if scale == 1.0:
        return dets
    return [replace(d, box=d.box.scaled(scale)) for d in dets]


def _lonlat(grid: SiteGrid, xy: npt.NDArray[np.float64]) -> list[tuple[float, float]]:
    if len(xy) == 0:
        return []
    tr = grid.transform
    mx = tr.a * xy[:, 0] + tr.c
    my = tr.e * xy[:, 1] + tr.f
    lon, lat = transform_points(mx, my, grid.crs, WGS84)
    return [(round(float(a), 7), round(float(b), 7)) for a, b in zip(lon, lat, strict=True)]


def zone_window(mask: npt.NDArray[np.bool_], margin: int) -> tuple[int, int, int, int]:
    """(row0, col0, row1, col1) around a mask's True pixels, `margin` wider, inside the grid."""
    rows, cols = np.nonzero(mask)
    h, w = mask.shape
    return (
        max(0, int(rows.min()) - margin),
        max(0, int(cols.min()) - margin),
        min(h, int(rows.max()) + 1 + margin),
        min(w, int(cols.max()) + 1 + margin),
    )


def analyze_site(
    store: Store,
    site_id: str,
    model_sha256: str,
    packs: Sequence[RulePack],
    sinks: Sequence[AlertSink],
    out_dir: Path,
    options: AnalysisOptions,
    model_id: str = "",
    no_detections_reason: str = "",
    calibration: Mapping[ObjectClass, Knots] | None = None,
    change_model: ChangeModel | None = None,
) -> SiteAnalysis:
    """Analyse one site (nothing happens when its inputs have not changed since the last time).

    Chips without a detection set of the model (`no_detections_reason` says why) still give
    usable-or-not observations without counts, and pixel change: from `change_model` where the
    site's GSD lies in its range, else from the unsupervised test of change.pixels.
    """
    site: Site = store.get_site(site_id)
    grid = store.get_grid(site_id)
    chips = sorted(store.list_chips(site_id), key=lambda c: (c.acquired_on, c.key))
    sets = chip_sets(chips, store.list_detection_sets(site_id=site_id), model_sha256)
    quality = store.list_quality(site_id)
    learned = change_model if change_model and change_model.accepts(grid.gsd_m) else None
    pixel_params = pixel_change_params(options.pixel, learned)
    fp = fingerprint(
        site,
        grid,
        chips,
        sets,
        quality,
        packs,
        options,
        [s.name for s in sinks],
        calibration,
        pixel_params,
    )
    result = SiteAnalysis(site_id)
    if store.get_fingerprint(site_id) == fp:
        result.skipped = True
        return result
    masks = zone_masks(site, grid)
    gsd = grid.gsd_m
    table = dict(calibration or {})

    def probability(cls: ObjectClass, score: float) -> float:
        return calibrate(score, table.get(cls, ()))

    # observations, one chip at a time (only the valid mask and detections are kept)
    observations: list[Observation] = []
    dets_by_key: dict[str, list[Detection]] = {}
    for chip in chips:
        valid = read_valid_mask(Path(chip.tif_path))
        found = grid_detections(store, sets[chip.key]) if chip.key in sets else None
        dets_by_key[chip.key] = found or []
        day = DayImage(
            chip.key, chip.acquired_on, chip.scene_ids, valid, found, no_detections_reason
        )
        observations += observe_zones(
            site, day, masks, quality, gsd, options.thresholds, probability
        )

    usable_keys: dict[str, list[ChipRecord]] = {}
    usable = {(o.zone_id, o.chip_key) for o in observations if o.usable}
    for zone in site.zones:
        usable_keys[zone.id] = [c for c in chips if (zone.id, c.key) in usable]

    # object change between consecutive usable dates of each zone
    object_changes: list[ObjectChange] = []
    for zone in site.zones:
        mask = masks[zone.id]
        seq = usable_keys[zone.id]
        for a, b in itertools.pairwise(seq):
            if a.key not in sets or b.key not in sets:
                continue
            for cls in zone.classes or tuple(ObjectClass):
                pa = _zone_objects(dets_by_key[a.key], mask, cls, gsd)
                pb = _zone_objects(dets_by_key[b.key], mask, cls, gsd)
                m = match_objects(pa, pb, options.match)
                object_changes.append(
                    ObjectChange(
                        site_id,
                        zone.id,
                        cls,
                        a.acquired_on,
                        b.acquired_on,
                        tuple(_lonlat(grid, pb[list(m.appeared), :2] / gsd)),
                        tuple(_lonlat(grid, pa[list(m.disappeared), :2] / gsd)),
                        len(m.pairs),
                        options.match.base_tolerance_m,
                    )
                )

    # pixel change between consecutive usable dates (reused when already computed)
    known = {(c.zone_id, c.before_key, c.after_key): c for c in store.list_pixel_changes(site_id)}
    pixel_changes: list[PixelChange] = []
    cache: dict[str, tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]] = {}
    probabilities: dict[tuple[str, str], npt.NDArray[np.float32]] = {}
    for zone in site.zones:
        seq = usable_keys[zone.id]
        for a, b in itertools.pairwise(seq):
            key = (zone.id, a.key, b.key)
            if key in known and known[key].params == pixel_params:
                pixel_changes.append(known[key])
                continue
            pixel_changes.append(
                _pixel_change(
                    site_id,
                    zone.id,
                    a,
                    b,
                    masks[zone.id],
                    grid,
                    options,
                    cache,
                    learned,
                    probabilities,
                    pixel_params,
                )
            )
            if len(cache) > 4:
                cache.clear()
            if len(probabilities) > 2:
                probabilities.clear()

    zone_names = {z.id: z.name or z.id for z in site.zones}
    scores = score_series(observations, options.baseline, zone_names)
    evidence = SiteEvidence(site, observations, scores, object_changes, pixel_changes)
    days = sorted({c.acquired_on for c in chips})
    assessments = []
    alerts: list[Alert] = []
    for pack in packs:
        pack_assessments = assess_site(pack, evidence, days)
        assessments += pack_assessments
        alerts += derive_alerts(pack_assessments, pack)

    stored = {a.id for a in store.list_alerts(site_id)}
    new_alerts = []
    for al in alerts:
        if al.id in stored:
            continue
        ev = _alert_evidence(
            al,
            site,
            grid,
            chips,
            masks,
            observations,
            scores,
            dets_by_key,
            out_dir,
            options,
            model_id,
            model_sha256,
        )
        new_alerts.append(replace(al, evidence=ev))
    outbox = [
        OutboxItem(
            hashlib.sha256(f"{al.id}|{sink.name}".encode()).hexdigest()[:32],
            al.id,
            sink.name,
            "pending",
            0,
            None,
            None,
            {
                "delivery_id": hashlib.sha256(f"{al.id}|{sink.name}".encode()).hexdigest()[:32],
                "alert": alert_to_dict(al),
            },
        )
        for al in new_alerts
        for sink in sinks
    ]
    store.save_analysis(
        site_id,
        fp,
        observations,
        object_changes,
        pixel_changes,
        scores,
        assessments,
        new_alerts,
        outbox,
    )
    result.observations = len(observations)
    result.assessments = len(assessments)
    result.new_alerts = new_alerts
    return result


def _zone_objects(
    dets: Sequence[Detection], mask: npt.NDArray[np.bool_], cls: ObjectClass, gsd: float
) -> npt.NDArray[np.float64]:
    rows, cols = mask.shape
    out = []
    for d in dets:
        if d.object_class != cls:
            continue
        r = min(max(int(d.box.cy), 0), rows - 1)
        c = min(max(int(d.box.cx), 0), cols - 1)
        if mask[r, c]:
            out.append((d.box.cx * gsd, d.box.cy * gsd, d.box.length_px * gsd))
    return np.array(out, dtype=np.float64).reshape(-1, 3)


def _pixel_change(
    site_id: str,
    zone_id: str,
    a: ChipRecord,
    b: ChipRecord,
    mask: npt.NDArray[np.bool_],
    grid: SiteGrid,
    options: AnalysisOptions,
    cache: dict[str, tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]],
    learned: ChangeModel | None,
    probabilities: dict[tuple[str, str], npt.NDArray[np.float32]],
    params: dict[str, Any],
) -> PixelChange:
    for c in (a, b):
        if c.key not in cache:
            cache[c.key] = read_chip(Path(c.tif_path))
    da, va = cache[a.key]
    db, vb = cache[b.key]
    r0, c0, r1, c1 = zone_window(mask, 0)
    nb = min(da.shape[0], db.shape[0])
    bands = list(range(min(nb, 3)))
    opts = options.pixel
    if nb >= 4:
        bands.append(3)
        opts = replace(opts, nir_band=len(bands) - 1, red_band=0)
    sub_mask = mask[r0:r1, c0:c1] & va[r0:r1, c0:c1] & vb[r0:r1, c0:c1]
    if learned is not None:
        # the model sees the whole chip pair once (context beyond the zone), then each zone
        if (a.key, b.key) not in probabilities:
            both = va & vb
            probabilities[(a.key, b.key)] = learned.probability(
                to_byte_range(da, both), to_byte_range(db, both), grid.gsd_m
            )
        prob = probabilities[(a.key, b.key)][r0:r1, c0:c1]
        cmap = change_from_probability(prob, sub_mask, learned.threshold, opts.min_area_px)
    else:
        cmap = detect_change(da[bands, r0:r1, c0:c1], db[bands, r0:r1, c0:c1], sub_mask, opts)
    changed = cmap.changed & sub_mask
    judged = int(sub_mask.sum())
    tr = grid.transform
    sub_tr = Affine(tr.a, tr.b, tr.c + c0 * tr.a, tr.d, tr.e, tr.f + r0 * tr.e)
    return PixelChange(
        site_id,
        zone_id,
        a.key,
        b.key,
        a.acquired_on,
        b.acquired_on,
        round(float(changed.sum()) / judged, 4) if judged else 0.0,
        round(float(changed.sum()) * grid.gsd_m**2, 1),
        mask_polygons(changed, sub_tr, grid.crs),
        params,
    )


def pixel_change_params(options: PixelChangeOptions, learned: ChangeModel | None) -> dict[str, Any]:
    """The parameters recorded with each pixel-change result."""
    return (
        learned.params() | {"min_area_px": options.min_area_px} if learned else options.to_params()
    )


def _alert_evidence(
    alert: Alert,
    site: Site,
    grid: SiteGrid,
    chips: Sequence[ChipRecord],
    masks: dict[str, npt.NDArray[np.bool_]],
    observations: Sequence[Observation],
    scores: Sequence[Score],
    dets_by_key: dict[str, list[Detection]],
    out_dir: Path,
    options: AnalysisOptions,
    model_id: str,
    model_sha256: str,
) -> dict[str, Any]:
    """Before/after chips of the zones behind an alert and their timelines (files), with ids."""
    folder = out_dir / "evidence" / alert.id
    ev: dict[str, Any] = {
        "scene_ids": sorted(
            {s for c in chips if c.acquired_on == alert.as_of for s in c.scene_ids}
        ),
        "model_id": model_id,
        "model_sha256": model_sha256,
        "rule_pack": alert.rule_pack,
        "folder": str(folder),
        "chips": {},
        "timelines": {},
    }
    if not options.evidence:
        return ev
    after = next((c for c in chips if c.acquired_on == alert.as_of), None)
    by_key = {c.key: c for c in chips}
    images: dict[str, npt.NDArray[np.uint8]] = {}
    for zone in site.zones:
        usable_days = [
            o
            for o in observations
            if o.zone_id == zone.id and o.usable and o.observed_on < alert.as_of
        ]
        before = by_key.get(usable_days[-1].chip_key) if usable_days else None
        if after is not None and before is not None and masks[zone.id].any():
            p = render_zone_pair(
                folder / f"{zone.id}-before-after.png",
                zone,
                before,
                after,
                masks[zone.id],
                dets_by_key[before.key],
                dets_by_key[after.key],
                images,
            )
            ev["chips"][zone.id] = str(p)
    for key, _, path in render_zone_timelines(folder, site, observations, scores, [alert.as_of]):
        ev["timelines"][key] = str(path)
    return ev


def render_zone_pair(
    path: Path,
    zone: Zone,
    before: ChipRecord,
    after: ChipRecord,
    mask: npt.NDArray[np.bool_],
    before_dets: Sequence[Detection],
    after_dets: Sequence[Detection],
    images: dict[str, npt.NDArray[np.uint8]],
) -> Path:
    """Before/after chips of a zone with its detections drawn; `images` caches chips by key."""
    win = zone_window(mask, 20)
    for chip in (before, after):
        if chip.key not in images:
            images[chip.key] = read_image(Path(chip.tif_path))
    return render_chip_pair(
        path,
        images[before.key],
        images[after.key],
        in_window(before_dets, win),
        in_window(after_dets, win),
        win,
        (f"{zone.name or zone.id}: {before.acquired_on}", str(after.acquired_on)),
    )


def render_zone_timelines(
    folder: Path,
    site: Site,
    observations: Sequence[Observation],
    scores: Sequence[Score],
    marks: Sequence[date],
) -> list[tuple[str, str, Path]]:
    """One count timeline per zone and class that has seen anything, against its baseline band:
    ('zone/class', title, file)."""
    by = {(s.zone_id, s.object_class, s.observed_on): s for s in scores}
    out = []
    for zone in site.zones:
        for cls in zone.classes or tuple(ObjectClass):
            series = sorted(
                (o for o in observations if o.zone_id == zone.id and o.object_class == cls),
                key=lambda o: o.observed_on,
            )
            if not any(o.count for o in series):
                continue
            sc = [by.get((zone.id, cls, o.observed_on)) for o in series]
            title = f"{zone.name or zone.id}: {cls.value.replace('_', ' ')}"
            path = render_timeline(
                folder / f"timeline-{zone.id}-{cls.value}.png",
                title,
                [o.observed_on for o in series],
                [o.count for o in series],
                [x.band_low if x else None for x in sc],
                [x.band_high if x else None for x in sc],
                marks,
            )
            out.append((f"{zone.id}/{cls.value}", title, path))
    return out


def in_window(dets: Sequence[Detection], win: tuple[int, int, int, int]) -> list[Detection]:
    """The detections whose centres lie in a (row0, col0, row1, col1) window."""
    r0, c0, r1, c1 = win
    return [d for d in dets if c0 <= d.box.cx < c1 and r0 <= d.box.cy < r1]
