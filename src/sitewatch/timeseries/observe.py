"""Zone observations: per site, zone, day and class, the count, the expected count, the area seen
and a usable verdict with its reason; pure (masks and detections come in as arrays).

The rule for a day with several scenes (they are mosaicked into one chip, see pipeline/chips.py):
* the zone is usable that day when the day's mosaic covers at least `min_covered_fraction` of
  the zone and no scene of that day that reaches the zone failed the cloud or haze test (a cloud
  in any of them may hide objects in the mosaic). Otherwise the reason is the first failure.
* counts come from the detections on the day's chip whose centre lies on a valid pixel inside
  the zone; `expected_count` is the sum of their calibrated scores (`probability`, built from
  the model's calibration by the pipeline; the raw scores when there is none).
An unusable zone gives an observation with count None: a missing observation, never a zero.
A chip without detections (its GSD is outside the model's range) gives usable observations with
count None and the reason: the image can still show pixel change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from sitewatch.core.analytics import Observation
from sitewatch.core.models import Detection, ObjectClass, QualityThresholds, Site, ZoneQuality

ATMOSPHERIC = ("cloud", "haze")


@dataclass(frozen=True)
class DayImage:
    """One chip of a site: its day, valid mask and detections in grid pixels."""

    key: str
    day: date
    scene_ids: tuple[str, ...]
    valid: npt.NDArray[np.bool_]
    detections: Sequence[Detection] | None
    no_detections_reason: str = ""


def usable_verdict(
    zone_id: str,
    scene_ids: Sequence[str],
    quality: Sequence[ZoneQuality],
    mosaic_covered: float,
    thresholds: QualityThresholds,
) -> tuple[bool, str]:
    """Whether a zone is usable on a day, and why not (the rule in the module docstring)."""
    rows = {(q.scene_id, q.zone_id): q for q in quality}
    reached = [rows[(s, zone_id)] for s in scene_ids if (s, zone_id) in rows]
    if not reached:
        return False, "no scene of the day reaches the zone"
    if mosaic_covered < thresholds.min_covered_fraction:
        return False, f"covered {mosaic_covered:.0%} < {thresholds.min_covered_fraction:.0%}"
    for q in reached:
        if q.reason.startswith(ATMOSPHERIC):
            return False, f"{q.reason} in scene {q.scene_id[:12]}"
    return True, "ok"


def observe_zones(
    site: Site,
    day: DayImage,
    masks: dict[str, npt.NDArray[np.bool_]],
    quality: Sequence[ZoneQuality],
    gsd_m: float,
    thresholds: QualityThresholds,
    probability: Callable[[ObjectClass, float], float] | None = None,
) -> list[Observation]:
    """One observation per zone and class of the site for one day's chip."""
    rows, cols = day.valid.shape
    dets = day.detections or []
    xs = np.array([d.box.cx for d in dets], dtype=np.float64)
    ys = np.array([d.box.cy for d in dets], dtype=np.float64)
    ci = np.clip(np.floor(xs).astype(int), 0, cols - 1) if xs.size else xs.astype(int)
    ri = np.clip(np.floor(ys).astype(int), 0, rows - 1) if ys.size else ys.astype(int)
    out = []
    for zone in site.zones:
        mask = masks[zone.id]
        n_zone = int(mask.sum())
        seen = mask & day.valid
        covered = float(seen.sum()) / n_zone if n_zone else 0.0
        ok, reason = usable_verdict(zone.id, day.scene_ids, quality, covered, thresholds)
        inside = seen[ri, ci] if xs.size else np.zeros(0, dtype=bool)
        for cls in zone.classes or tuple(ObjectClass):
            count: int | None = None
            expected: float | None = None
            why = reason
            if ok and day.detections is None:
                why = day.no_detections_reason or "no detections for this image"
            elif ok:
                sel = [
                    d
                    for d, hit in zip(dets, inside.tolist(), strict=True)
                    if hit and d.object_class == cls
                ]
                count = len(sel)
                to_p = probability or (lambda _c, score: score)
                expected = round(sum(to_p(d.object_class, d.score) for d in sel), 4)
            out.append(
                Observation(
                    site_id=site.id,
                    zone_id=zone.id,
                    observed_on=day.day,
                    object_class=cls,
                    count=count,
                    expected_count=expected,
                    area_observed_m2=round(float(seen.sum()) * gsd_m * gsd_m, 2),
                    usable=ok,
                    reason=why,
                    chip_key=day.key,
                    scene_ids=day.scene_ids,
                )
            )
    return out
