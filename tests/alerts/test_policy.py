"""Alert transitions, dedupe, cooldown and the review lifecycle."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from sitewatch.alerts.policy import derive_alerts, review_alert
from sitewatch.core.analytics import AlertStatus, Assessment, Confidence, Likelihood
from sitewatch.errors import InputError
from sitewatch.indicators.rules import parse_rule_pack
from tests.indicators.test_rules import GOOD

PACK = parse_rule_pack({**GOOD, "cooldown_days": 14}, "p.yaml")
L = Likelihood


def _series(levels: list[Likelihood], step: int = 5) -> list[Assessment]:
    start = date(2019, 1, 1)
    return [
        Assessment(
            f"a{i}",
            "site",
            "prep",
            "Prep",
            start + timedelta(days=i * step),
            lv,
            0.5,
            Confidence.MODERATE,
            "why",
            (),
            (),
            PACK.ref,
        )
        for i, lv in enumerate(levels)
    ]


def test_alert_on_crossing_up_only_once_per_episode() -> None:
    alerts = derive_alerts(
        _series([L.REMOTE, L.UNLIKELY, L.LIKELY, L.LIKELY, L.LIKELY, L.EVEN]), PACK
    )
    assert [(a.level, a.previous_level) for a in alerts] == [(L.LIKELY, L.UNLIKELY)]


def test_rising_further_alerts_again_even_within_cooldown() -> None:
    alerts = derive_alerts(_series([L.UNLIKELY, L.LIKELY, L.VERY_LIKELY]), PACK)
    assert [a.level for a in alerts] == [L.LIKELY, L.VERY_LIKELY]


def test_cooldown_suppresses_a_quick_second_episode() -> None:
    quick = derive_alerts(_series([L.UNLIKELY, L.LIKELY, L.EVEN, L.LIKELY], step=3), PACK)
    assert len(quick) == 1
    slow = derive_alerts(_series([L.UNLIKELY, L.LIKELY, L.EVEN, L.LIKELY], step=10), PACK)
    assert len(slow) == 2


def test_alerts_are_deterministic() -> None:
    s = _series([L.UNLIKELY, L.LIKELY])
    assert derive_alerts(s, PACK) == derive_alerts(list(reversed(s)), PACK)


def test_review_lifecycle() -> None:
    [alert] = derive_alerts(_series([L.UNLIKELY, L.LIKELY]), PACK)
    at = datetime(2019, 3, 1, tzinfo=UTC)
    acked = review_alert(alert, AlertStatus.ACKNOWLEDGED, "ana", None, at)
    done = review_alert(acked, AlertStatus.CONFIRMED, "ana", "launch on 2019-03-05", at)
    assert done.status is AlertStatus.CONFIRMED and done.note == "launch on 2019-03-05"
    with pytest.raises(
        InputError, match=r"is confirmed; it cannot become dismissed \(allowed: none"
    ):
        review_alert(done, AlertStatus.DISMISSED, "bob", None, at)
    with pytest.raises(InputError, match="needs a reviewer"):
        review_alert(replace(alert), AlertStatus.DISMISSED, " ", None, at)
