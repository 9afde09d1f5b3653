"""Score calibration: from a detector's raw score to the probability that the detection is a
true object of its class (IoU >= 0.5); pure numpy.

The mapping is an isotonic (monotone non-decreasing) regression of "was a true positive" on the
score, by pool-adjacent-violators, kept as at most `max_knots` (score, probability) knots and
applied by linear interpolation (flat outside the knots). It is fitted when a model is released,
on the training split, and stored beside the model as `<model>.calibration.json`; zone
observations sum calibrated scores into their expected counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sitewatch.core.models import ObjectClass
from sitewatch.errors import ModelError

Knots = tuple[tuple[float, float], ...]


def fit_isotonic(
    scores: npt.NDArray[np.float64], hits: npt.NDArray[np.bool_], max_knots: int = 16
) -> Knots:
    """Isotonic regression of hits on scores, read at `max_knots` evenly spaced scores."""
    if len(scores) == 0:
        return ()
    order = np.argsort(scores, kind="stable")
    x = np.asarray(scores, dtype=np.float64)[order]
    y = np.asarray(hits, dtype=np.float64)[order]
    # pool adjacent violators over blocks (value, weight, last x)
    vals: list[float] = []
    wts: list[float] = []
    xs: list[float] = []
    for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
        vals.append(yi)
        wts.append(1.0)
        xs.append(xi)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            w = wts[-2] + wts[-1]
            v = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / w
            vals[-2:] = [v]
            wts[-2:] = [w]
            xs[-2:] = [xs[-1]]
    # the step function (each block's value up to its last score) read on an even score grid
    ends = np.array(xs)
    grid = np.linspace(float(x[0]), float(x[-1]), max_knots)
    idx = np.minimum(np.searchsorted(ends, grid, side="left"), len(vals) - 1)
    return tuple(
        (round(float(g), 4), round(float(vals[i]), 4)) for g, i in zip(grid, idx, strict=True)
    )


def calibrate(score: float, knots: Knots) -> float:
    """The calibrated probability of a score (the raw score when there are no knots)."""
    if not knots:
        return score
    xs = [k[0] for k in knots]
    ps = [k[1] for k in knots]
    return float(np.interp(score, xs, ps))


def calibration_path(model: Path) -> Path:
    """Where a model's calibration lives."""
    return model.with_name(model.name + ".calibration.json")


def write_calibration(model: Path, knots: Mapping[ObjectClass, Knots], note: str) -> Path:
    """Write a model's calibration beside it."""
    path = calibration_path(model)
    doc = {"note": note, "classes": {c.value: [list(k) for k in v] for c, v in knots.items()}}
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def read_calibration(model: Path) -> dict[ObjectClass, Knots]:
    """A model's calibration, or {} when it has none.

    Raises:
        ModelError: a calibration file that cannot be read.
    """
    path = calibration_path(model)
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text())
        return {
            ObjectClass(c): tuple((float(s), float(p)) for s, p in v)
            for c, v in doc["classes"].items()
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: not a calibration file ({exc})") from exc
