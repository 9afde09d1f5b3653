"""Delivering the alert outbox: each pending item to its sink, with exponential backoff.

An item is tried when it is due; a failure schedules the next try after
`base_delay_s * 2**(attempts - 1)` (at most `max_delay_s`); after `max_attempts` failures it is
marked failed and kept (`sitewatch alerts deliver --retry-failed` puts it back). Items whose
sink is no longer configured stay pending. The state of every item lives in the store, so a
crash or a receiver that is down loses nothing: the next run (or `alerts deliver`) goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sitewatch.alerts.sinks import AlertSink
from sitewatch.core.ports import Store
from sitewatch.errors import DeliveryError
from sitewatch.types import utc_now


@dataclass(frozen=True)
class DeliveryOptions:
    """Retry policy of the outbox."""

    max_attempts: int = 10
    base_delay_s: float = 30.0
    max_delay_s: float = 3600.0
    wait_s: float = 0.0  # keep retrying within this call for up to this long


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    delivered: list[str] = field(default_factory=list)
    retrying: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def deliver_outbox(
    store: Store,
    sinks: Sequence[AlertSink],
    options: DeliveryOptions = DeliveryOptions(),
    now: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """Deliver every due pending item; with `wait_s`, keep going until none is left or time is up."""
    by_name = {s.name: s for s in sinks}
    report = DeliveryReport()
    deadline = time.monotonic() + options.wait_s
    while True:
        pending = [i for i in store.list_outbox("pending") if i.sink in by_name]
        if not pending:
            break
        t = now()
        due = [i for i in pending if i.next_attempt_at is None or i.next_attempt_at <= t]
        for item in due:
            attempts = item.attempts + 1
            try:
                by_name[item.sink].deliver(dict(item.payload))
            except DeliveryError as exc:
                if attempts >= options.max_attempts:
                    store.update_outbox(item.id, "failed", attempts, None, str(exc))
                    report.failed.append((item.id, str(exc)))
                else:
                    delay = min(options.base_delay_s * 2 ** (attempts - 1), options.max_delay_s)
                    store.update_outbox(
                        item.id, "pending", attempts, t + timedelta(seconds=delay), str(exc)
                    )
                    report.retrying.append((item.id, str(exc)))
                continue
            store.update_outbox(item.id, "delivered", attempts, None, None)
            report.delivered.append(item.id)
        left = [i for i in store.list_outbox("pending") if i.sink in by_name]
        if not left or time.monotonic() >= deadline:
            break
        nxt = min((i.next_attempt_at for i in left if i.next_attempt_at), default=now())
        wait = max(0.0, (nxt - now()).total_seconds())
        if time.monotonic() + wait > deadline:
            break
        sleep(wait)
    report.retrying = [
        r
        for r in report.retrying
        if r[0] not in set(report.delivered) | {f[0] for f in report.failed}
    ]
    return report
