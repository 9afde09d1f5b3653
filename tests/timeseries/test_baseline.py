"""Baselines: insufficient history, what is usual, irregular revisits, overdispersion, no leaks."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from sitewatch.core.analytics import Observation
from sitewatch.core.models import ObjectClass
from sitewatch.timeseries.baseline import BaselineOptions, fit_baseline, score_series

LV = ObjectClass.LARGE_VEHICLE
OPTS = BaselineOptions()


def _obs(day: date, count: int | None, zone: str = "hall", area: float = 1000.0) -> Observation:
    return Observation(
        "site",
        zone,
        day,
        LV,
        count,
        None if count is None else float(count),
        area,
        count is not None,
        "ok" if count is not None else "cloud score 1.00 > 0.30",
        f"k{day}",
    )


def _series(
    counts: list[int | None], start: date = date(2018, 6, 1), step: int = 10
) -> list[Observation]:
    return [_obs(start + timedelta(days=i * step), c) for i, c in enumerate(counts)]


def test_too_little_history_is_said_not_scored() -> None:
    scores = score_series(_series([1, 0, 2, 9]), OPTS, {"hall": "Assembly hall"})
    last = scores[-1]
    assert last.anomaly is None and last.tail_p is None
    assert last.reason == "insufficient_history"
    assert "too little history (3 usable images, 4 needed)" in last.sentence


def test_nine_where_zero_to_two_is_usual_is_anomalous_with_a_sentence() -> None:
    counts: list[int | None] = [0, 1, 2, 0, 1, 2, 1, 0, 1, 2, 0, 1, 1, 0, 9]
    scores = score_series(_series(counts), OPTS, {"hall": "Assembly hall"})
    last = scores[-1]
    assert last.count == 9 and last.anomaly is not None and last.anomaly > 0.999
    assert last.band_low == 0 and last.band_high is not None and last.band_high <= 3
    assert last.sentence.startswith("9 large vehicles at Assembly hall; usual 0-")
    assert "over 14 usable images since 2018-06" in last.sentence
    ordinary = scores[-2]
    assert ordinary.anomaly is not None and ordinary.anomaly < 0.9


def test_missing_dates_are_not_zeros() -> None:
    with_gaps = score_series(_series([3, None, 4, None, 3, 4, 3, None, 4, 8]), OPTS, {})
    no_gaps = score_series(_series([3, 4, 3, 4, 3, 4, 8], step=10), OPTS, {})
    # the cloudy dates are left out: the history is the usable counts only
    assert [s.count for s in with_gaps] == [3, 4, 3, 4, 3, 4, 8]
    assert with_gaps[-1].n_history == 6 and with_gaps[-1].expected == pytest.approx(
        no_gaps[-1].expected, rel=0.2
    )


def test_a_burst_of_images_weighs_about_one_image() -> None:
    day = date(2019, 1, 1)
    spread = [(day - timedelta(days=30 * i), 1) for i in range(1, 7)]
    burst = [(day - timedelta(days=100 + i), 6) for i in range(6)]  # six images in one week
    b = fit_baseline(spread + burst, day, None, OPTS)
    assert b is not None
    # without de-clustering the mean would be (6*1 + 6*6)/12 = 3.5
    assert b.mean < 2.9


def test_overdispersed_history_alarms_less() -> None:
    day = date(2019, 1, 1)
    calm = [(day - timedelta(days=10 * i), 5) for i in range(1, 13)]
    noisy = [
        (day - timedelta(days=10 * i), c)
        for i, c in enumerate([0, 10, 1, 9, 2, 8, 0, 10, 1, 9, 3, 7], 1)
    ]
    b_calm, b_noisy = fit_baseline(calm, day, None, OPTS), fit_baseline(noisy, day, None, OPTS)
    assert b_calm is not None and b_noisy is not None
    assert b_noisy.tail_p(12) > 3 * b_calm.tail_p(12)


def test_the_prior_never_sees_later_dates() -> None:
    early = _series([1, 1, 1, 1, 1], step=10)
    later = [_obs(date(2019, 6, 1), 50, zone="yard")]
    a = score_series(early, OPTS, {})
    b = score_series(early + later, OPTS, {})
    assert [s.tail_p for s in a] == [s.tail_p for s in b[: len(a)]]
