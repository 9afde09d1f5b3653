"""Object change: matching with a registration tolerance, long objects, one-to-one."""

from __future__ import annotations

import numpy as np

from sitewatch.change.objects import MatchOptions, match_objects


def _pts(*rows: tuple[float, float, float]) -> np.ndarray:
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def test_shifted_objects_persist_new_ones_appear_and_gone_ones_disappear() -> None:
    before = _pts((10, 10, 4.5), (30, 10, 4.5), (50, 50, 60.0))  # two cars and a crane
    after = _pts(
        (11.5, 11, 4.5), (50, 62, 60.0), (80, 80, 4.5)
    )  # car shifted 1.8 m, crane re-centred 12 m
    m = match_objects(before, after)
    assert set(m.pairs) == {(0, 0), (2, 1)}
    assert m.appeared == (2,) and m.disappeared == (1,)


def test_matching_is_one_to_one() -> None:
    before = _pts((0, 0, 4.5))
    after = _pts((1, 0, 4.5), (0, 1, 4.5))
    m = match_objects(before, after)
    assert len(m.pairs) == 1 and len(m.appeared) == 1


def test_beyond_tolerance_is_a_new_object() -> None:
    m = match_objects(_pts((0, 0, 4.5)), _pts((6, 0, 4.5)), MatchOptions(base_tolerance_m=3.0))
    assert m.pairs == () and m.appeared == (0,) and m.disappeared == (0,)


def test_empty_sides() -> None:
    assert match_objects(_pts(), _pts((1, 1, 1))).appeared == (0,)
    assert match_objects(_pts((1, 1, 1)), _pts()).disappeared == (0,)
