"""Assessments: likelihood from fired indicators, confidence from coverage, recency and independence."""

from __future__ import annotations

from datetime import date, timedelta

from shapely.geometry import box

from sitewatch.core.analytics import (
    Confidence,
    Likelihood,
    ObjectChange,
    Observation,
    Score,
)
from sitewatch.core.models import ObjectClass, Site, Zone, ZoneKind
from sitewatch.indicators.assess import SiteEvidence, assess_signature, likelihood_of
from sitewatch.indicators.rules import parse_rule_pack
from tests.indicators.test_rules import GOOD

LV, RC = ObjectClass.LARGE_VEHICLE, ObjectClass.RAIL_CAR
DAY = date(2019, 2, 22)

PACK = parse_rule_pack(
    {
        "pack": "t",
        "version": "1",
        "indicators": [
            *GOOD["indicators"],
            {
                "id": "rail",
                "zones": {"kinds": ["rail_yard"]},
                "metric": "appeared",
                "class": "rail_car",
                "window_days": 21,
                "threshold": 2,
                "weight": 1.2,
            },
            {
                "id": "many-trucks",
                "zones": {"kinds": ["assembly"]},
                "metric": "count",
                "class": "large_vehicle",
                "window_days": 14,
                "threshold": 5,
            },
        ],
        "signatures": [
            {
                "id": "prep",
                "name": "Preparation",
                "prior": 0.1,
                "positive": ["trucks", "rail", "many-trucks"],
                "negative": ["razed"],
            }
        ],
    },
    "t.yaml",
)

SITE = Site(
    "s",
    "S",
    box(0, 0, 1, 1),
    zones=(
        Zone("hall", "s", ZoneKind.ASSEMBLY, box(0, 0, 0.5, 0.5), (LV,), "Assembly hall"),
        Zone("yard", "s", ZoneKind.RAIL_YARD, box(0.5, 0.5, 1, 1), (RC,), "Rail yard"),
        Zone("pad", "s", ZoneKind.LAUNCH_PAD, box(0.5, 0, 1, 0.5), (), "Pad"),
    ),
)


def _obs(zone: str, cls: ObjectClass, day: date, count: int | None) -> Observation:
    return Observation(
        "s", zone, day, cls, count, None, 100.0, count is not None, "ok", "k", ("sc",)
    )


def _score(day: date, count: int, anomaly: float | None) -> Score:
    return Score(
        "s",
        "hall",
        LV,
        day,
        count,
        None if anomaly is None else 1 - anomaly,
        anomaly,
        1.0,
        0,
        2,
        14,
        date(2018, 6, 1),
        "ok" if anomaly is not None else "insufficient_history",
        f"{count} large vehicles at Assembly hall; usual 0-2 over 14 usable images since 2018-06",
    )


def test_scale_boundaries() -> None:
    assert likelihood_of(0.05) is Likelihood.REMOTE
    assert likelihood_of(0.5) is Likelihood.EVEN
    assert likelihood_of(0.7) is Likelihood.LIKELY
    assert likelihood_of(0.9) is Likelihood.VERY_LIKELY


def test_campaign_is_likely_with_a_rationale_built_from_the_evidence() -> None:
    ev = SiteEvidence(
        SITE,
        [_obs("hall", LV, DAY, 9), _obs("yard", RC, DAY, 6)],
        [_score(DAY, 9, 0.9999)],
        [
            ObjectChange(
                "s", "yard", RC, DAY - timedelta(days=5), DAY, ((1.0, 1.0),) * 6, (), 0, 3.0
            )
        ],
        [],
    )
    a = assess_signature(PACK.signatures[0], PACK, ev, DAY)
    assert a.likelihood in (Likelihood.LIKELY, Likelihood.VERY_LIKELY)
    assert "9 large vehicles at Assembly hall; usual 0-2" in a.rationale
    assert "6 rail cars appeared at Rail yard" in a.rationale
    fired = {r.indicator_id for r in a.indicators if r.fired}
    assert fired == {"trucks", "rail", "many-trucks"}
    # the pad has no pixel change measured: the negative indicator could not be judged
    assert any(r.indicator_id == "razed" and r.fired is None for r in a.indicators)
    assert a.confidence is Confidence.MODERATE  # 2 independent zone groups, 75% coverage


def test_nothing_seen_recently_is_low_confidence() -> None:
    old = DAY - timedelta(days=60)
    ev = SiteEvidence(SITE, [_obs("hall", LV, old, 1)], [_score(old, 1, 0.2)], [], [])
    a = assess_signature(PACK.signatures[0], PACK, ev, DAY)
    assert a.likelihood is Likelihood.UNLIKELY or a.likelihood is Likelihood.REMOTE
    assert a.confidence is Confidence.LOW
    assert "Could not judge" in a.rationale


def test_cloudy_zone_is_not_a_zero_count() -> None:
    ev = SiteEvidence(SITE, [_obs("hall", LV, DAY, None)], [], [], [])
    a = assess_signature(PACK.signatures[0], PACK, ev, DAY)
    many = next(r for r in a.indicators if r.indicator_id == "many-trucks")
    assert many.fired is None and "no usable image of Assembly hall" in many.evidence
