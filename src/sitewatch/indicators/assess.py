"""Evaluating a rule pack over a site's evidence into assessments with a rationale; pure.

Likelihood: each signature starts at its prior probability; each positive indicator that fires
adds its weight to the log-odds, each negative one that fires subtracts it (weights are
log-likelihood ratios; 1.0 multiplies the odds by e). Indicators that cannot be judged add
nothing. The probability is put on the standard scale: remote < 0.10 <= unlikely < 0.40 <=
roughly even chance < 0.60 <= likely < 0.85 <= very likely.

Confidence depends on coverage (the share of the signature's applicable indicators that could be
judged), recency (days from the latest usable image of the indicator zones to the as-of date) and
independence (the number of distinct zone-and-class groups among the indicators that decided):
high needs coverage >= 0.75, recency <= 7 days and 3 groups; moderate coverage >= 0.5, recency
<= 30 days and 2 groups; anything less is low.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sitewatch.core.analytics import (
    Assessment,
    Confidence,
    IndicatorResult,
    Likelihood,
    ObjectChange,
    Observation,
    PixelChange,
    Score,
)
from sitewatch.core.models import Site
from sitewatch.indicators.rules import Indicator, Metric, RulePack, Signature
from sitewatch.timeseries.baseline import plural

LEVELS = (
    (0.10, Likelihood.REMOTE),
    (0.40, Likelihood.UNLIKELY),
    (0.60, Likelihood.EVEN),
    (0.85, Likelihood.LIKELY),
)


@dataclass(frozen=True)
class SiteEvidence:
    """Everything measured at one site, for every date."""

    site: Site
    observations: Sequence[Observation]
    scores: Sequence[Score]
    object_changes: Sequence[ObjectChange]
    pixel_changes: Sequence[PixelChange]


def likelihood_of(p: float) -> Likelihood:
    """The scale level of a probability."""
    for upper, level in LEVELS:
        if p < upper:
            return level
    return Likelihood.VERY_LIKELY


def _zones(ind: Indicator, site: Site) -> list[str]:
    """The site's zones an indicator looks at; for a class metric, only zones watched for it."""
    return [
        z.id
        for z in site.zones
        if (z.kind in ind.zone_kinds or z.id in ind.zone_ids)
        and (ind.object_class is None or not z.classes or ind.object_class in z.classes)
    ]


def _names(site: Site, ids: Sequence[str]) -> str:
    names = {z.id: z.name or z.id for z in site.zones}
    return ", ".join(names.get(i, i) for i in ids)


def _passes(ind: Indicator, value: float) -> bool:
    return value >= ind.threshold if ind.op == ">=" else value <= ind.threshold


def evaluate_indicator(ind: Indicator, ev: SiteEvidence, as_of: date) -> IndicatorResult | None:
    """One indicator as of a date; None when the site has none of its zones (watched for its
    class)."""
    zones = _zones(ind, ev.site)
    if not zones:
        return None
    start = as_of - timedelta(days=ind.window_days)

    def in_window(d: date) -> bool:
        return start < d <= as_of

    where = _names(ev.site, zones)
    group = f"{','.join(sorted(zones))}|{ind.object_class or ind.metric}"
    value: float | None = None
    evidence = f"no usable image of {where} in the {ind.window_days} days to {as_of}"
    cls = ind.object_class
    if ind.metric == Metric.COUNT:
        obs = [
            o
            for o in ev.observations
            if o.zone_id in zones
            and o.object_class == cls
            and o.usable
            and in_window(o.observed_on)
        ]
        if obs:
            best = max(obs, key=lambda o: (o.count or 0, o.observed_on))
            value = float(best.count or 0)
            evidence = (
                f"{plural(best.object_class, value)} at {_names(ev.site, [best.zone_id])} "
                f"on {best.observed_on}"
            )
    elif ind.metric == Metric.ANOMALY:
        scores = [
            s
            for s in ev.scores
            if s.zone_id in zones and s.object_class == cls and in_window(s.observed_on)
        ]
        rated = [s for s in scores if s.anomaly is not None]
        if rated:
            best_s = max(rated, key=lambda s: (s.anomaly or 0.0, s.observed_on))
            value = float(best_s.anomaly or 0.0)
            evidence = f"{best_s.sentence} (on {best_s.observed_on}, P = {best_s.tail_p:.3g})"
        elif scores:
            evidence = scores[-1].sentence
    elif ind.metric == Metric.CHANGED_FRACTION:
        changes = [c for c in ev.pixel_changes if c.zone_id in zones and in_window(c.after_on)]
        if changes:
            best_c = max(changes, key=lambda c: (c.changed_fraction, c.after_on))
            value = best_c.changed_fraction
            evidence = (
                f"{value:.0%} of {_names(ev.site, [best_c.zone_id])} changed between "
                f"{best_c.before_on} and {best_c.after_on}"
            )
    else:
        changes_o = [
            c
            for c in ev.object_changes
            if c.zone_id in zones and c.object_class == cls and in_window(c.after_on)
        ]
        if changes_o:
            verb = "appeared" if ind.metric == Metric.APPEARED else "disappeared"
            per = [(len(getattr(c, verb)), c) for c in changes_o]
            value = float(sum(n for n, _ in per))
            parts = [
                f"{plural(c.object_class, n)} {verb} at {_names(ev.site, [c.zone_id])} "
                f"between {c.before_on} and {c.after_on}"
                for n, c in per
                if n
            ]
            assert cls is not None
            evidence = "; ".join(parts) or f"no {plural(cls, 2).split(' ', 1)[1]} {verb}"
    fired = None if value is None else _passes(ind, value)
    return IndicatorResult(ind.id, "", fired, value, tuple(zones), evidence, ind.weight, group)


