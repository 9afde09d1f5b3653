"""Frozen values of the analytics chain: observations, change, scores, assessments and alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sitewatch.core.models import ObjectClass


class Likelihood(StrEnum):
    """The standard analytic likelihood scale, lowest first."""

    REMOTE = "remote"
    UNLIKELY = "unlikely"
    EVEN = "roughly_even_chance"
    LIKELY = "likely"
    VERY_LIKELY = "very_likely"

    @property
    def rank(self) -> int:
        """0 (remote) .. 4 (very likely)."""
        return list(Likelihood).index(self)

    @property
    def words(self) -> str:
        """The level as an analyst writes it."""
        return self.value.replace("_", " ")


class Confidence(StrEnum):
    """How much the evidence behind an assessment can bear."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


class AlertStatus(StrEnum):
    """Where an alert is in its review."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


@dataclass(frozen=True)
class Observation:
    """What one day's image shows of one zone for one class.

    `count` and `expected_count` are None when the zone was not usable that day: a missing
    observation, never a zero. `reason` says why (or 'ok').
    """

    site_id: str
    zone_id: str
    observed_on: date
    object_class: ObjectClass
    count: int | None
    expected_count: float | None
    area_observed_m2: float
    usable: bool
    reason: str
    chip_key: str
    scene_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObjectChange:
    """Objects of one class that appeared, disappeared or stayed in a zone between two usable dates.

    Positions are (lon, lat) centres of the objects in WGS84.
    """

    site_id: str
    zone_id: str
    object_class: ObjectClass
    before_on: date
    after_on: date
    appeared: tuple[tuple[float, float], ...]
    disappeared: tuple[tuple[float, float], ...]
    persisting: int
    tolerance_m: float


@dataclass(frozen=True)
class PixelChange:
    """Pixel change of one zone between two aligned chips; polygons are GeoJSON in WGS84."""

    site_id: str
    zone_id: str
    before_key: str
    after_key: str
    before_on: date
    after_on: date
    changed_fraction: float
    changed_area_m2: float
    polygons: Mapping[str, Any]
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Score:
    """How unusual one observation is against the zone's own history.

    `tail_p` is P(count >= observed) under the baseline; `anomaly` is 1 - tail_p. Both are None,
    with reason 'insufficient_history', when the history cannot say what is usual.
    `band_low`/`band_high` is the baseline's 5-95% range.
    """

    site_id: str
    zone_id: str
    object_class: ObjectClass
    observed_on: date
    count: int
    tail_p: float | None
    anomaly: float | None
    expected: float | None
    band_low: int | None
    band_high: int | None
    n_history: int
    history_since: date | None
    reason: str
    sentence: str


@dataclass(frozen=True)
class IndicatorResult:
    """One indicator evaluated for a site as of a date.

    `fired` is None when the indicator could not be judged (no usable image of its zones in its
    window, or too little history); `evidence` says what was seen, in words.
    """

    indicator_id: str
    polarity: str
    fired: bool | None
    value: float | None
    zone_ids: tuple[str, ...]
    evidence: str
    weight: float
    group: str


@dataclass(frozen=True)
class Assessment:
    """A signature judged for a site as of a date: likelihood, confidence, rationale, alternatives."""

    id: str
    site_id: str
    signature_id: str
    signature_name: str
    as_of: date
    likelihood: Likelihood
    probability: float
    confidence: Confidence
    rationale: str
    alternatives: tuple[str, ...]
    indicators: tuple[IndicatorResult, ...]
    rule_pack: str
    scene_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Alert:
    """A meaningful transition of an assessment, with its evidence and its review state."""

    id: str
    site_id: str
    signature_id: str
    assessment_id: str
    as_of: date
    level: Likelihood
    previous_level: Likelihood | None
    confidence: Confidence
    title: str
    rationale: str
    rule_pack: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    status: AlertStatus = AlertStatus.OPEN
    reviewer: str | None = None
    note: str | None = None
    reviewed_at: datetime | None = None


@dataclass(frozen=True)
class OutboxItem:
    """One alert waiting for (or done with) delivery to one sink."""

    id: str
    alert_id: str
    sink: str
    status: str  # pending | delivered | failed
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    payload: Mapping[str, Any]


def alert_to_dict(a: Alert) -> dict[str, Any]:
    """An alert as JSON-able data (payloads, CLI output)."""
    return {
        "id": a.id,
        "site_id": a.site_id,
        "signature_id": a.signature_id,
        "assessment_id": a.assessment_id,
        "as_of": a.as_of.isoformat(),
        "level": a.level.value,
        "previous_level": a.previous_level.value if a.previous_level else None,
        "confidence": a.confidence.value,
        "title": a.title,
        "rationale": a.rationale,
        "rule_pack": a.rule_pack,
        "evidence": dict(a.evidence),
        "status": a.status.value,
        "reviewer": a.reviewer,
        "note": a.note,
        "reviewed_at": a.reviewed_at.isoformat() if a.reviewed_at else None,
    }
