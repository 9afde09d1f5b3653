"""Indicator rule packs: the YAML document, its validation, and the validated pack; pure.

A pack (see examples/rules/) names indicators and signatures:

    pack: launch-preparation        # id
    version: 1.0.0
    alert_level: likely             # alert when an assessment reaches this level or higher
    cooldown_days: 14               # no second alert for a signature within this many days,
                                    # unless its level rises
    indicators:
      - id: vehicles-at-assembly
        zones: {kinds: [assembly]}  # zone kinds and/or zone ids
        metric: anomaly             # count | anomaly | changed_fraction | appeared | disappeared
        class: large_vehicle        # for count, anomaly, appeared, disappeared
        window_days: 14
        threshold: 0.95             # fires when the metric >= threshold (op: '<=' reverses)
        weight: 1.0                 # log-likelihood ratio added when it fires
    signatures:
      - id: launch-preparation
        name: Launch preparation
        prior: 0.1                  # probability before any evidence
        positive: [vehicles-at-assembly]
        negative: []
        includes: []                # other signatures whose indicators this one adds
        alternatives: [routine maintenance]

Every problem is a RuleError naming the pack, the rule and the field, raised at load time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sitewatch.core.analytics import Likelihood
from sitewatch.core.models import ObjectClass, ZoneKind
from sitewatch.errors import RuleError


class Metric(StrEnum):
    """What an indicator measures in its zones over its window."""

    COUNT = "count"
    ANOMALY = "anomaly"
    CHANGED_FRACTION = "changed_fraction"
    APPEARED = "appeared"
    DISAPPEARED = "disappeared"


CLASS_METRICS = {Metric.COUNT, Metric.ANOMALY, Metric.APPEARED, Metric.DISAPPEARED}


class ZoneSelector(BaseModel):
    """Which zones of a site an indicator looks at."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kinds: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()


class IndicatorDoc(BaseModel):
    """One indicator as written in the pack."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    id: str
    description: str = ""
    zones: ZoneSelector
    metric: str
    object_class: str | None = Field(default=None, alias="class")
    window_days: int
    threshold: float
    op: Literal[">=", "<="] = ">="
    weight: float = 1.0


class SignatureDoc(BaseModel):
    """One signature as written in the pack."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    name: str = ""
    prior: float = 0.1
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()