def _latest_usable(ev: SiteEvidence, zones: set[str], as_of: date) -> date | None:
    days = [
        o.observed_on
        for o in ev.observations
        if o.usable and o.zone_id in zones and o.observed_on <= as_of
    ]
    return max(days) if days else None


def assess_signature(sig: Signature, pack: RulePack, ev: SiteEvidence, as_of: date) -> Assessment:
    """One signature for one site as of a date."""
    results: list[IndicatorResult] = []
    for polarity, ids in (("positive", sig.positive), ("negative", sig.negative)):
        for i in ids:
            r = evaluate_indicator(pack.indicators[i], ev, as_of)
            if r is not None:
                results.append(
                    IndicatorResult(
                        r.indicator_id,
                        polarity,
                        r.fired,
                        r.value,
                        r.zone_ids,
                        r.evidence,
                        r.weight,
                        r.group,
                    )
                )
    logit = math.log(sig.prior / (1 - sig.prior))
    for r in results:
        if r.fired:
            logit += r.weight if r.polarity == "positive" else -r.weight
    p = 1 / (1 + math.exp(-logit))
    level = likelihood_of(p)
    judged = [r for r in results if r.fired is not None]
    fired = [r for r in judged if r.fired]
    coverage = len(judged) / len(results) if results else 0.0
    zones = {z for r in results for z in r.zone_ids}
    latest = _latest_usable(ev, zones, as_of)
    recency = (as_of - latest).days if latest else None
    groups = len({r.group for r in (fired or judged)})
    if coverage >= 0.75 and recency is not None and recency <= 7 and groups >= 3:
        confidence = Confidence.HIGH
    elif coverage >= 0.5 and recency is not None and recency <= 30 and groups >= 2:
        confidence = Confidence.MODERATE
    else:
        confidence = Confidence.LOW
    rationale = _rationale(sig, level, p, confidence, as_of, results, coverage, recency)
    scene_ids = sorted({s for o in ev.observations if o.observed_on == as_of for s in o.scene_ids})
    ident = hashlib.sha256(f"{ev.site.id}|{sig.id}|{as_of}|{pack.ref}".encode()).hexdigest()[:32]
    return Assessment(
        ident,
        ev.site.id,
        sig.id,
        sig.name,
        as_of,
        level,
        round(p, 4),
        confidence,
        rationale,
        sig.alternatives,
        tuple(results),
        pack.ref,
        tuple(scene_ids),
    )


def _rationale(
    sig: Signature,
    level: Likelihood,
    p: float,
    confidence: Confidence,
    as_of: date,
    results: Sequence[IndicatorResult],
    coverage: float,
    recency: int | None,
) -> str:
    head = f"{sig.name}: {level.words} (p = {p:.2f}), {confidence.value} confidence, as of {as_of}."
    pos = [r.evidence for r in results if r.fired and r.polarity == "positive"]
    neg = [r.evidence for r in results if r.fired and r.polarity == "negative"]
    quiet = [r.indicator_id for r in results if r.fired is False]
    unknown = [r.evidence for r in results if r.fired is None]
    parts = [head]
    parts.append("For: " + ("; ".join(pos) if pos else "nothing") + ".")
    if neg:
        parts.append("Against: " + "; ".join(neg) + ".")
    if quiet:
        parts.append("Not seen: " + ", ".join(quiet) + ".")
    if unknown:
        parts.append("Could not judge: " + "; ".join(unknown) + ".")
    seen = "no usable image yet" if recency is None else f"latest usable image {recency} days old"
    parts.append(f"Coverage {coverage:.0%} of indicators; {seen}.")
    return " ".join(parts)


def applies(sig: Signature, pack: RulePack, site: Site) -> bool:
    """Whether any indicator of a signature looks at a zone of this site."""
    return any(_zones(pack.indicators[i], site) for i in (*sig.positive, *sig.negative))


def assess_site(pack: RulePack, ev: SiteEvidence, dates: Sequence[date]) -> list[Assessment]:
    """Every signature of a pack that applies to the site (has zones to look at), as of each date."""
    sigs = [s for s in pack.signatures if applies(s, pack, ev.site)]
    return [assess_signature(s, pack, ev, d) for d in sorted(set(dates)) for s in sigs]
