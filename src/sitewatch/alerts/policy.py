"""When an assessment becomes an alert, and how an alert's review moves on; pure.

Transitions: an alert is raised when a signature's likelihood at a site rises to the pack's
`alert_level` or above from below it, or rises further to a higher level than the last alert's.
Dedupe and cooldown: the same (site, signature, level) alerts once per episode; after an alert,
no new alert for that site and signature within `cooldown_days`, unless the level is higher than
the last alert's. An episode ends when the likelihood falls below the alert level.
The alerts are derived from the whole sequence of assessments, in date order, so deriving them
again after an interruption gives the same alerts (their ids are hashes of what they say).

Lifecycle: open -> acknowledged -> confirmed | dismissed, or open -> confirmed | dismissed.
Confirmed and dismissed are final.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sitewatch.core.analytics import Alert, AlertStatus, Assessment, Likelihood
from sitewatch.errors import InputError
from sitewatch.indicators.rules import RulePack

NEXT = {
    AlertStatus.OPEN: {AlertStatus.ACKNOWLEDGED, AlertStatus.CONFIRMED, AlertStatus.DISMISSED},
    AlertStatus.ACKNOWLEDGED: {AlertStatus.CONFIRMED, AlertStatus.DISMISSED},
    AlertStatus.CONFIRMED: set(),
    AlertStatus.DISMISSED: set(),
}


def alert_id(a: Assessment) -> str:
    """The id of the alert an assessment raises."""
    text = f"{a.site_id}|{a.signature_id}|{a.as_of}|{a.likelihood.value}|{a.rule_pack}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def derive_alerts(assessments: Sequence[Assessment], pack: RulePack) -> list[Alert]:
    """The alerts raised by a sequence of assessments of one pack (any sites and signatures)."""
    by_key: dict[tuple[str, str], list[Assessment]] = {}
    for a in assessments:
        by_key.setdefault((a.site_id, a.signature_id), []).append(a)
    out: list[Alert] = []
    threshold = pack.alert_level.rank
    for series in by_key.values():
        series.sort(key=lambda a: a.as_of)
        previous: Likelihood | None = None
        last: Alert | None = None
        episode_max = -1
        for a in series:
            rank = a.likelihood.rank
            if rank < threshold:
                episode_max = -1
            else:
                rising = previous is None or rank > previous.rank
                higher = rank > episode_max
                cooled = last is None or (a.as_of - last.as_of).days >= pack.cooldown_days
                above_last = last is not None and rank > last.level.rank
                if rising and higher and (cooled or above_last):
                    last = Alert(
                        id=alert_id(a),
                        site_id=a.site_id,
                        signature_id=a.signature_id,
                        assessment_id=a.id,
                        as_of=a.as_of,
                        level=a.likelihood,
                        previous_level=previous,
                        confidence=a.confidence,
                        title=(
                            f"{a.signature_name} at {a.site_id}: {a.likelihood.words} "
                            f"({a.confidence.value} confidence) as of {a.as_of}"
                        ),
                        rationale=a.rationale,
                        rule_pack=a.rule_pack,
                    )
                    out.append(last)
                episode_max = max(episode_max, rank)
            previous = a.likelihood
    return sorted(out, key=lambda al: (al.as_of, al.site_id, al.signature_id))


def review_alert(
    alert: Alert, status: AlertStatus, reviewer: str, note: str | None, at: datetime
) -> Alert:
    """The alert moved to `status` by `reviewer`.

    Raises:
        InputError: the move is not allowed from the alert's current status, or no reviewer.
    """
    if not reviewer.strip():
        raise InputError("a review needs a reviewer name: pass --reviewer NAME")
    if status not in NEXT[alert.status]:
        allowed = ", ".join(sorted(s.value for s in NEXT[alert.status])) or "none (final)"
        raise InputError(
            f"alert {alert.id[:12]} is {alert.status.value}; it cannot become {status.value} "
            f"(allowed: {allowed})"
        )
    return replace(alert, status=status, reviewer=reviewer, note=note, reviewed_at=at)
