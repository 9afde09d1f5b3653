"""Store methods of the analytics chain (mixed into SqliteStore): one transaction per site's
analysis, alerts never re-derived once stored, and the delivery outbox."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from sitewatch.core.analytics import (
    Alert,
    AlertStatus,
    Assessment,
    Confidence,
    IndicatorResult,
    Likelihood,
    ObjectChange,
    Observation,
    OutboxItem,
    PixelChange,
    Score,
    alert_to_dict,
)
from sitewatch.core.models import ObjectClass
from sitewatch.errors import InputError, NotFoundError
from sitewatch.store import schema as t
from sitewatch.types import utc_now


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _obs_row(o: Observation) -> dict[str, Any]:
    return {
        "site_id": o.site_id,
        "zone_id": o.zone_id,
        "observed_on": o.observed_on.isoformat(),
        "object_class": o.object_class.value,
        "count": o.count,
        "expected_count": o.expected_count,
        "area_observed_m2": o.area_observed_m2,
        "usable": o.usable,
        "reason": o.reason,
        "chip_key": o.chip_key,
        "scene_ids": list(o.scene_ids),
    }


def _score_row(s: Score) -> dict[str, Any]:
    return {
        "site_id": s.site_id,
        "zone_id": s.zone_id,
        "object_class": s.object_class.value,
        "observed_on": s.observed_on.isoformat(),
        "count": s.count,
        "tail_p": s.tail_p,
        "anomaly": s.anomaly,
        "expected": s.expected,
        "band_low": s.band_low,
        "band_high": s.band_high,
        "n_history": s.n_history,
        "history_since": s.history_since.isoformat() if s.history_since else None,
        "reason": s.reason,
        "sentence": s.sentence,
    }


def _oc_row(c: ObjectChange) -> dict[str, Any]:
    return {
        "site_id": c.site_id,
        "zone_id": c.zone_id,
        "object_class": c.object_class.value,
        "after_on": c.after_on.isoformat(),
        "before_on": c.before_on.isoformat(),
        "appeared": [list(p) for p in c.appeared],
        "disappeared": [list(p) for p in c.disappeared],
        "persisting": c.persisting,
        "tolerance_m": c.tolerance_m,
    }


def _pc_row(c: PixelChange) -> dict[str, Any]:
    return {
        "site_id": c.site_id,
        "zone_id": c.zone_id,
        "before_key": c.before_key,
        "after_key": c.after_key,
        "before_on": c.before_on.isoformat(),
        "after_on": c.after_on.isoformat(),
        "changed_fraction": c.changed_fraction,
        "changed_area_m2": c.changed_area_m2,
        "polygons": dict(c.polygons),
        "params": dict(c.params),
    }


def _ir_dict(r: IndicatorResult) -> dict[str, Any]:
    return {
        "indicator_id": r.indicator_id,
        "polarity": r.polarity,
        "fired": r.fired,
        "value": r.value,
        "zone_ids": list(r.zone_ids),
        "evidence": r.evidence,
        "weight": r.weight,
        "group": r.group,
    }


def _as_row(a: Assessment) -> dict[str, Any]:
    return {
        "id": a.id,
        "site_id": a.site_id,
        "signature_id": a.signature_id,
        "signature_name": a.signature_name,
        "as_of": a.as_of.isoformat(),
        "likelihood": a.likelihood.value,
        "probability": a.probability,
        "confidence": a.confidence.value,
        "rationale": a.rationale,
        "alternatives": list(a.alternatives),
        "indicators": [_ir_dict(r) for r in a.indicators],
        "rule_pack": a.rule_pack,
        "scene_ids": list(a.scene_ids),
    }


def _alert(r: Any) -> Alert:
    return Alert(
        id=r["id"],
        site_id=r["site_id"],
        signature_id=r["signature_id"],
        assessment_id=r["assessment_id"],
        as_of=date.fromisoformat(r["as_of"]),
        level=Likelihood(r["level"]),
        previous_level=Likelihood(r["previous_level"]) if r["previous_level"] else None,
        confidence=Confidence(r["confidence"]),
        title=r["title"],
        rationale=r["rationale"],
        rule_pack=r["rule_pack"],
        evidence=r["evidence"],
        status=AlertStatus(r["status"]),
        reviewer=r["reviewer"],
        note=r["note"],
        reviewed_at=r["reviewed_at"],
    )


class AnalyticsStoreMixin:
    """The analytics part of the Store; needs `_tx` and `_read` from the host class."""

    def _tx(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def get_fingerprint(self, site_id: str) -> str | None:
        """What the site's stored analysis was computed from, if any."""
        with self._read() as conn:
            row = conn.execute(
                select(t.site_state.c.fingerprint).where(t.site_state.c.site_id == site_id)
            ).first()
        return str(row[0]) if row else None

    def save_analysis(
        self,
        site_id: str,
        fingerprint: str,
        observations: Sequence[Observation],
        object_changes: Sequence[ObjectChange],
        pixel_changes: Sequence[PixelChange],
        scores: Sequence[Score],
        assessments: Sequence[Assessment],
        alerts: Sequence[Alert],
        outbox: Sequence[OutboxItem],
    ) -> int:
        """Replace a site's analysis and add new alerts with their outbox rows, in one transaction.

        Stored alerts are kept as they are (with their review); returns how many were new.
        """
        now = utc_now()
        with self._tx() as conn:
            for table in (
                t.observations,
                t.object_changes,
                t.pixel_changes,
                t.scores,
                t.assessments,
            ):
                conn.execute(delete(table).where(table.c.site_id == site_id))
            for table, rows in (
                (t.observations, [_obs_row(o) for o in observations]),
                (t.object_changes, [_oc_row(c) for c in object_changes]),
                (t.pixel_changes, [_pc_row(c) for c in pixel_changes]),
                (t.scores, [_score_row(s) for s in scores]),
                (t.assessments, [_as_row(a) for a in assessments]),
            ):
                if rows:
                    conn.execute(table.insert(), rows)
            known = {r[0] for r in conn.execute(select(t.alerts.c.id))}
            new = [a for a in alerts if a.id not in known]
            for a in new:
                row = alert_to_dict(a)
                row.update(status=a.status.value, reviewed_at=None, created_at=now)
                conn.execute(t.alerts.insert().values(**row))
            new_ids = {a.id for a in new}
            for item in outbox:
                if item.alert_id not in new_ids:
                    continue
                conn.execute(
                    sqlite_insert(t.outbox)
                    .values(
                        id=item.id,
                        alert_id=item.alert_id,
                        sink=item.sink,
                        status=item.status,
                        attempts=0,
                        next_attempt_at=item.next_attempt_at,
                        last_error=None,
                        payload=dict(item.payload),
                        created_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["id"])
                )
            stmt = sqlite_insert(t.site_state).values(
                site_id=site_id, fingerprint=fingerprint, updated_at=now
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["site_id"], set_={"fingerprint": fingerprint, "updated_at": now}
                )
            )
        return len(new)

    def list_observations(self, site_id: str) -> list[Observation]:
        """A site's zone observations by date."""
        q = select(t.observations).where(t.observations.c.site_id == site_id)
        with self._read() as conn:
            rows = list(conn.execute(q.order_by(t.observations.c.observed_on)).mappings())
        return [
            Observation(
                r["site_id"],
                r["zone_id"],
                date.fromisoformat(r["observed_on"]),
                ObjectClass(r["object_class"]),
                r["count"],
                r["expected_count"],
                r["area_observed_m2"],
                bool(r["usable"]),
                r["reason"],
                r["chip_key"],
                tuple(r["scene_ids"]),
            )
            for r in rows
        ]

    def list_scores(self, site_id: str) -> list[Score]:
        """A site's anomaly scores by date."""
        q = select(t.scores).where(t.scores.c.site_id == site_id).order_by(t.scores.c.observed_on)
        with self._read() as conn:
            rows = list(conn.execute(q).mappings())
        return [
            Score(
                r["site_id"],
                r["zone_id"],
                ObjectClass(r["object_class"]),
                date.fromisoformat(r["observed_on"]),
                r["count"],
                r["tail_p"],
                r["anomaly"],
                r["expected"],
                r["band_low"],
                r["band_high"],
                r["n_history"],
                _d(r["history_since"]),
                r["reason"],
                r["sentence"],
            )
            for r in rows
        ]

    def list_object_changes(self, site_id: str) -> list[ObjectChange]:
        """A site's object changes by date."""
        q = select(t.object_changes).where(t.object_changes.c.site_id == site_id)
        with self._read() as conn:
            rows = list(conn.execute(q.order_by(t.object_changes.c.after_on)).mappings())
        return [
            ObjectChange(
                r["site_id"],
                r["zone_id"],
                ObjectClass(r["object_class"]),
                date.fromisoformat(r["before_on"]),
                date.fromisoformat(r["after_on"]),
                tuple((p[0], p[1]) for p in r["appeared"]),
                tuple((p[0], p[1]) for p in r["disappeared"]),
                r["persisting"],
                r["tolerance_m"],
            )
            for r in rows
        ]

    def list_pixel_changes(self, site_id: str) -> list[PixelChange]:
        """A site's pixel changes by date."""
        q = select(t.pixel_changes).where(t.pixel_changes.c.site_id == site_id)
        with self._read() as conn:
            rows = list(conn.execute(q.order_by(t.pixel_changes.c.after_on)).mappings())
        return [
            PixelChange(
                r["site_id"],
                r["zone_id"],
                r["before_key"],
                r["after_key"],
                date.fromisoformat(r["before_on"]),
                date.fromisoformat(r["after_on"]),
                r["changed_fraction"],
                r["changed_area_m2"],
                r["polygons"],
                r["params"],
            )
            for r in rows
        ]

    def list_assessments(self, site_id: str) -> list[Assessment]:
        """A site's assessments by date."""
        q = select(t.assessments).where(t.assessments.c.site_id == site_id)
        with self._read() as conn:
            rows = list(conn.execute(q.order_by(t.assessments.c.as_of)).mappings())
        return [
            Assessment(
                r["id"],
                r["site_id"],
                r["signature_id"],
                r["signature_name"],
                date.fromisoformat(r["as_of"]),
                Likelihood(r["likelihood"]),
                r["probability"],
                Confidence(r["confidence"]),
                r["rationale"],
                tuple(r["alternatives"]),
                tuple(
                    IndicatorResult(
                        i["indicator_id"],
                        i["polarity"],
                        i["fired"],
                        i["value"],
                        tuple(i["zone_ids"]),
                        i["evidence"],
                        i["weight"],
                        i["group"],
                    )
                    for i in r["indicators"]
                ),
                r["rule_pack"],
                tuple(r["scene_ids"]),
            )
            for r in rows
        ]

    def list_alerts(self, site_id: str | None = None, status: str | None = None) -> list[Alert]:
        """Alerts, newest first."""
        q = select(t.alerts)
        if site_id is not None:
            q = q.where(t.alerts.c.site_id == site_id)
        if status is not None:
            q = q.where(t.alerts.c.status == status)
        with self._read() as conn:
            rows = list(conn.execute(q.order_by(t.alerts.c.as_of.desc(), t.alerts.c.id)).mappings())
        return [_alert(r) for r in rows]

    def get_alert(self, alert_id: str) -> Alert:
        """The alert whose id starts with `alert_id` (at least 6 characters).

        Raises:
            NotFoundError: no alert, or InputError when the prefix is ambiguous or too short.
        """
        if len(alert_id) < 6:
            raise InputError(f"alert id {alert_id!r} is too short: give at least 6 characters")
        q = select(t.alerts).where(t.alerts.c.id.startswith(alert_id, autoescape=True))
        with self._read() as conn:
            rows = list(conn.execute(q.limit(2)).mappings())
        if not rows:
            raise NotFoundError(f"no alert {alert_id!r}; see `sitewatch alerts list`")
        if len(rows) > 1:
            raise InputError(f"alert id {alert_id!r} is ambiguous; give more characters")
        return _alert(rows[0])

    def save_review(self, alert: Alert) -> None:
        """Record a review decision on a stored alert, keeping the history."""
        assert alert.reviewer is not None and alert.reviewed_at is not None
        with self._tx() as conn:
            conn.execute(
                update(t.alerts)
                .where(t.alerts.c.id == alert.id)
                .values(
                    status=alert.status.value,
                    reviewer=alert.reviewer,
                    note=alert.note,
                    reviewed_at=alert.reviewed_at,
                )
            )
            n = conn.execute(
                select(func.count()).where(t.alert_reviews.c.alert_id == alert.id)
            ).scalar_one()
            conn.execute(
                t.alert_reviews.insert().values(
                    alert_id=alert.id,
                    n=int(n) + 1,
                    status=alert.status.value,
                    reviewer=alert.reviewer,
                    note=alert.note,
                    at=alert.reviewed_at,
                )
            )

    def list_reviews(self, alert_id: str) -> list[tuple[str, str, str | None, datetime]]:
        """(status, reviewer, note, at) of each review of an alert, oldest first."""
        q = select(t.alert_reviews).where(t.alert_reviews.c.alert_id == alert_id)
        with self._read() as conn:
            rows = list(conn.execute(q.order_by(t.alert_reviews.c.n)).mappings())
        return [(r["status"], r["reviewer"], r["note"], r["at"]) for r in rows]

    def list_outbox(self, status: str | None = None) -> list[OutboxItem]:
        """Outbox items, oldest first."""
        q = select(t.outbox)
        if status is not None:
            q = q.where(t.outbox.c.status == status)
        with self._read() as conn:
            rows = list(conn.execute(q.order_by(t.outbox.c.created_at, t.outbox.c.id)).mappings())
        return [
            OutboxItem(
                r["id"],
                r["alert_id"],
                r["sink"],
                r["status"],
                r["attempts"],
                r["next_attempt_at"],
                r["last_error"],
                r["payload"],
            )
            for r in rows
        ]

    def update_outbox(
        self,
        item_id: str,
        status: str,
        attempts: int,
        next_attempt_at: datetime | None,
        last_error: str | None,
    ) -> None:
        """Record one delivery attempt."""
        with self._tx() as conn:
            conn.execute(
                update(t.outbox)
                .where(t.outbox.c.id == item_id)
                .values(
                    status=status,
                    attempts=attempts,
                    next_attempt_at=next_attempt_at,
                    last_error=last_error,
                    delivered_at=utc_now() if status == "delivered" else None,
                )
            )
