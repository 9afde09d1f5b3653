"""Site chips: every scene of a site warped onto its grid, mosaicked per day, quality-scored,
co-registered against a reference date, and written as COG + PNG.

Rules a successor needs:
* One chip per (UTC day, band count, pixel type): scenes of the same day are mosaicked, the
  scene that covers more of the site first; later scenes fill only pixels still empty.
* The reference chip of a site is its earliest chip with at least half the grid valid (so it
  stays put as later scenes arrive). Other chips are measured against it by phase correlation;
  with co-registration on, an accepted shift is applied by warping the scenes again with the
  grid shifted by that amount, and the residual is measured on the result.
* Quality is per scene and zone, from that scene's own warped pixels, for the zones the scene
  reaches. Merging several scenes of one day into one observation is the analytics' job.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sitewatch.core.models import (
    Chip,
    ChipRecord,
    Coregistration,
    QualityThresholds,
    RunReport,
    Scene,
    Site,
    SiteGrid,
    ZoneQuality,
)
from sitewatch.core.ports import Store
from sitewatch.errors import NoOverlapError, NotFoundError, SitewatchError
from sitewatch.imagery.coreg import measure_shift
from sitewatch.imagery.quality import assess_zone_quality, zone_masks
from sitewatch.imagery.warp import render_on_grid
from sitewatch.imagery.write import write_chip_cog, write_quicklook_png
from sitewatch.pipeline.progress import Progress, no_progress
from sitewatch.types import utc_now

MIN_REFERENCE_VALID = 0.5


@dataclass(frozen=True)
class ChipOptions:
    """How chips are made."""

    thresholds: QualityThresholds = field(default_factory=QualityThresholds)
    coregister: bool = True
    min_confidence: float = 0.3
    max_shift_px: float = 32.0


@dataclass
class ChipResult:
    """What one chips run made."""

    chips: list[ChipRecord] = field(default_factory=list)
    quality: list[ZoneQuality] = field(default_factory=list)
    coregistrations: list[Coregistration] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    report: RunReport | None = None


@dataclass
class _Mosaic:
    key: str
    day: date
    scenes: list[Scene]
    data: npt.NDArray[Any] | None = None
    valid: npt.NDArray[np.bool_] | None = None


def _groups(scenes: list[Scene], cover: dict[str, float]) -> list[_Mosaic]:
    by: dict[tuple[date, int, str], list[Scene]] = defaultdict(list)
    for s in scenes:
        by[(s.acquired_on, s.band_count, s.dtype)].append(s)
    per_day: dict[date, int] = defaultdict(int)
    for d, _, _ in by:
        per_day[d] += 1
    out = []
    for (d, n, dtype), group in sorted(by.items()):
        key = d.strftime("%Y%m%d") + (f"-{n}b-{dtype}" if per_day[d] > 1 else "")
        group.sort(key=lambda s: (-cover.get(s.id, 0.0), s.id))
        out.append(_Mosaic(key, d, group))
    return out


def _render(
    mosaic: _Mosaic, grid: SiteGrid, shift: tuple[float, float], failed: list[tuple[str, str]]
) -> list[tuple[Scene, npt.NDArray[Any], npt.NDArray[np.bool_]]]:
    """Warp each scene of a mosaic (with a shift) and fill the mosaic; return per-scene arrays."""
    parts = []
    mosaic.data, mosaic.valid = None, None
    for scene in mosaic.scenes:
        try:
            data, valid = render_on_grid(Path(scene.path), grid, shift_px=shift)
        except NoOverlapError:
            continue
        except SitewatchError as exc:
            failed.append((scene.id, str(exc)))
            continue
        if mosaic.data is None or mosaic.valid is None:
            mosaic.data, mosaic.valid = data.copy(), valid.copy()
        else:
            fill = valid & ~mosaic.valid
            mosaic.data[:, fill] = data[:, fill]
            mosaic.valid |= fill
        parts.append((scene, data, valid))
    return parts


def make_chips(
    store: Store,
    site_id: str,
    out_dir: Path,
    on: date | None = None,
    options: ChipOptions = ChipOptions(),
    progress: Progress = no_progress,
) -> ChipResult:
    """Render, score, co-register and write the chips of a site (all dates, or one day).

    Raises:
        NotFoundError: unknown site, or no scene of the site (on that day).
    """
    started = utc_now()
    site: Site = store.get_site(site_id)
    grid = store.get_grid(site_id)
    zcover = {
        (c.scene_id, c.zone_id): c.covered_fraction for c in store.list_coverage(site_id=site_id)
    }
    cover = {scene_id: f for (scene_id, zone_id), f in zcover.items() if zone_id is None}
    all_scenes = store.list_scenes(site_id)
    if not all_scenes:
        raise NotFoundError(
            f"site '{site_id}' has no scenes yet; run 'sitewatch ingest PATH' first"
        )
    mosaics = _groups(all_scenes, cover)
    wanted = [m for m in mosaics if on is None or m.day == on]
    if not wanted:
        days = ", ".join(sorted({m.day.isoformat() for m in mosaics}))
        raise NotFoundError(f"site '{site_id}' has no scene on {on}; dates with scenes: {days}")
    masks = zone_masks(site, grid)
    result = ChipResult()
    total = len(wanted) + 1

    # the reference: earliest mosaic with enough valid pixels
    reference: _Mosaic | None = None
    ref_parts: list[tuple[Scene, npt.NDArray[Any], npt.NDArray[np.bool_]]] = []
    for m in mosaics:
        ref_parts = _render(m, grid, (0.0, 0.0), [])
        if m.valid is not None and float(m.valid.mean()) >= MIN_REFERENCE_VALID:
            reference = m
            break
        m.data, m.valid = None, None
    progress(1, total, "reference")

    site_dir = out_dir / site_id
    for n, m in enumerate(wanted, start=2):
        progress(n - 1, total, m.key)
        parts = ref_parts if m is reference else _render(m, grid, (0.0, 0.0), result.failed)
        if m.data is None or m.valid is None:
            continue
        for scene, data, valid in parts:
            for zone in site.zones:
                if zcover.get((scene.id, zone.id), 0.0) <= 0.0:
                    continue  # the scene does not reach this zone: nothing to judge
                result.quality.append(
                    assess_zone_quality(
                        scene.id,
                        site_id,
                        zone.id,
                        zcover.get((scene.id, zone.id), 0.0),
                        data,
                        valid,
                        masks[zone.id],
                        options.thresholds,
                    )
                )
        del parts
        shift = (0.0, 0.0)
        if (
            reference is not None
            and reference.data is not None
            and reference.valid is not None
            and m.key != reference.key
        ):
            est = measure_shift(
                reference.data,
                reference.valid,
                m.data,
                m.valid,
                options.min_confidence,
                options.max_shift_px,
            )
            residual: tuple[float | None, float | None] = (None, None)
            if est.accepted and options.coregister:
                shift = (est.dx_px, est.dy_px)
                _render(m, grid, shift, result.failed)
                if m.data is not None and m.valid is not None:
                    after = measure_shift(
                        reference.data, reference.valid, m.data, m.valid, 0.0, float("inf")
                    )
                    residual = (round(after.dx_px, 3), round(after.dy_px, 3))
            result.coregistrations.append(
                Coregistration(
                    site_id=site_id,
                    reference_key=reference.key,
                    target_key=m.key,
                    dx_px=round(est.dx_px, 3),
                    dy_px=round(est.dy_px, 3),
                    confidence=round(est.confidence, 3),
                    accepted=est.accepted,
                    reason=est.reason,
                    residual_dx_px=residual[0],
                    residual_dy_px=residual[1],
                )
            )
        if m.data is None or m.valid is None:
            continue
        chip = Chip(site_id, grid, m.data, m.valid, tuple(s.id for s in m.scenes), m.day, shift)
        tif = site_dir / f"{site_id}_{m.key}.tif"
        png = site_dir / f"{site_id}_{m.key}.png"
        write_chip_cog(chip, tif)
        write_quicklook_png(chip, png)
        result.chips.append(
            ChipRecord(
                site_id,
                m.key,
                m.day,
                chip.scene_ids,
                str(tif),
                str(png),
                round(chip.valid_fraction, 6),
                shift,
            )
        )
        if m is not reference:
            m.data, m.valid = None, None
    store.save_chip_results(result.chips, result.quality, result.coregistrations)
    progress(total, total, "done")
    report = RunReport(
        run_id=str(uuid.uuid4()),
        kind="chips",
        started_at=started,
        finished_at=utc_now(),
        ok=tuple(c.key for c in result.chips),
        failed=tuple(result.failed),
        params={
            "site": site_id,
            "date": on.isoformat() if on else None,
            "coregister": options.coregister,
            "out": str(out_dir),
        },
    )
    store.record_run(report)
    result.report = report
    return result
