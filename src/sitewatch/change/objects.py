"""Object change between two dates of a zone: which objects appeared, disappeared or stayed; pure.

Objects are matched one to one by position (Hungarian assignment on centre distance). Two
objects may be matched when their centres are closer than `base_tolerance_m` plus
`length_fraction` of the longer object's length: the base allows for registration error
between dates, the length term for the looser centre estimate of long objects (a crane boom).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

BIG = 1e9


@dataclass(frozen=True)
class MatchOptions:
    """How far apart two detections of one object on two dates may be."""

    base_tolerance_m: float = 3.0
    length_fraction: float = 0.25


@dataclass(frozen=True)
class Matched:
    """Indices into `before` and `after`: appeared (after only), disappeared (before only), pairs."""

    appeared: tuple[int, ...]
    disappeared: tuple[int, ...]
    pairs: tuple[tuple[int, int], ...]


def match_objects(
    before: npt.NDArray[np.float64],
    after: npt.NDArray[np.float64],
    options: MatchOptions = MatchOptions(),
) -> Matched:
    """Match objects given as (N, 3) arrays of (x_m, y_m, length_m) in one metric CRS."""
    nb, na = len(before), len(after)
    if nb == 0 or na == 0:
        return Matched(tuple(range(na)), tuple(range(nb)), ())
    d = np.hypot(before[:, None, 0] - after[None, :, 0], before[:, None, 1] - after[None, :, 1])
    tol = options.base_tolerance_m + options.length_fraction * np.maximum(
        before[:, None, 2], after[None, :, 2]
    )
    cost = np.where(d <= tol, d, BIG)
    rows, cols = linear_sum_assignment(cost)
    pairs = tuple((int(r), int(c)) for r, c in zip(rows, cols, strict=True) if cost[r, c] < BIG)
    used_b = {r for r, _ in pairs}
    used_a = {c for _, c in pairs}
    return Matched(
        tuple(i for i in range(na) if i not in used_a),
        tuple(i for i in range(nb) if i not in used_b),
        pairs,
    )
