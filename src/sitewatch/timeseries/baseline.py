"""Baselines and anomaly scores of zone counts: a negative binomial fitted to a zone's own usable
history, shrunk towards the site's prior for the class; pure.

Why this model, and what it copes with:
* irregular revisits: each past observation is weighted by its age (half-life `half_life_days`)
  and observations bunched within `cluster_days` of each other share one weight, so a burst of
  images in one week counts about as much as one image;
* overdispersion: the variance is estimated separately from the mean (negative binomial, with at
  least `min_overdispersion` extra variance), so busy, noisy zones do not alarm on every peak;
* few observations: the mean is shrunk towards `prior_mean` (the site's class density times the
  zone's observed area) with the weight of `prior_weight` observations, and below
  `min_history` usable observations no score is given: reason 'insufficient_history'.
The score is the upper-tail probability P(X >= count); the band is the 5-95% range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from scipy import stats

from sitewatch.core.analytics import Observation, Score
from sitewatch.core.models import ObjectClass

NAMES = {
    ObjectClass.SMALL_VEHICLE: ("small vehicle", "small vehicles"),
    ObjectClass.LARGE_VEHICLE: ("large vehicle", "large vehicles"),
    ObjectClass.RAIL_CAR: ("rail car", "rail cars"),
    ObjectClass.CRANE: ("crane", "cranes"),
    ObjectClass.CONTAINER: ("container", "containers"),
}


def plural(cls: ObjectClass, n: float) -> str:
    """'1 crane', '9 large vehicles'."""
    one, many = NAMES[cls]
    return f"{n:g} {one if n == 1 else many}"


@dataclass(frozen=True)
class BaselineOptions:
    """How baselines are fitted."""

    lookback_days: int = 730
    half_life_days: float = 180.0
    cluster_days: int = 3
    min_history: int = 4
    prior_weight: float = 2.0
    min_mean: float = 0.3
    min_overdispersion: float = 0.1  # variance >= mean + this * mean**2
    band: tuple[float, float] = (0.05, 0.95)


@dataclass(frozen=True)
class Baseline:
    """A fitted count distribution: mean, variance, how many observations, since when."""

    mean: float
    variance: float
    n: int
    since: date | None

    def tail_p(self, count: int) -> float:
        """P(X >= count)."""
        if count <= 0:
            return 1.0
        return float(self._dist().sf(count - 1))

    def band(self, lo: float, hi: float) -> tuple[int, int]:
        """The lo-hi quantile range, as whole counts."""
        d = self._dist()
        return int(d.ppf(lo)), int(d.ppf(hi))

    def _dist(self) -> stats.rv_discrete:
        if self.variance <= self.mean * (1 + 1e-9):
            return stats.poisson(self.mean)
        r = self.mean**2 / (self.variance - self.mean)
        return stats.nbinom(r, r / (r + self.mean))


def fit_baseline(
    history: Sequence[tuple[date, int]],
    on: date,
    prior_mean: float | None,
    options: BaselineOptions,
) -> Baseline | None:
    """The baseline of counts seen before `on` (within the lookback); None with too little history."""
    past = sorted((d, c) for d, c in history if d < on and (on - d).days <= options.lookback_days)
    if len(past) < options.min_history:
        return None
    days = np.array([(on - d).days for d, _ in past], dtype=np.float64)
    counts = np.array([c for _, c in past], dtype=np.float64)
    w = 0.5 ** (days / options.half_life_days)
    near = np.abs(days[:, None] - days[None, :]) <= options.cluster_days
    w = w / near.sum(axis=1)
    k = options.prior_weight if prior_mean is not None else 0.0
    prior = prior_mean or 0.0
    mean = (float((w * counts).sum()) + k * prior) / (float(w.sum()) + k)
    mean = max(mean, options.min_mean)
    var_obs = float((w * (counts - mean) ** 2).sum() / w.sum())
    variance = max(var_obs, mean + options.min_overdispersion * mean**2)
    return Baseline(mean, variance, len(past), past[0][0])


def score_observation(
    obs: Observation,
    history: Sequence[tuple[date, int]],
    prior_mean: float | None,
    options: BaselineOptions,
    zone_name: str,
) -> Score:
    """Score one usable observation against the history of its zone and class."""
    count = obs.count if obs.count is not None else 0
    where = f" at {zone_name}" if zone_name else ""
    base = fit_baseline(history, obs.observed_on, prior_mean, options)
    if base is None:
        n = sum(1 for d, _ in history if d < obs.observed_on)
        return Score(
            obs.site_id,
            obs.zone_id,
            obs.object_class,
            obs.observed_on,
            count,
            None,
            None,
            None,
            None,
            None,
            n,
            None,
            "insufficient_history",
            f"{plural(obs.object_class, count)}{where}; too little history "
            f"({n} usable image{'s' if n != 1 else ''}, {options.min_history} needed) "
            "to say what is usual",
        )
    tail = base.tail_p(count)
    lo, hi = base.band(*options.band)
    since = base.since.strftime("%Y-%m") if base.since else "?"
    return Score(
        obs.site_id,
        obs.zone_id,
        obs.object_class,
        obs.observed_on,
        count,
        round(tail, 6),
        round(1.0 - tail, 6),
        round(base.mean, 3),
        lo,
        hi,
        base.n,
        base.since,
        "ok",
        f"{plural(obs.object_class, count)}{where}; usual {lo}-{hi} over {base.n} usable "
        f"images since {since}",
    )


def score_series(
    observations: Sequence[Observation],
    options: BaselineOptions,
    zone_names: dict[str, str],
) -> list[Score]:
    """Scores of every usable observation, each against the usable ones before it.

    The prior of a zone is the site's mean count per m² of the class over every zone's usable
    observations before that date (never later ones), times the zone's observed area.
    """
    by_key: dict[tuple[str, ObjectClass], list[Observation]] = {}
    for o in observations:
        if o.usable and o.count is not None:
            by_key.setdefault((o.zone_id, o.object_class), []).append(o)
    # cumulative site totals of each class before each date: the prior never sees later data
    per_day: dict[tuple[ObjectClass, date], tuple[float, float]] = {}
    for o in observations:
        if o.usable and o.count is not None and o.area_observed_m2 > 0:
            t, a = per_day.get((o.object_class, o.observed_on), (0.0, 0.0))
            per_day[(o.object_class, o.observed_on)] = (t + o.count, a + o.area_observed_m2)
    before: dict[tuple[ObjectClass, date], float | None] = {}
    running: dict[ObjectClass, tuple[float, float]] = {}
    for cls_, day in sorted(per_day, key=lambda k: (k[0].value, k[1])):
        t, a = running.get(cls_, (0.0, 0.0))
        before[(cls_, day)] = t / a if a > 0 else None
        dt, da = per_day[(cls_, day)]
        running[cls_] = (t + dt, a + da)
    out = []
    for (zone_id, cls), series in sorted(by_key.items()):
        series.sort(key=lambda o: o.observed_on)
        history = [(o.observed_on, int(o.count or 0)) for o in series]
        for o in series:
            density = before.get((cls, o.observed_on))
            prior = None if density is None else density * o.area_observed_m2
            out.append(score_observation(o, history, prior, options, zone_names.get(zone_id, "")))
    return out