class PackDoc(BaseModel):
    """The whole pack document."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    pack: str
    version: str
    description: str = ""
    alert_level: str = "likely"
    cooldown_days: int = 14
    indicators: tuple[IndicatorDoc, ...]
    signatures: tuple[SignatureDoc, ...]


@dataclass(frozen=True)
class Indicator:
    """A validated indicator."""

    id: str
    description: str
    zone_kinds: tuple[ZoneKind, ...]
    zone_ids: tuple[str, ...]
    metric: Metric
    object_class: ObjectClass | None
    window_days: int
    threshold: float
    op: str
    weight: float


@dataclass(frozen=True)
class Signature:
    """A validated signature with its includes resolved into indicator ids."""

    id: str
    name: str
    prior: float
    positive: tuple[str, ...]
    negative: tuple[str, ...]
    alternatives: tuple[str, ...]


@dataclass(frozen=True)
class RulePack:
    """A validated, versioned rule pack."""

    id: str
    version: str
    description: str
    alert_level: Likelihood
    cooldown_days: int
    indicators: dict[str, Indicator]
    signatures: tuple[Signature, ...]

    @property
    def ref(self) -> str:
        """'pack@version', as recorded with assessments and alerts."""
        return f"{self.id}@{self.version}"


def _fail(name: str, rule: str, fld: str, problem: str) -> RuleError:
    return RuleError(f"rule pack {name}: {rule}: field '{fld}': {problem}")


def _choices(enum: type[StrEnum]) -> str:
    return ", ".join(e.value for e in enum)


def _indicator(name: str, doc: IndicatorDoc) -> Indicator:
    where = f"indicator '{doc.id}'"
    try:
        metric = Metric(doc.metric)
    except ValueError:
        raise _fail(
            name, where, "metric", f"unknown metric '{doc.metric}'; use one of {_choices(Metric)}"
        ) from None
    kinds = []
    for k in doc.zones.kinds:
        try:
            kinds.append(ZoneKind(k))
        except ValueError:
            raise _fail(
                name, where, "zones.kinds", f"unknown zone kind '{k}'; use {_choices(ZoneKind)}"
            ) from None
    if not kinds and not doc.zones.ids:
        raise _fail(name, where, "zones", "names no zone kind and no zone id")
    cls = None
    if doc.object_class is not None:
        try:
            cls = ObjectClass(doc.object_class)
        except ValueError:
            raise _fail(
                name,
                where,
                "class",
                f"unknown class '{doc.object_class}'; use {_choices(ObjectClass)}",
            ) from None
    if metric in CLASS_METRICS and cls is None:
        raise _fail(name, where, "class", f"metric '{metric}' needs a class")
    if metric not in CLASS_METRICS and cls is not None:
        raise _fail(name, where, "class", f"metric '{metric}' takes no class")
    t = doc.threshold
    bad = {
        Metric.ANOMALY: not 0 < t < 1,
        Metric.CHANGED_FRACTION: not 0 < t <= 1,
        Metric.COUNT: t < 0,
        Metric.APPEARED: t < 1,
        Metric.DISAPPEARED: t < 1,
    }[metric]
    if bad or t != t:
        ranges = {
            Metric.ANOMALY: "between 0 and 1 (exclusive)",
            Metric.CHANGED_FRACTION: "in (0, 1]",
            Metric.COUNT: ">= 0",
            Metric.APPEARED: ">= 1",
            Metric.DISAPPEARED: ">= 1",
        }
        raise _fail(name, where, "threshold", f"{t} is out of range: use {ranges[metric]}")
    if doc.window_days < 1:
        raise _fail(name, where, "window_days", f"{doc.window_days}: use a whole number >= 1")
    if not doc.weight > 0:
        raise _fail(name, where, "weight", f"{doc.weight}: use a number > 0")
    return Indicator(
        doc.id,
        doc.description,
        tuple(kinds),
        doc.zones.ids,
        metric,
        cls,
        doc.window_days,
        t,
        doc.op,
        doc.weight,
    )


def _resolve(
    name: str,
    sig: SignatureDoc,
    by_id: dict[str, SignatureDoc],
    stack: tuple[str, ...],
) -> tuple[list[str], list[str]]:
    if sig.id in stack:
        cycle = " -> ".join((*stack, sig.id))
        raise _fail(name, f"signature '{stack[0]}'", "includes", f"cycle {cycle}")
    pos, neg = list(sig.positive), list(sig.negative)
    for inc in sig.includes:
        if inc not in by_id:
            raise _fail(name, f"signature '{sig.id}'", "includes", f"unknown signature '{inc}'")
        p, n = _resolve(name, by_id[inc], by_id, (*stack, sig.id))
        pos += [i for i in p if i not in pos]
        neg += [i for i in n if i not in neg]
    return pos, neg


def parse_rule_pack(doc: Any, name: str) -> RulePack:
    """Validate a parsed YAML document into a RulePack.

    Raises:
        RuleError: naming the rule and the field.
    """
    try:
        pack = PackDoc.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = list(first["loc"])
        rule = "pack"
        if len(loc) >= 2 and loc[0] in ("indicators", "signatures") and isinstance(loc[1], int):
            items = (doc or {}).get(loc[0]) or []
            item = items[loc[1]] if loc[1] < len(items) else {}
            ident = item.get("id", f"#{loc[1] + 1}") if isinstance(item, dict) else f"#{loc[1]}"
            rule = f"{loc[0][:-1]} '{ident}'"
            loc = loc[2:]
        fld = ".".join(str(p) for p in loc) or "(document)"
        raise _fail(name, rule, fld, first["msg"]) from None
    try:
        level = Likelihood(pack.alert_level)
    except ValueError:
        raise _fail(
            name, "pack", "alert_level", f"'{pack.alert_level}'; use {_choices(Likelihood)}"
        ) from None
    if pack.cooldown_days < 0:
        raise _fail(name, "pack", "cooldown_days", f"{pack.cooldown_days}: use >= 0")
    indicators: dict[str, Indicator] = {}
    for d in pack.indicators:
        if d.id in indicators:
            raise _fail(name, f"indicator '{d.id}'", "id", "used twice")
        indicators[d.id] = _indicator(name, d)
    by_id: dict[str, SignatureDoc] = {}
    for s in pack.signatures:
        if s.id in by_id:
            raise _fail(name, f"signature '{s.id}'", "id", "used twice")
        by_id[s.id] = s
    signatures = []
    for s in pack.signatures:
        where = f"signature '{s.id}'"
        if not 0 < s.prior < 1:
            raise _fail(name, where, "prior", f"{s.prior}: use a probability between 0 and 1")
        for fld, ids in (("positive", s.positive), ("negative", s.negative)):
            for i in ids:
                if i not in indicators:
                    raise _fail(name, where, fld, f"unknown indicator '{i}'")
        pos, neg = _resolve(name, s, by_id, ())
        if not pos and not neg:
            raise _fail(name, where, "positive", "the signature has no indicator")
        signatures.append(
            Signature(s.id, s.name or s.id, s.prior, tuple(pos), tuple(neg), s.alternatives)
        )
    if not signatures:
        raise _fail(name, "pack", "signatures", "the pack has no signature")
    return RulePack(
        pack.pack,
        pack.version,
        pack.description,
        level,
        pack.cooldown_days,
        indicators,
        tuple(signatures),
    )
