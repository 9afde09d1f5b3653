"""Zone observations: detections counted inside zones, the several-scenes-per-day rule, missing
observations instead of zeros, chips without detections."""

from __future__ import annotations

from datetime import date

import numpy as np
from shapely.geometry import box

from sitewatch.core.models import (
    Detection,
    ObjectClass,
    OrientedBox,
    QualityThresholds,
    Site,
    Zone,
    ZoneKind,
    ZoneQuality,
)
from sitewatch.timeseries.observe import DayImage, observe_zones

LV = ObjectClass.LARGE_VEHICLE
SITE = Site(
    "s", "S", box(0, 0, 1, 1), zones=(Zone("hall", "s", ZoneKind.ASSEMBLY, box(0, 0, 1, 1), (LV,)),)
)
MASKS = {"hall": np.zeros((20, 20), dtype=bool)}
MASKS["hall"][0:10, 0:10] = True
T = QualityThresholds()


def _q(scene: str, reason: str = "ok") -> ZoneQuality:
    return ZoneQuality(scene, "s", "hall", 1.0, 0.0, 0.0, 0.1, reason == "ok", reason)


def _det(x: float, y: float) -> Detection:
    return Detection(LV, 0.8, OrientedBox(x, y, 6, 2, 0))


def _day(
    scenes: tuple[str, ...], valid: np.ndarray | None = None, dets: list[Detection] | None = None
) -> DayImage:
    v = np.ones((20, 20), dtype=bool) if valid is None else valid
    return DayImage(
        "k",
        date(2019, 2, 22),
        scenes,
        v,
        [_det(3, 3), _det(5, 8), _det(15, 15)] if dets is None else dets,
    )


def test_counts_inside_the_zone_only_with_expected_count() -> None:
    [o] = observe_zones(SITE, _day(("a",)), MASKS, [_q("a")], 0.5, T)
    assert o.usable and o.count == 2 and o.expected_count == 1.6 and o.area_observed_m2 == 25.0


def test_a_cloud_in_any_scene_of_the_day_makes_the_zone_missing() -> None:
    quality = [_q("a"), _q("b", "cloud score 0.80 > 0.30")]
    [o] = observe_zones(SITE, _day(("a", "b")), MASKS, quality, 0.5, T)
    assert not o.usable and o.count is None and "cloud score" in o.reason


def test_mosaic_coverage_decides_not_each_scene() -> None:
    # scene a covers 60% of the zone, scene b the rest: the mosaic covers it all
    quality = [_q("a", "covered 60% < 80%"), _q("b", "covered 40% < 80%")]
    [o] = observe_zones(SITE, _day(("a", "b")), MASKS, quality, 0.5, T)
    assert o.usable and o.count == 2
    half = np.ones((20, 20), dtype=bool)
    half[:, 5:] = False
    [o] = observe_zones(SITE, _day(("a",), valid=half), MASKS, [_q("a")], 0.5, T)
    assert not o.usable and o.count is None and o.reason.startswith("covered 50%")


def test_chip_without_detections_is_usable_without_a_count() -> None:
    day = DayImage(
        "k", date(2019, 2, 22), ("a",), np.ones((20, 20), dtype=bool), None, "not detected: 5 m"
    )
    [o] = observe_zones(SITE, day, MASKS, [_q("a")], 0.5, T)
    assert o.usable and o.count is None and o.reason == "not detected: 5 m"
